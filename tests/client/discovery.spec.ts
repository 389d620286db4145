import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { attestWorker } from '../../agents/enclave/attestation';
import { DcapVerifier } from '../../agents/enclave/dcap';
import { quoteHashOf } from '../../agents/enclave/binding';
import { parseTdxQuote } from '../../agents/enclave/tdx-quote';
import { SimulatedEnclave, SimulatedVerifier } from '../../agents/enclave/simulated';
import { JournalStore } from '../../agents/store/store';
import { parseWorkerAttestation, verifyWorkerAttestation } from '../../agents/client/attestation';
import { AttestationVerificationError, WorkerNotGenuineError } from '../../agents/client/errors';
import { RootRegistry } from '../../agents/client/registry';
import { rootFor, TEE_TDX, workerFor } from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { devParams, GENESIS_TIME, MODEL_A, MODEL_B, priceList, REGISTRATION_EXTRA, snapshotOf } from '../helpers/cocoon';
import { tdxCollateral, tdxFixture, TDX_FIXTURE_NOW } from '../agents/helpers/fixtures';
import { attestationBody, ClientNetwork, createClientNetwork, registerAttestedWorker, WORKER_IMAGE } from './helpers';

jest.setTimeout(120_000);

const verifiers = [new SimulatedVerifier()];

describe('worker discovery from Root events and the Worker getters', () => {
    let net: ClientNetwork;
    let restore: () => Promise<void>;
    let dir: string;

    beforeAll(async () => {
        net = await createClientNetwork();
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(async () => {
        await restore();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-client-discovery-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('finds every registered worker, and later registrations on the next scan (durable cursor)', async () => {
        const alice = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const bob = await registerAttestedWorker(net, await net.blockchain.treasury('bob'), { slot: 3n });
        const store = JournalStore.open(join(dir, 'client.journal'));
        const registry = new RootRegistry(net.chain, net.root.address, { store });
        const first = (await registry.discover()).map((a) => a.toRawString()).sort();
        expect(first).toEqual([alice.address, bob.address].map((a) => a.toRawString()).sort());

        const carol = await registerAttestedWorker(net, await net.blockchain.treasury('carol'));
        expect((await registry.discover()).map((a) => a.toRawString())).toContain(carol.address.toRawString());
        store.close();

        // A restarted client resumes from its cursor and still knows all three.
        const reopened = JournalStore.open(join(dir, 'client.journal'));
        expect(await new RootRegistry(net.chain, net.root.address, { store: reopened }).discover()).toHaveLength(3);
        reopened.close();

        // Without a store the whole history is paged: the same answer.
        expect(await new RootRegistry(net.chain, net.root.address).discover()).toHaveLength(3);
    });

    it("reads a worker's on-chain record: keys, measurement, quote hash, prices, stats", async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'), {
            prices: priceList([
                [MODEL_A, 1000n, 2000n],
                [MODEL_B, 5n, 7n],
            ]),
        });
        const record = await new RootRegistry(net.chain, net.root.address).readWorker(w.address);
        expect(record.owner.equals(w.owner.address)).toBe(true);
        expect(record.effectiveStatus).toBe(2);
        expect(record.signingKey.equals(w.bundle.signingKey)).toBe(true);
        expect(record.encryptionKey.equals(w.bundle.encryptionKey)).toBe(true);
        expect(record.measurement.equals(w.enclave.measurement)).toBe(true);
        expect(record.quoteHash.equals(quoteHashOf(w.bundle.evidence))).toBe(true);
        expect(record.prices.get(MODEL_B.toString(16).padStart(64, '0'))).toEqual({ prompt: 5n, completion: 7n });
        expect(record.stats.jobsCompleted).toBe(0n);
    });

    it('refuses an address that is not a deployed Worker contract', async () => {
        const stranger = await net.blockchain.treasury('stranger');
        await expect(new RootRegistry(net.chain, net.root.address).readWorker(stranger.address)).rejects.toThrow(WorkerNotGenuineError);
    });

    it('refuses a real Worker of another Root (it would take a deposit outside this network)', async () => {
        const otherRoot = net.blockchain.openContract(await rootFor(net.governance.address, 7n));
        await otherRoot.send(net.governance.getSender(), { value: toNano('2') }, { $$type: 'SetParams', queryId: 0n, params: devParams() });
        await otherRoot.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'AddModel', queryId: 0n, model: MODEL_A, flags: 0n });
        const owner = await net.blockchain.treasury('mallory');
        const measurement = new SimulatedEnclave({ imageName: WORKER_IMAGE }).measurement;
        await otherRoot.send(net.governance.getSender(), { value: toNano('0.05') }, {
            $$type: 'AddMeasurement',
            queryId: 0n,
            measurement: BigInt('0x' + measurement.toString('hex')),
            teeType: 2n,
        });
        const foreign = await registerAttestedWorker({ ...net, root: otherRoot }, owner);
        expect(foreign.address.equals((await workerFor(otherRoot.address, owner.address, 0n)).address)).toBe(true);
        const registry = new RootRegistry(net.chain, net.root.address);
        await expect(registry.readWorker(foreign.address)).rejects.toThrow(/says its Root is/);
        await expect(registry.assertGenuine(foreign.address, owner.address, 0n)).rejects.toThrow(/is not Worker\(root/);
        // ...and it never shows up among this Root's workers.
        expect((await registry.discover()).some((a) => a.equals(foreign.address))).toBe(false);
    });
});

describe("attestation evidence is checked against Root's allow-lists and the worker's on-chain record", () => {
    let net: ClientNetwork;
    let restore: () => Promise<void>;

    beforeAll(async () => {
        net = await createClientNetwork();
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(() => restore());

    async function check(body: Record<string, unknown>, address = body.worker as string, options: { refuseSimulated?: boolean } = {}) {
        const registry = new RootRegistry(net.chain, net.root.address);
        const record = await registry.readWorker(Address.parse(address));
        const root = await registry.readRoot(true);
        return verifyWorkerAttestation(parseWorkerAttestation(body, address), record, root, { verifiers, now: await net.chain.now(), ...options });
    }

    async function refusal(promise: Promise<unknown>): Promise<AttestationVerificationError> {
        const error = await promise.then(
            () => undefined,
            (e) => e,
        );
        expect(error).toBeInstanceOf(AttestationVerificationError);
        return error as AttestationVerificationError;
    }

    it('accepts a genuine simulated worker and returns its keys and on-chain prices', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const verified = await check(attestationBody(net, w));
        expect(verified.signingKey.equals(w.bundle.signingKey)).toBe(true);
        expect(verified.models.get(MODEL_A.toString(16).padStart(64, '0'))).toEqual({ name: 'tiny-a', prompt: 1000n, completion: 2000n });
        expect(verified.evidenceExpiresAt).toBe(w.bundle.issuedAt + Number(net.params.attestationTtl));
    });

    it('refuses evidence from another enclave (keys not in the Worker contract)', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const impostor = new SimulatedEnclave({ imageName: WORKER_IMAGE });
        const bundle = await attestWorker(impostor, w.address, w.bundle.issuedAt);
        const body = attestationBody(net, { ...w, bundle });
        expect((await refusal(check(body))).reason).toBe('keys-mismatch');
    });

    it('refuses evidence whose REPORTDATA does not bind the keys it presents', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const body = attestationBody(net, w, { encryptionKey: Buffer.alloc(32, 9).toString('hex') });
        expect((await refusal(check(body))).reason).toBe('report-data-mismatch');
    });

    it('refuses a measurement governance removed from the allow-list', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, {
            $$type: 'RemoveMeasurement',
            queryId: 0n,
            measurement: BigInt('0x' + w.enclave.measurement.toString('hex')),
        });
        expect((await refusal(check(attestationBody(net, w)))).reason).toBe('measurement-not-allowed');
    });

    it('refuses evidence that is not the quote the contract recorded', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const fresh = await attestWorker(w.enclave, w.address, w.bundle.issuedAt + 60);
        expect((await refusal(check(attestationBody(net, { ...w, bundle: fresh })))).reason).toBe('quote-mismatch');
    });

    it('refuses advertised prices that differ from the on-chain prices', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const body = attestationBody(net, w);
        (body.models as { promptPrice: string }[])[0].promptPrice = '1';
        expect((await refusal(check(body))).reason).toBe('prices-mismatch');
    });

    it('refuses evidence naming another worker, and a body that is not an attestation', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        const other = await registerAttestedWorker(net, await net.blockchain.treasury('bob'));
        const body = attestationBody(net, w);
        expect((await refusal(check(body, other.address.toString()))).reason).toBe('record-mismatch');
        expect((await refusal(check({ ...body, version: 2 }))).reason).toBe('malformed-attestation');
        expect((await refusal(check({ ...body, evidence: '' }))).reason).toBe('malformed-attestation');
    });

    it('refuses a simulated enclave where the client forbids them (mainnet), and once the attestation expired', async () => {
        const w = await registerAttestedWorker(net, await net.blockchain.treasury('alice'));
        expect((await refusal(check(attestationBody(net, w), undefined, { refuseSimulated: true }))).reason).toBe('simulated-tee-not-allowed');
        net.blockchain.now = GENESIS_TIME + Number(net.params.attestationTtl) + 1;
        const error = await refusal(check(attestationBody(net, w)));
        expect(error.reason).toBe('not-serving');
        expect(error.message).toMatch(/jailed/);
    });

    it('checks TDX evidence with DCAP: a real quote that binds other keys is refused on REPORTDATA', async () => {
        const quote = tdxFixture('tdx_quote');
        const parsed = parseTdxQuote(quote);
        // The collateral is valid around TDX_FIXTURE_NOW only, so the verdict is taken at that
        // time (the chain itself cannot go back before its genesis).
        await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, {
            $$type: 'AddMeasurement',
            queryId: 0n,
            measurement: BigInt('0x' + parsed.measurement.toString('hex')),
            teeType: TEE_TDX,
        });
        const owner = await net.blockchain.treasury('tdx-owner');
        const address = (await workerFor(net.root.address, owner.address, 0n)).address;
        const keys = { signingKey: Buffer.alloc(32, 1), encryptionKey: Buffer.alloc(32, 2) };
        await net.root.send(owner.getSender(), { value: net.params.minWorkerStake + REGISTRATION_EXTRA }, {
            $$type: 'RegisterWorker',
            queryId: 1n,
            slot: 0n,
            stake: net.params.minWorkerStake,
            claim: {
                $$type: 'AttestationClaim',
                signingKey: publicKeyToInt(keys.signingKey),
                encryptionKey: publicKeyToInt(keys.encryptionKey),
                teeType: TEE_TDX,
                measurement: BigInt('0x' + parsed.measurement.toString('hex')),
                quoteHash: BigInt('0x' + quoteHashOf(quote).toString('hex')),
            },
            endpoint: 'http://127.0.0.1:9/',
            capacity: 1n,
            prices: priceList([[MODEL_A, 1n, 1n]]),
        });
        const body = {
            version: 1,
            worker: address.toString(),
            owner: owner.address.toString(),
            root: net.root.address.toString(),
            slot: '0',
            teeType: 'tdx',
            evidence: quote.toString('base64'),
            issuedAt: TDX_FIXTURE_NOW - 10,
            signingKey: keys.signingKey.toString('hex'),
            encryptionKey: keys.encryptionKey.toString('hex'),
            models: [],
            limits: { maxPromptBytes: 1000, maxTokens: 10 },
        };
        const registry = new RootRegistry(net.chain, net.root.address);
        const record = await registry.readWorker(address);
        const root = await registry.readRoot(true);
        const dcap = new DcapVerifier({ collateral: tdxCollateral('tdx_quote'), acceptedTcbStatuses: ['UpToDate', 'OutOfDate', 'ConfigurationNeeded', 'SWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded'] });
        const error = await refusal(verifyWorkerAttestation(parseWorkerAttestation(body, address.toString()), record, root, { verifiers: [dcap], now: TDX_FIXTURE_NOW }));
        expect(error.reason).toBe('report-data-mismatch');
        // Without a DCAP verifier configured, TDX evidence is refused outright.
        const none = await refusal(verifyWorkerAttestation(parseWorkerAttestation(body, address.toString()), record, root, { verifiers, now: TDX_FIXTURE_NOW }));
        expect(none.reason).toBe('unsupported-tee');
    });
});

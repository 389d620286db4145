import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { AuditorHandle, ReviewLogEntry } from '../../agents/auditor/agent';
import { attestationEvidenceHash } from '../../agents/auditor/review';
import { readBodyHead } from '../../agents/chain/decoders';
import { ChainUnavailableError } from '../../agents/chain/errors';
import { Chain } from '../../agents/chain/types';
import { Wallet } from '../../agents/chain/wallet';
import { attestWorker } from '../../agents/enclave/attestation';
import { quoteHashOf } from '../../agents/enclave/binding';
import { SimulatedEnclave } from '../../agents/enclave/simulated';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { AttestationClaim, parseVerdict, TEE_SIMULATED, VERDICT_ATTESTATION_OK, WORKER_STATUS_ACTIVE, WORKER_STATUS_JAILED, WORKER_STATUS_PENDING, workerFor } from '../../wrappers';
import { Cell } from '@ton/core';
import { priceList } from '../helpers/cocoon';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, workerConfig } from '../worker-agent/helpers';
import { auditorConfig, balanceOf, evidenceServer, freePort, startAuditorOn, workerInfo } from './helpers';

jest.setTimeout(120_000);

const AUDIT_VERDICT_OP = 0x52000011;

/** AuditVerdict messages Root received from `from`. */
async function verdictsSentBy(world: SandboxWorld, from: Address): Promise<Cell[]> {
    const txs = await world.chain.getTransactions(world.net.root.address, { limit: 100 });
    return txs
        .filter((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(from) && readBodyHead(tx.inMessage.body).op === AUDIT_VERDICT_OP)
        .map((tx) => tx.inMessage!.body);
}

/** The reviews of one worker in a pass (the auditor also sees the other tests' workers). */
function about(ran: ReviewLogEntry[], worker: Address): ReviewLogEntry[] {
    return ran.filter((entry) => entry.worker === worker.toString());
}

describe('auditor agent: attestation reviews of registered and renewed workers', () => {
    let world: SandboxWorld;
    let dirs: string[] = [];
    let agents: WorkerAgentHandle[] = [];
    let auditors: AuditorHandle[] = [];

    const dir = (name: string) => {
        const d = tempDir(name);
        dirs.push(d);
        return d;
    };
    /** A worker agent on a known port, registered with Root (Pending: Root needs one approval). */
    const startWorker = async (options: { enclave?: SimulatedEnclave; port?: number; dataDir?: string; wallet?: Wallet } = {}) => {
        const port = options.port ?? (await freePort());
        const wallet = options.wallet ?? (await fundedWallet(world.net));
        const config = workerConfig(world, options.dataDir ?? dir('worker'), { http: { port, publicUrl: `http://127.0.0.1:${port}` } });
        const agent = await startAgent(world, config, wallet, options.enclave ? { enclave: options.enclave } : {});
        agents.push(agent);
        return { agent, wallet, port, dataDir: config.dataDir };
    };
    const startAuditor = async (keyIndexes = [0], overrides: Record<string, unknown> = {}, wallet?: Wallet, extra = {}) => {
        const w = wallet ?? (await fundedWallet(world.net, toNano('10')));
        const auditor = await startAuditorOn(world, auditorConfig(world, dir('auditor'), keyIndexes.map((i) => world.net.auditors[i]), overrides), w, extra);
        auditors.push(auditor);
        return { auditor, wallet: w };
    };

    beforeAll(async () => {
        world = await sandboxWorld({ attestationApprovals: 1n });
    });
    afterEach(async () => {
        for (const a of auditors) await a.stop();
        for (const a of agents) await a.stop();
        auditors = [];
        agents = [];
        for (const d of dirs) removeDir(d);
        dirs = [];
    });
    afterAll(async () => {
        await world?.engine.close();
    });

    it('approves a pending worker whose evidence verifies, with one verdict, paying only gas', async () => {
        const { agent } = await startWorker();
        expect((await workerInfo(world, agent.worker)).status).toBe(WORKER_STATUS_PENDING);
        const { auditor, wallet } = await startAuditor();
        const stakeBefore = (await workerInfo(world, agent.worker)).stake;
        const rootBefore = await balanceOf(world, world.net.root.address);
        const walletBefore = await balanceOf(world, wallet.address);

        const ran = about(await auditor.tick(), agent.worker);
        expect(ran).toEqual([expect.objectContaining({ outcome: 'ok', verdict: 'attestation-ok' })]);
        const info = await workerInfo(world, agent.worker);
        expect(info.status).toBe(WORKER_STATUS_ACTIVE);
        expect(info.attestation.attested).toBe(true);
        expect(info.attestationExpiry).toBe(BigInt(await world.chain.now()) + world.net.params.attestationTtl);
        // No money moved but gas: the stake and Root's balance are untouched, the excess came back.
        expect(info.stake).toBe(stakeBefore);
        expect(await balanceOf(world, world.net.root.address)).toBe(rootBefore);
        const spent = walletBefore - (await balanceOf(world, wallet.address));
        expect(spent).toBeGreaterThan(0n);
        expect(spent).toBeLessThan(toNano('0.05'));

        const sent = await verdictsSentBy(world, wallet.address);
        expect(sent).toHaveLength(1);
        const verdict = parseVerdict(sent[0].beginParse().skip(32 + 64).loadRef());
        expect(verdict.kind).toBe(VERDICT_ATTESTATION_OK);
        expect(verdict.target.equals(agent.worker)).toBe(true);
        expect(verdict.subject).toBe(info.attestation.claim.quoteHash);
        const served = (await (await fetch(`${agent.url}/v1/attestation`)).json()) as { evidence: string; issuedAt: number };
        expect(verdict.evidenceHash).toBe(attestationEvidenceHash(Buffer.from(served.evidence, 'base64'), served.issuedAt));

        // Nothing left to do: a second pass sends nothing.
        const seqno = await wallet.getSeqno(world.chain);
        expect(about(await auditor.tick(), agent.worker)).toEqual([]);
        expect(await wallet.getSeqno(world.chain)).toBe(seqno);
        const listed = (await (await fetch(`${auditor.url}/v1/verdicts`)).json()) as { verdicts: { kind: string; status: string }[] };
        expect(listed.verdicts).toEqual([expect.objectContaining({ kind: 'attestation-ok', status: 'sent' })]);
    });

    it('rejects evidence signed by a dev attestation key this network does not trust: the worker is jailed, its stake untouched', async () => {
        const rogue = new SimulatedEnclave({ attestationSeed: randomBytes(32) });
        const { agent } = await startWorker({ enclave: rogue });
        const { auditor } = await startAuditor();
        const stake = (await workerInfo(world, agent.worker)).stake;
        const ran = about(await auditor.tick(), agent.worker);
        expect(ran).toEqual([expect.objectContaining({ outcome: 'bad', reason: 'untrusted-attestation-key', verdict: 'attestation-bad' })]);
        const info = await workerInfo(world, agent.worker);
        expect(info.status).toBe(WORKER_STATUS_JAILED);
        expect(info.attestation.rejected).toBe(true);
        expect(info.stake).toBe(stake);
        expect(about(await auditor.tick(), agent.worker)).toEqual([]);
    });

    it('rejects evidence from a debug enclave', async () => {
        const { agent } = await startWorker({ enclave: new SimulatedEnclave({ debug: true }) });
        const { auditor } = await startAuditor();
        expect(about(await auditor.tick(), agent.worker)).toEqual([expect.objectContaining({ outcome: 'bad', reason: 'debug-enclave' })]);
        expect((await workerInfo(world, agent.worker)).status).toBe(WORKER_STATUS_JAILED);
    });

    it('rejects evidence that has outlived the attestation TTL', async () => {
        const { agent } = await startWorker();
        const { auditor } = await startAuditor();
        // Chain time only moves forward: the later tests run after this jump.
        world.net.blockchain.now = world.net.blockchain.now! + Number(world.net.params.attestationTtl) + 1;
        expect(about(await auditor.tick(), agent.worker)).toEqual([expect.objectContaining({ outcome: 'bad', reason: 'evidence-expired' })]);
        expect((await workerInfo(world, agent.worker)).attestation.rejected).toBe(true);
    });

    it('rejects a quote whose REPORTDATA binds other keys than the Worker contract records', async () => {
        // A worker registered by hand: its claim names keys A, the evidence it serves binds keys B.
        const owner = await world.net.blockchain.treasury(`owner-${randomBytes(4).toString('hex')}`);
        const worker = (await workerFor(world.net.root.address, owner.address, 0n)).address;
        const claimed = new SimulatedEnclave();
        const other = new SimulatedEnclave();
        const bundle = await attestWorker(other, worker, await world.chain.now());
        const server = await evidenceServer(() => ({
            version: 1,
            worker: worker.toString(),
            owner: owner.address.toString(),
            root: world.net.root.address.toString(),
            slot: '0',
            teeType: 'simulated',
            evidence: bundle.evidence.toString('base64'),
            issuedAt: bundle.issuedAt,
            signingKey: claimed.publicKeys.signingKey.toString('hex'),
            encryptionKey: claimed.publicKeys.encryptionKey.toString('hex'),
            models: [],
            limits: { maxPromptBytes: 1024, maxTokens: 16 },
        }));
        try {
            const big = (b: Buffer) => BigInt('0x' + b.toString('hex'));
            const claim: AttestationClaim = {
                $$type: 'AttestationClaim',
                signingKey: big(claimed.publicKeys.signingKey),
                encryptionKey: big(claimed.publicKeys.encryptionKey),
                teeType: TEE_SIMULATED,
                measurement: big(claimed.measurement),
                quoteHash: big(quoteHashOf(bundle.evidence)),
            };
            await world.net.root.send(
                owner.getSender(),
                { value: toNano('10.5') },
                { $$type: 'RegisterWorker', queryId: 0n, slot: 0n, stake: toNano('10'), claim, endpoint: server.url, capacity: 1n, prices: priceList([[world.model, 1n, 1n]]) },
            );
            expect((await workerInfo(world, worker)).status).toBe(WORKER_STATUS_PENDING);
            const { auditor } = await startAuditor();
            expect(about(await auditor.tick(), worker)).toEqual([expect.objectContaining({ outcome: 'bad', reason: 'report-data-mismatch' })]);
            expect((await workerInfo(world, worker)).status).toBe(WORKER_STATUS_JAILED);
        } finally {
            await server.close();
        }
    });

    it('sends no verdict while the worker is unreachable or serves other evidence than it claims, and approves once it serves the claimed quote', async () => {
        const { agent, port, wallet: owner, dataDir } = await startWorker();
        const claimed = (await workerInfo(world, agent.worker)).attestation.claim.quoteHash;
        await agent.stop();
        agents = agents.filter((a) => a !== agent);
        const { auditor, wallet } = await startAuditor();
        const seqno = await wallet.getSeqno(world.chain);

        expect(about(await auditor.tick(), agent.worker)).toEqual([expect.objectContaining({ outcome: 'retry', reason: 'unreachable' })]);
        // Fresh evidence of the same enclave is other evidence than the contract's quote.
        const fresh = await attestWorker(agent.enclave, agent.worker, (await world.chain.now()) + 1);
        expect(quoteHashOf(fresh.evidence).equals(Buffer.from(claimed.toString(16).padStart(64, '0'), 'hex'))).toBe(false);
        const server = await evidenceServer(
            () => ({
                version: 1,
                worker: agent.worker.toString(),
                owner: owner.address.toString(),
                root: world.net.root.address.toString(),
                slot: '0',
                teeType: 'simulated',
                evidence: fresh.evidence.toString('base64'),
                issuedAt: fresh.issuedAt,
                signingKey: fresh.signingKey.toString('hex'),
                encryptionKey: fresh.encryptionKey.toString('hex'),
                models: [],
                limits: { maxPromptBytes: 1024, maxTokens: 16 },
            }),
            port,
        );
        try {
            await new Promise((r) => setTimeout(r, 15));
            expect(about(await auditor.tick(), agent.worker)).toEqual([expect.objectContaining({ outcome: 'retry', reason: 'evidence-not-claimed' })]);
        } finally {
            await server.close();
        }
        expect(await wallet.getSeqno(world.chain)).toBe(seqno);
        expect((await workerInfo(world, agent.worker)).status).toBe(WORKER_STATUS_PENDING);
        expect(auditor.queued()).toContain(agent.worker.toString());

        // The worker comes back (same keys, same evidence): approved.
        const back = await startWorker({ port, wallet: owner, dataDir });
        await new Promise((r) => setTimeout(r, 15));
        expect(about(await auditor.tick(), back.agent.worker)).toEqual([expect.objectContaining({ outcome: 'ok', verdict: 'attestation-ok' })]);
        expect((await workerInfo(world, back.agent.worker)).status).toBe(WORKER_STATUS_ACTIVE);
    });

    it('reviews a renewed attestation (new enclave keys) and approves the new quote', async () => {
        const first = await startWorker();
        const { auditor } = await startAuditor();
        expect(about(await auditor.tick(), first.agent.worker)).toEqual([expect.objectContaining({ outcome: 'ok' })]);
        const before = await workerInfo(world, first.agent.worker);
        expect(before.status).toBe(WORKER_STATUS_ACTIVE);
        await first.agent.stop();
        agents = agents.filter((a) => a !== first.agent);
        // Same owner and slot, a new data dir: new enclave keys, so the agent renews its attestation.
        const renewed = await startWorker({ port: first.port, wallet: first.wallet });
        expect(renewed.agent.registration.actions).toContain('renewed');
        const pending = await workerInfo(world, renewed.agent.worker);
        expect(pending.status).toBe(WORKER_STATUS_PENDING);
        expect(pending.attestation.claim.quoteHash).not.toBe(before.attestation.claim.quoteHash);

        expect(about(await auditor.tick(), renewed.agent.worker)).toEqual([expect.objectContaining({ outcome: 'ok', verdict: 'attestation-ok' })]);
        const after = await workerInfo(world, renewed.agent.worker);
        expect(after.status).toBe(WORKER_STATUS_ACTIVE);
        expect(after.attestation.claim.signingKey).toBe(BigInt('0x' + renewed.agent.enclave.publicKeys.signingKey.toString('hex')));
    });

    it('after a crash between signing and sending, resends the same verdict once instead of signing another', async () => {
        const { agent } = await startWorker();
        const wallet = await fundedWallet(world.net, toNano('10'));
        // The same chain, except that nothing sent reaches it (the process "crashes" after signing).
        const cut = new Proxy(world.chain, {
            get(target, property) {
                if (property === 'sendExternal') {
                    return async () => {
                        throw new ChainUnavailableError('the network is down (test)');
                    };
                }
                const value = Reflect.get(target, property, target);
                return typeof value === 'function' ? value.bind(target) : value;
            },
        }) as Chain;
        const dataDir = dir('auditor-crash');
        const config = auditorConfig(world, dataDir, [world.net.auditors[0]]);
        const crashed = await startAuditorOn(world, config, wallet, { chain: cut, senderOptions: { pollIntervalMs: 5, rebroadcastIntervalMs: 20, timeoutMs: 200, retry: { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 1 } } });
        expect(about(await crashed.tick(), agent.worker)).toEqual([expect.objectContaining({ outcome: 'retry', reason: 'error' })]);
        const signed = crashed.submitter.records().filter((r) => r.target === agent.worker.toRawString());
        expect(signed).toEqual([expect.objectContaining({ status: 'signed' })]);
        await crashed.stop();
        expect(await verdictsSentBy(world, wallet.address)).toHaveLength(0);

        const restarted = await startAuditorOn(world, config, wallet);
        auditors.push(restarted);
        expect((await workerInfo(world, agent.worker)).status).toBe(WORKER_STATUS_ACTIVE);
        const sent = await verdictsSentBy(world, wallet.address);
        expect(sent).toHaveLength(1);
        expect(sent[0].beginParse().skip(32 + 64).loadRef().hash().equals(Cell.fromBoc(signed[0].verdict)[0].hash())).toBe(true);
        await restarted.tick();
        expect(await verdictsSentBy(world, wallet.address)).toHaveLength(1);
    });
});

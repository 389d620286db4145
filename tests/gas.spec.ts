// Gas of every Root and Worker operation, checked against tests/gas-snapshot/root-worker.json
// (more than 5% growth fails; GAS_SNAPSHOT_UPDATE=1 rewrites it). docs/gas.md explains the figures.
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, toNano } from '@ton/core';
import '@ton/test-utils';
import { auditVerdictBody, publicKeyToInt, signReceipt, VerdictKind, Worker } from '../wrappers';
import {
    claimOf,
    createNetwork,
    devParams,
    MODEL_A,
    MODEL_B,
    Network,
    newEnclaveKeys,
    nowOf,
    priceList,
    registerWorker,
    RegisteredWorker,
} from './helpers/cocoon';
import { GasSnapshot, traceGas, txOn } from './helpers/gas';

const gas = new GasSnapshot('root-worker');

function expiryFrom(net: Network, seconds = 3600): bigint {
    return nowOf(net) + BigInt(seconds);
}

describe('gas of Root and Worker operations', () => {
    let net: Network;
    let gov: SandboxContract<TreasuryContract>;
    let owner: SandboxContract<TreasuryContract>;
    let registered: RegisteredWorker;
    let worker: SandboxContract<Worker>;

    beforeAll(async () => {
        net = await createNetwork({ auditors: 3 });
        gov = net.governance;
        owner = await net.blockchain.treasury('owner');
    });

    afterAll(() => gas.verify());

    it('governance operations', async () => {
        const g = gov.getSender();
        const v = { value: toNano('0.05') };
        const root = net.root;
        gas.record('Root.SetParams', txOn(await root.send(g, v, { $$type: 'SetParams', queryId: 0n, params: devParams({ minWorkerStake: toNano('10') }) }), root.address));
        gas.record('Root.AddMeasurement', txOn(await root.send(g, v, { $$type: 'AddMeasurement', queryId: 0n, measurement: 77n, teeType: 1n }), root.address));
        gas.record('Root.RemoveMeasurement', txOn(await root.send(g, v, { $$type: 'RemoveMeasurement', queryId: 0n, measurement: 77n }), root.address));
        gas.record('Root.AddModel', txOn(await root.send(g, v, { $$type: 'AddModel', queryId: 0n, model: 78n, flags: 0n }), root.address));
        gas.record('Root.RemoveModel', txOn(await root.send(g, v, { $$type: 'RemoveModel', queryId: 0n, model: 78n }), root.address));
        gas.record('Root.AddAuditor', txOn(await root.send(g, v, { $$type: 'AddAuditor', queryId: 0n, key: 79n }), root.address));
        gas.record('Root.RemoveAuditor', txOn(await root.send(g, v, { $$type: 'RemoveAuditor', queryId: 0n, key: 79n }), root.address));
        gas.record('Root.SetQuorum', txOn(await root.send(g, v, { $$type: 'SetQuorum', queryId: 0n, quorum: 1n }), root.address));
        const next = await net.blockchain.treasury('next-governance');
        gas.record('Root.ProposeOwner', txOn(await root.send(g, v, { $$type: 'ProposeOwner', queryId: 0n, newOwner: next.address }), root.address));
        gas.record('Root.AcceptOwner', txOn(await root.send(next.getSender(), v, { $$type: 'AcceptOwner', queryId: 0n }), root.address));
        await root.send(next.getSender(), v, { $$type: 'ProposeOwner', queryId: 0n, newOwner: gov.address });
        await root.send(g, v, { $$type: 'AcceptOwner', queryId: 0n });
        gas.record('Root.Pause', txOn(await root.send(g, v, { $$type: 'Pause', queryId: 0n }), root.address));
        gas.record('Root.Unpause', txOn(await root.send(g, v, { $$type: 'Unpause', queryId: 0n }), root.address));
        gas.record('Root.ProtocolFee', txOn(await root.send(owner.getSender(), { value: toNano('1') }, { $$type: 'ProtocolFee', amount: toNano('1') }), root.address));
        gas.record('Root.WithdrawFees', txOn(await root.send(g, v, { $$type: 'WithdrawFees', queryId: 0n, amount: toNano('0.5'), to: gov.address }), root.address));
        expect((await root.getState()).owner.equals(gov.address)).toBe(true);
    });

    it('RegisterWorker', async () => {
        registered = await registerWorker(net, owner, { prices: priceList([[MODEL_A, 1n, 2n], [MODEL_B, 3n, 4n]]) });
        worker = registered.worker;
        expect(await worker.getStatus()).toBe(2n);
        gas.record('Root.RegisterWorker', txOn(registered.result, net.root.address));
        gas.record('Worker.WorkerDeploy', txOn(registered.result, worker.address));
        gas.record('RegisterWorker (whole trace)', traceGas(registered.result));
    });

    it('AuditVerdict with k = 1 and k = 3', async () => {
        const relayer = await net.blockchain.treasury('relayer');
        for (const k of [1, 3]) {
            // a fresh quote each round, so the verdict applies (RenewAttestation with approvals 0 keeps it Active)
            await net.root.send(gov.getSender(), { value: toNano('0.05') }, { $$type: 'SetParams', queryId: 0n, params: devParams({ attestationApprovals: BigInt(k) }) });
            const keys = newEnclaveKeys();
            await worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });
            const renew = await worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(keys) });
            if (k === 1) {
                gas.record('Worker.RenewAttestation', txOn(renew, worker.address, 0));
                gas.record('Root.CheckAttestation', txOn(renew, net.root.address));
                gas.record('Worker.AttestationChecked', txOn(renew, worker.address, 1));
            }
            expect(await worker.getStatus()).toBe(1n);
            const body = auditVerdictBody(
                { kind: VerdictKind.AttestationOk, target: worker.address, subject: keys.quoteHash, evidenceHash: 0n, expiry: expiryFrom(net) },
                net.auditors.slice(0, k),
            );
            const result = await net.root.send(relayer.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 0n, ...body });
            expect(await worker.getStatus()).toBe(2n);
            gas.record(`Root.AuditVerdict k=${k}`, txOn(result, net.root.address));
            gas.record(`Worker.AttestationVerdict k=${k}`, txOn(result, worker.address));
        }
    });

    it('owner operations', async () => {
        const o = owner.getSender();
        gas.record('Worker.AddStake', txOn(await worker.send(o, { value: toNano('2') }, { $$type: 'AddStake', queryId: 0n, amount: toNano('1') }), worker.address));
        gas.record('Worker.SetEndpoint', txOn(await worker.send(o, { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://gpu-7.example/v1', capacity: 8n }), worker.address));
        const prices = await worker.send(o, { value: toNano('0.1') }, { $$type: 'SetPrices', queryId: 0n, prices: priceList([[MODEL_A, 5n, 6n], [MODEL_B, 7n, 8n]]) });
        gas.record('Worker.SetPrices', txOn(prices, worker.address, 0));
        gas.record('Root.CheckPrices', txOn(prices, net.root.address));
        gas.record('Worker.PricesChecked', txOn(prices, worker.address, 1));
        const sync = await worker.send(o, { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });
        gas.record('Worker.SyncParams', txOn(sync, worker.address, 0));
        gas.record('Root.RequestParams', txOn(sync, net.root.address));
        gas.record('Worker.ParamsUpdate', txOn(sync, worker.address, 1));
    });

    it('ProveEquivocation', async () => {
        const other = await net.blockchain.treasury('other-owner');
        const { worker: w, keys } = await registerWorker(net, other, { slot: 1n });
        const channel = Address.parse('EQD__________________________________________0vo');
        const base = { channel, seq: 5n, model: MODEL_A, inputHash: 1n, promptTokens: 10n, completionTokens: 20n };
        const a = signReceipt({ ...base, resultHash: 100n }, keys.signing.seed);
        const b = signReceipt({ ...base, resultHash: 200n }, keys.signing.seed);
        const reporter = await net.blockchain.treasury('reporter');
        const result = await w.send(reporter.getSender(), { value: toNano('0.1') }, {
            $$type: 'ProveEquivocation',
            queryId: 0n,
            first: a.cell,
            firstSignature: a.signature,
            second: b.cell,
            secondSignature: b.signature,
        });
        expect(await w.getStatus()).toBe(6n);
        gas.record('Worker.ProveEquivocation', txOn(result, w.address));
        gas.record('Root.SlashProceeds', txOn(result, net.root.address));
        expect(publicKeyToInt(keys.signing.publicKey)).toBe((await w.getInfo()).attestation.claim.signingKey);
    });

    it('RequestUnbond and Withdraw', async () => {
        const o = owner.getSender();
        gas.record('Worker.RequestUnbond', txOn(await worker.send(o, { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n }), worker.address));
        net.blockchain.now = Number((await worker.getInfo()).unbondAt);
        const result = await worker.send(o, { value: toNano('0.05') }, { $$type: 'Withdraw', queryId: 0n });
        expect(await worker.getStatus()).toBe(5n);
        gas.record('Worker.Withdraw', txOn(result, worker.address));
    });
});

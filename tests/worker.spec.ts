// Worker: registration, attestation verdicts, owner operations, unbonding, equivocation.
// One describe per receiver: success path, then every refusal (exit code, no money moved but the
// bounce), state transitions with time travel, and the invariants of issue 2.
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, toNano } from '@ton/core';
import '@ton/test-utils';
import fc from 'fast-check';
import {
    auditVerdictBody,
    ERR_ALREADY_ATTESTED,
    ERR_ALREADY_REJECTED,
    ERR_BAD_AMOUNT,
    ERR_BAD_SIGNATURE,
    ERR_ENDPOINT_TOO_LONG,
    ERR_LOW_VALUE,
    ERR_MEASUREMENT_NOT_ALLOWED,
    ERR_MODEL_NOT_ALLOWED,
    ERR_NOT_EQUIVOCATION,
    ERR_NOT_OWNER,
    ERR_NOT_ROOT,
    ERR_NOTHING_TO_WITHDRAW,
    ERR_SAME_QUOTE,
    ERR_SUBJECT_MISMATCH,
    ERR_TOMBSTONED,
    ERR_TOO_MANY_MODELS,
    ERR_UNBONDING_NOT_DUE,
    ERR_WRONG_STATUS,
    eventsOfAll,
    eventsOfType,
    publicKeyToInt,
    ReceiptFields,
    signReceipt,
    storeAttestationChecked,
    storeAttestationVerdict,
    storePricesChecked,
    storeParams,
    storeParamsUpdate,
    storeWorkerDeploy,
    TEE_SIMULATED,
    VerdictKind,
    Worker,
    WORKER_STATUS_ACTIVE,
    WORKER_STATUS_EXITED,
    WORKER_STATUS_JAILED,
    WORKER_STATUS_PENDING,
    WORKER_STATUS_TOMBSTONED,
    WORKER_STATUS_UNBONDING,
    WORKER_STORAGE_RESERVE,
} from '../wrappers';
import { ed25519FromSeed } from '../agents/core/ed25519';
import {
    claimOf,
    createNetwork,
    devParams,
    EnclaveKeys,
    MODEL_A,
    MODEL_B,
    Network,
    newEnclaveKeys,
    nowOf,
    priceList,
    registerWorker,
    snapshotOf,
} from './helpers/cocoon';
import { balanceOf, expectNothingSentTo, expectRefused, receivedBy, txsOn } from './helpers/assertions';

const CHANNEL = Address.parse('EQD__________________________________________0vo');

function receiptPair(keys: EnclaveKeys, first: Partial<ReceiptFields> = {}, second: Partial<ReceiptFields> = {}) {
    const base: ReceiptFields = { channel: CHANNEL, seq: 7n, model: MODEL_A, inputHash: 11n, resultHash: 100n, promptTokens: 10n, completionTokens: 20n };
    return {
        a: signReceipt({ ...base, ...first }, keys.signing.seed),
        b: signReceipt({ ...base, resultHash: 200n, ...second }, keys.signing.seed),
    };
}

describe('Worker', () => {
    let net: Network;
    let restore: () => Promise<void>;
    let owner: SandboxContract<TreasuryContract>;
    let stranger: SandboxContract<TreasuryContract>;
    let worker: SandboxContract<Worker>;
    let keys: EnclaveKeys;

    beforeAll(async () => {
        net = await createNetwork({ auditors: 3 });
        owner = await net.blockchain.treasury('owner');
        stranger = await net.blockchain.treasury('stranger');
        const registered = await registerWorker(net, owner, { stake: toNano('20') });
        worker = registered.worker;
        keys = registered.keys;
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(async () => restore());

    const ownerSend = (body: Parameters<Worker['send']>[3], value = toNano('0.1')) => worker.send(owner.getSender(), { value }, body);
    const setParams = (params = devParams()) =>
        net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'SetParams', queryId: 0n, params });
    const sync = () => worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });

    describe('WorkerDeploy (registration)', () => {
        it('records stake, claim, offer and params; keeps stake + reserve; returns the rest to the owner', async () => {
            const info = await worker.getInfo();
            expect(info).toMatchObject({ status: WORKER_STATUS_ACTIVE, stake: toNano('20'), capacity: 4n, endpoint: 'https://worker.example/v1', paramsVersion: 1n, rootPaused: false });
            expect(info.attestation.claim).toEqual(claimOf(keys));
            expect(info.attestationExpiry).toBe(nowOf(net) + net.params.attestationTtl);
            expect((await worker.getPrices()).get(MODEL_A)).toMatchObject({ prompt: 1000n, completion: 2000n });
            expect(await worker.getParams()).toEqual(net.params);
            const balance = await balanceOf(net.blockchain, worker.address);
            expect(balance).toBe(toNano('20') + WORKER_STORAGE_RESERVE);
            expect(await worker.getServing()).toBe(true);
        });

        it('is Pending when auditors must approve (attestationApprovals > 0)', async () => {
            await setParams(devParams({ attestationApprovals: 1n }));
            const { worker: w } = await registerWorker(net, owner, { slot: 1n });
            const info = await w.getInfo();
            expect(info.status).toBe(WORKER_STATUS_PENDING);
            expect(info.attestationExpiry).toBe(0n);
            expect(await w.getServing()).toBe(false);
        });

        it('refuses a WorkerDeploy that does not come from Root', async () => {
            const body = beginCell()
                .store(storeWorkerDeploy({
                    $$type: 'WorkerDeploy', queryId: 0n, stake: toNano('100'), claim: claimOf(newEnclaveKeys()), endpoint: '', capacity: 1n,
                    prices: priceList([]), params: beginCell().store(storeParams(net.params)).endCell(), paramsVersion: 9n, paused: false,
                }))
                .endCell();
            const result = await stranger.send({ to: worker.address, value: toNano('30'), body });
            expectRefused(result, worker.address, Number(ERR_NOT_ROOT));
            expect(await worker.getStake()).toBe(toNano('20'));
        });
    });

    describe('AttestationVerdict (from Root)', () => {
        let pendingNet: Network;
        let restorePending: () => Promise<void>;
        let pending: SandboxContract<Worker>;
        let pendingKeys: EnclaveKeys;
        let pendingOwner: SandboxContract<TreasuryContract>;
        let relayer: SandboxContract<TreasuryContract>;

        beforeAll(async () => {
            pendingNet = await createNetwork({ auditors: 3, params: devParams({ attestationApprovals: 1n }) });
            pendingOwner = await pendingNet.blockchain.treasury('owner');
            relayer = await pendingNet.blockchain.treasury('relayer');
            const r = await registerWorker(pendingNet, pendingOwner, { stake: toNano('20') });
            pending = r.worker;
            pendingKeys = r.keys;
            restorePending = await snapshotOf(pendingNet.blockchain);
        });
        beforeEach(async () => restorePending());

        const verdict = (kind: bigint, subject = pendingKeys.quoteHash, target: Address = pending.address) => {
            const body = auditVerdictBody({ kind, target, subject, evidenceHash: 0n, expiry: nowOf(pendingNet) + 600n }, [pendingNet.auditors[0]]);
            return pendingNet.root.send(relayer.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 0n, ...body });
        };

        it('AttestationOk: Pending -> Active, attested until now + attestationTtl; events StatusChanged and AttestationApproved', async () => {
            const result = await verdict(VerdictKind.AttestationOk);
            const info = await pending.getInfo();
            expect(info.status).toBe(WORKER_STATUS_ACTIVE);
            expect(info.attestationExpiry).toBe(nowOf(pendingNet) + pendingNet.params.attestationTtl);
            expect(info.attestation.attested).toBe(true);
            const events = eventsOfAll(result.transactions);
            expect(eventsOfType(events, 'StatusChanged')[0]).toMatchObject({ from: WORKER_STATUS_PENDING, to: WORKER_STATUS_ACTIVE });
            expect(eventsOfType(events, 'AttestationApproved')[0].quoteHash).toBe(pendingKeys.quoteHash);
        });

        it('expiry: an Active worker whose attestation has expired reports Jailed and stops serving', async () => {
            await verdict(VerdictKind.AttestationOk);
            const expiry = (await pending.getInfo()).attestationExpiry;
            pendingNet.blockchain.now = Number(expiry) - 1;
            expect(await pending.getEffectiveStatus()).toBe(WORKER_STATUS_ACTIVE);
            expect(await pending.getServing()).toBe(true);
            pendingNet.blockchain.now = Number(expiry);
            expect(await pending.getEffectiveStatus()).toBe(WORKER_STATUS_JAILED);
            expect(await pending.getServing()).toBe(false);
        });

        it('AttestationBad: jails the worker for this quote; only a new quote gets it out', async () => {
            const result = await verdict(VerdictKind.AttestationBad);
            expect(await pending.getStatus()).toBe(WORKER_STATUS_JAILED);
            expect(eventsOfType(eventsOfAll(result.transactions), 'AttestationRejected')).toHaveLength(1);
            // an Ok verdict for the rejected quote is refused
            const ok = await verdict(VerdictKind.AttestationOk);
            expect(ok.transactions).toHaveTransaction({ to: pending.address, success: false, exitCode: Number(ERR_ALREADY_REJECTED) });
            // renewal with a fresh quote -> Pending, then Ok -> Active
            const fresh = newEnclaveKeys();
            await pending.send(pendingOwner.getSender(), { value: toNano('0.1') }, { $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(fresh) });
            expect(await pending.getStatus()).toBe(WORKER_STATUS_PENDING);
            await verdict(VerdictKind.AttestationOk, fresh.quoteHash);
            expect(await pending.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        });

        it('refuses a replayed AttestationOk, a verdict for another quote, and a second AttestationBad', async () => {
            await verdict(VerdictKind.AttestationOk);
            expect((await verdict(VerdictKind.AttestationOk)).transactions).toHaveTransaction({ to: pending.address, success: false, exitCode: Number(ERR_ALREADY_ATTESTED) });
            expect((await verdict(VerdictKind.AttestationOk, 0xdeadn)).transactions).toHaveTransaction({ to: pending.address, success: false, exitCode: Number(ERR_SUBJECT_MISMATCH) });
            await verdict(VerdictKind.AttestationBad);
            expect((await verdict(VerdictKind.AttestationBad)).transactions).toHaveTransaction({ to: pending.address, success: false, exitCode: Number(ERR_ALREADY_REJECTED) });
        });

        it('refuses a verdict while unbonding, and any AttestationVerdict not sent by Root', async () => {
            await pending.send(pendingOwner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n });
            expect((await verdict(VerdictKind.AttestationOk)).transactions).toHaveTransaction({ to: pending.address, success: false, exitCode: Number(ERR_WRONG_STATUS) });
            const body = beginCell()
                .store(storeAttestationVerdict({
                    $$type: 'AttestationVerdict', queryId: 0n, excessesTo: relayer.address,
                    verdict: { $$type: 'Verdict', kind: VerdictKind.AttestationOk, target: pending.address, subject: pendingKeys.quoteHash, evidenceHash: 0n, expiry: nowOf(pendingNet) + 600n },
                }))
                .endCell();
            const forged = await relayer.send({ to: pending.address, value: toNano('0.1'), body });
            expectRefused(forged, pending.address, Number(ERR_NOT_ROOT));
        });
    });

    describe('SyncParams -> ParamsUpdate', () => {
        it('mirrors Root params, version and pause flag; the caller gets the excess', async () => {
            await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'Pause', queryId: 0n });
            const result = await sync();
            const info = await worker.getInfo();
            expect(info).toMatchObject({ paramsVersion: 2n, rootPaused: true });
            expect(await worker.getServing()).toBe(false);
            expect(eventsOfType(eventsOfAll(result.transactions), 'ParamsSynced')[0]).toMatchObject({ paramsVersion: 2n, paused: true });
            expect(receivedBy(result, stranger.address, worker.address)).toBeGreaterThan(toNano('0.08'));
        });

        it('jails an Active worker whose stake falls below a raised minimum, and frees it when lowered again', async () => {
            await setParams(devParams({ minWorkerStake: toNano('25') }));
            await sync();
            expect(await worker.getStatus()).toBe(WORKER_STATUS_JAILED);
            await setParams(devParams({ minWorkerStake: toNano('20') }));
            await sync();
            expect(await worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        });

        it('refuses AttestationChecked and PricesChecked not sent by Root', async () => {
            const checked = beginCell()
                .store(storeAttestationChecked({
                    $$type: 'AttestationChecked', queryId: 0n, claim: claimOf(newEnclaveKeys()), paramsVersion: 5n, paused: false,
                    params: beginCell().store(storeParams(net.params)).endCell(),
                }))
                .endCell();
            expectRefused(await stranger.send({ to: worker.address, value: toNano('0.1'), body: checked }), worker.address, Number(ERR_NOT_ROOT));
            const prices = beginCell().store(storePricesChecked({ $$type: 'PricesChecked', queryId: 0n, prices: priceList([[0x77n, 1n, 1n]]) })).endCell();
            expectRefused(await stranger.send({ to: worker.address, value: toNano('0.1'), body: prices }), worker.address, Number(ERR_NOT_ROOT));
            expect((await worker.getInfo()).attestation.claim).toEqual(claimOf(keys));
            expect((await worker.getPrices()).has(0x77n)).toBe(false);
        });

        it('refuses too little value and a ParamsUpdate not sent by Root', async () => {
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.05') - 1n }, { $$type: 'SyncParams', queryId: 0n }), worker.address, Number(ERR_LOW_VALUE));
            const body = beginCell()
                .store(storeParamsUpdate({
                    $$type: 'ParamsUpdate', queryId: 0n, paramsVersion: 99n, paused: true, excessesTo: stranger.address,
                    params: beginCell().store(storeParams(devParams({ minWorkerStake: toNano('1000') }))).endCell(),
                }))
                .endCell();
            const forged = await stranger.send({ to: worker.address, value: toNano('0.1'), body });
            expect((await worker.getInfo()).paramsVersion).toBe(1n);
            expectRefused(forged, worker.address, Number(ERR_NOT_ROOT));
        });
    });

    describe('AddStake', () => {
        it('adds exactly the amount to stake and balance, and returns the rest', async () => {
            const before = await balanceOf(net.blockchain, worker.address);
            const result = await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('3') }, toNano('3.1'));
            expect(await worker.getStake()).toBe(toNano('23'));
            expect(await balanceOf(net.blockchain, worker.address)).toBe(before + toNano('3'));
            expect(eventsOfType(eventsOfAll(result.transactions), 'StakeAdded')[0]).toMatchObject({ amount: toNano('3'), stake: toNano('23') });
            expect(receivedBy(result, owner.address, worker.address)).toBeGreaterThan(toNano('0.08'));
        });

        it('frees a worker jailed for low stake once the stake is back at the minimum', async () => {
            await setParams(devParams({ minWorkerStake: toNano('25') }));
            await sync();
            expect(await worker.getStatus()).toBe(WORKER_STATUS_JAILED);
            await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('4') }, toNano('4.1'));
            expect(await worker.getStatus()).toBe(WORKER_STATUS_JAILED);
            await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('1') }, toNano('1.1'));
            expect(await worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        });

        it('refuses a stranger, a zero amount, value below amount + 0.02 TON, and an unbonding worker', async () => {
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('2') }, { $$type: 'AddStake', queryId: 0n, amount: toNano('1') }), worker.address, Number(ERR_NOT_OWNER));
            expectRefused(await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: 0n }), worker.address, Number(ERR_BAD_AMOUNT));
            expectRefused(await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('1') }, toNano('1.02') - 1n), worker.address, Number(ERR_LOW_VALUE));
            await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            expectRefused(await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('1') }, toNano('1.1')), worker.address, Number(ERR_WRONG_STATUS));
            expect(await worker.getStake()).toBe(toNano('20'));
        });
    });

    describe('SetEndpoint', () => {
        it('sets endpoint and capacity, emitting EndpointChanged', async () => {
            const result = await ownerSend({ $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://gpu-2.example', capacity: 16n });
            expect(await worker.getInfo()).toMatchObject({ endpoint: 'https://gpu-2.example', capacity: 16n });
            expect(eventsOfType(eventsOfAll(result.transactions), 'EndpointChanged')[0]).toMatchObject({ endpoint: 'https://gpu-2.example', capacity: 16n });
        });

        it('refuses a stranger, an endpoint over 127 bytes, and an exited worker', async () => {
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'x', capacity: 1n }), worker.address, Number(ERR_NOT_OWNER));
            expectRefused(await ownerSend({ $$type: 'SetEndpoint', queryId: 0n, endpoint: 'y'.repeat(128), capacity: 1n }), worker.address, Number(ERR_ENDPOINT_TOO_LONG));
            await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            net.blockchain.now = Number((await worker.getInfo()).unbondAt);
            await ownerSend({ $$type: 'Withdraw', queryId: 0n });
            expectRefused(await ownerSend({ $$type: 'SetEndpoint', queryId: 0n, endpoint: 'x', capacity: 1n }), worker.address, Number(ERR_WRONG_STATUS));
        });
    });

    describe('SetPrices (owner -> Worker -> Root CheckPrices -> Worker)', () => {
        it('replaces the price list once Root has checked every model', async () => {
            const result = await ownerSend({ $$type: 'SetPrices', queryId: 0n, prices: priceList([[MODEL_A, 5n, 6n], [MODEL_B, 7n, 8n]]) });
            const prices = await worker.getPrices();
            expect(prices.size).toBe(2);
            expect(prices.get(MODEL_B)).toMatchObject({ prompt: 7n, completion: 8n });
            expect(eventsOfType(eventsOfAll(result.transactions), 'PricesChanged')[0].models).toBe(2n);
        });

        it('a model Root does not allow: Root refuses, the value returns to the owner, prices stay', async () => {
            const before = await owner.getBalance();
            const result = await ownerSend({ $$type: 'SetPrices', queryId: 5n, prices: priceList([[0x99n, 1n, 1n]]) });
            expect(result.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: Number(ERR_MODEL_NOT_ALLOWED) });
            expect(eventsOfType(eventsOfAll(result.transactions), 'UpdateRefused')[0].queryId).toBe(5n);
            expect((await worker.getPrices()).get(MODEL_A)).toMatchObject({ prompt: 1000n });
            expect(before - (await owner.getBalance())).toBeLessThan(toNano('0.03'));
        });

        it('more than 16 models is refused by Root; a stranger is refused by the Worker', async () => {
            const entries: [bigint, bigint, bigint][] = Array.from({ length: 17 }, (_, i) => [BigInt(i + 1), 1n, 1n]);
            for (const [model] of entries) {
                await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'AddModel', queryId: 0n, model, flags: 0n });
            }
            const result = await ownerSend({ $$type: 'SetPrices', queryId: 0n, prices: priceList(entries) });
            expect(result.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: Number(ERR_TOO_MANY_MODELS) });
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SetPrices', queryId: 0n, prices: priceList([]) }), worker.address, Number(ERR_NOT_OWNER));
        });
    });

    describe('RenewAttestation (owner -> Worker -> Root CheckAttestation -> Worker)', () => {
        it('with approvals 0 the new quote is active at once; the old signing key is kept for equivocation proofs', async () => {
            const fresh = newEnclaveKeys();
            const result = await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(fresh) });
            const info = await worker.getInfo();
            expect(info.status).toBe(WORKER_STATUS_ACTIVE);
            expect(info.attestation.claim).toEqual(claimOf(fresh));
            expect(info.attestation.previousSigningKey).toBe(publicKeyToInt(keys.signing.publicKey));
            expect(eventsOfType(eventsOfAll(result.transactions), 'AttestationRenewed')).toHaveLength(1);
        });

        it('with approvals > 0 the worker goes back to Pending until auditors approve the new quote', async () => {
            await setParams(devParams({ attestationApprovals: 1n }));
            await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys()) });
            const info = await worker.getInfo();
            expect(info).toMatchObject({ status: WORKER_STATUS_PENDING, attestationExpiry: 0n, paramsVersion: 2n });
        });

        it('a measurement Root does not allow: refused by Root, value back to the owner, record unchanged', async () => {
            const result = await ownerSend({ $$type: 'RenewAttestation', queryId: 8n, claim: claimOf(newEnclaveKeys(), TEE_SIMULATED, 0x1111n) });
            expect(result.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: Number(ERR_MEASUREMENT_NOT_ALLOWED) });
            expect(eventsOfType(eventsOfAll(result.transactions), 'UpdateRefused')[0].queryId).toBe(8n);
            expect((await worker.getInfo()).attestation.claim).toEqual(claimOf(keys));
        });

        it('refuses the current quote again, a stranger, and an unbonding worker', async () => {
            expectRefused(await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(keys) }), worker.address, Number(ERR_SAME_QUOTE));
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys()) }), worker.address, Number(ERR_NOT_OWNER));
            await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            expectRefused(await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys()) }), worker.address, Number(ERR_WRONG_STATUS));
        });
    });

    describe('RequestUnbond / Withdraw', () => {
        it('unbonds, then pays the whole stake to the owner exactly at unbondAt (not a second earlier)', async () => {
            const unbond = await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            const info = await worker.getInfo();
            expect(info.status).toBe(WORKER_STATUS_UNBONDING);
            expect(info.unbondAt).toBe(nowOf(net) + net.params.unbondingDelay);
            expect(eventsOfType(eventsOfAll(unbond.transactions), 'UnbondRequested')[0].unbondAt).toBe(info.unbondAt);
            net.blockchain.now = Number(info.unbondAt) - 1;
            const early = await ownerSend({ $$type: 'Withdraw', queryId: 0n });
            expectRefused(early, worker.address, Number(ERR_UNBONDING_NOT_DUE));
            expect(await worker.getStake()).toBe(toNano('20'));
            net.blockchain.now = Number(info.unbondAt);
            const result = await ownerSend({ $$type: 'Withdraw', queryId: 0n }, toNano('0.05'));
            expect(receivedBy(result, owner.address, worker.address)).toBeGreaterThan(toNano('20.04'));
            expect(await worker.getStatus()).toBe(WORKER_STATUS_EXITED);
            expect(await worker.getStake()).toBe(0n);
            expect(eventsOfType(eventsOfAll(result.transactions), 'StakeWithdrawn')[0].amount).toBe(toNano('20'));
            const left = await balanceOf(net.blockchain, worker.address);
            expect(left).toBeLessThanOrEqual(WORKER_STORAGE_RESERVE);
            expect(left).toBeGreaterThan(WORKER_STORAGE_RESERVE - toNano('0.01'));
        });

        it('refuses Withdraw without unbonding, twice, and from a stranger; RequestUnbond twice', async () => {
            expectRefused(await ownerSend({ $$type: 'Withdraw', queryId: 0n }), worker.address, Number(ERR_WRONG_STATUS));
            await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            expectRefused(await ownerSend({ $$type: 'RequestUnbond', queryId: 0n }), worker.address, Number(ERR_WRONG_STATUS));
            net.blockchain.now = Number((await worker.getInfo()).unbondAt);
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'Withdraw', queryId: 0n }), worker.address, Number(ERR_NOT_OWNER));
            await ownerSend({ $$type: 'Withdraw', queryId: 0n });
            expectRefused(await ownerSend({ $$type: 'Withdraw', queryId: 0n }), worker.address, Number(ERR_WRONG_STATUS));
            expectRefused(await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n }), worker.address, Number(ERR_NOT_OWNER));
        });
    });

    describe('ProveEquivocation', () => {
        const prove = (a: ReturnType<typeof signReceipt>, b: ReturnType<typeof signReceipt>, from = stranger, value = toNano('0.1')) =>
            worker.send(from.getSender(), { value }, { $$type: 'ProveEquivocation', queryId: 2n, first: a.cell, firstSignature: a.signature, second: b.cell, secondSignature: b.signature });

        it('slashes equivocationSlashBps of the stake, rewards the reporter, sends the rest to Root, tombstones', async () => {
            const { a, b } = receiptPair(keys);
            const rootBefore = (await net.root.getState()).feesReceived;
            const result = await prove(a, b);
            const slashed = (toNano('20') * net.params.equivocationSlashBps) / 10000n;
            const reward = (slashed * net.params.reporterRewardBps) / 10000n;
            expect(await worker.getStake()).toBe(toNano('20') - slashed);
            expect(await worker.getStatus()).toBe(WORKER_STATUS_TOMBSTONED);
            expect(result.transactions).toHaveTransaction({ from: worker.address, to: net.root.address, value: slashed - reward, success: true });
            expect((await net.root.getState()).feesReceived - rootBefore).toBe(slashed - reward);
            // the reporter gets the reward plus its unused value
            const toReporter = receivedBy(result, stranger.address, worker.address);
            expect(toReporter).toBeGreaterThan(reward + toNano('0.05'));
            expect(toReporter).toBeLessThan(reward + toNano('0.1'));
            const [event] = eventsOfType(eventsOfAll(result.transactions), 'EquivocationProven');
            expect(event).toMatchObject({ seq: 7n, slashed, reward });
            expect(event.channel.equals(CHANNEL) && event.reporter.equals(stranger.address)).toBe(true);
            expect(await worker.getStats()).toMatchObject({ slashCount: 1n, totalSlashed: slashed });
            expect(nothingElseReceived(result)).toBe(true);
            // the owner is paid nothing
            expectNothingSentTo(result, owner.address);

            function nothingElseReceived(r: typeof result): boolean {
                return r.transactions.every((t) => {
                    const dest = t.inMessage?.info.dest;
                    return !(dest instanceof Address) || [worker.address, net.root.address, stranger.address].some((x) => x.equals(dest));
                });
            }
        });

        it('an offence is slashed once: a second proof (even a different pair) is refused', async () => {
            const { a, b } = receiptPair(keys);
            await prove(a, b);
            const stake = await worker.getStake();
            expectRefused(await prove(a, b), worker.address, Number(ERR_TOMBSTONED));
            const other = receiptPair(keys, { seq: 8n }, { seq: 8n });
            expectRefused(await prove(other.a, other.b), worker.address, Number(ERR_TOMBSTONED));
            expect(await worker.getStake()).toBe(stake);
        });

        it('refuses identical receipts, different jobs (seq or channel), bad signatures and too little value', async () => {
            const { a, b } = receiptPair(keys);
            expectRefused(await prove(a, a), worker.address, Number(ERR_NOT_EQUIVOCATION));
            const seqs = receiptPair(keys, {}, { seq: 8n });
            expectRefused(await prove(seqs.a, seqs.b), worker.address, Number(ERR_NOT_EQUIVOCATION));
            const channels = receiptPair(keys, {}, { channel: stranger.address });
            expectRefused(await prove(channels.a, channels.b), worker.address, Number(ERR_NOT_EQUIVOCATION));
            const outsider = ed25519FromSeed(Buffer.alloc(32, 9));
            const forged = signReceipt({ channel: CHANNEL, seq: 7n, model: MODEL_A, inputHash: 11n, resultHash: 300n, promptTokens: 10n, completionTokens: 20n }, outsider.seed);
            expectRefused(await prove(a, forged), worker.address, Number(ERR_BAD_SIGNATURE));
            expectRefused(await prove(a, { ...b, signature: a.signature }), worker.address, Number(ERR_BAD_SIGNATURE));
            expectRefused(await prove(a, b, stranger, toNano('0.05') - 1n), worker.address, Number(ERR_LOW_VALUE));
            expect(await worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
            expect(await worker.getStake()).toBe(toNano('20'));
        });

        it('accepts receipts signed with the key before the last rotation', async () => {
            const { a, b } = receiptPair(keys);
            await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys()) });
            await prove(a, b);
            expect(await worker.getStatus()).toBe(WORKER_STATUS_TOMBSTONED);
        });

        it('a tombstoned worker keeps what is left of its stake until a full unbonding delay has passed', async () => {
            const { a, b } = receiptPair(keys);
            await prove(a, b);
            const info = await worker.getInfo();
            expect(info.unbondAt).toBe(nowOf(net) + net.params.unbondingDelay);
            expectRefused(await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: toNano('1') }, toNano('1.1')), worker.address, Number(ERR_WRONG_STATUS));
            expectRefused(await ownerSend({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys()) }), worker.address, Number(ERR_WRONG_STATUS));
            expectRefused(await ownerSend({ $$type: 'Withdraw', queryId: 0n }), worker.address, Number(ERR_UNBONDING_NOT_DUE));
            net.blockchain.now = Number(info.unbondAt);
            const result = await ownerSend({ $$type: 'Withdraw', queryId: 0n });
            expect(receivedBy(result, owner.address, worker.address)).toBeGreaterThan(info.stake);
            expect(await worker.getStatus()).toBe(WORKER_STATUS_TOMBSTONED);
            expectRefused(await ownerSend({ $$type: 'Withdraw', queryId: 0n }), worker.address, Number(ERR_NOTHING_TO_WITHDRAW));
        });

        it('refuses a proof against an exited worker', async () => {
            await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
            net.blockchain.now = Number((await worker.getInfo()).unbondAt);
            await ownerSend({ $$type: 'Withdraw', queryId: 0n });
            const { a, b } = receiptPair(keys);
            expectRefused(await prove(a, b), worker.address, Number(ERR_WRONG_STATUS));
        });
    });

    describe('bad input', () => {
        it('refuses an unknown opcode (130), an empty body (130) and a truncated body (9)', async () => {
            expectRefused(await stranger.send({ to: worker.address, value: toNano('0.1'), body: beginCell().storeUint(0x57ffffff, 32).endCell() }), worker.address, 130);
            expectRefused(await stranger.send({ to: worker.address, value: toNano('0.1') }), worker.address, 130);
            expectRefused(await stranger.send({ to: worker.address, value: toNano('0.1'), body: beginCell().storeUint(0x57000010, 32).storeUint(0, 16).endCell() }), worker.address, 9);
            expect(await worker.getStake()).toBe(toNano('20'));
        });
    });

    describe('invariants', () => {
        type Op =
            | { kind: 'addStake'; amount: bigint }
            | { kind: 'unbond' }
            | { kind: 'withdraw' }
            | { kind: 'wait'; seconds: number }
            | { kind: 'equivocate'; seq: bigint }
            | { kind: 'raiseMin'; stake: bigint };
        const opArb: fc.Arbitrary<Op> = fc.oneof(
            fc.record({ kind: fc.constant('addStake' as const), amount: fc.bigInt(1n, toNano('5')) }),
            fc.record({ kind: fc.constant('unbond' as const) }),
            fc.record({ kind: fc.constant('withdraw' as const) }),
            fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 6 * 3600 }) }),
            fc.record({ kind: fc.constant('equivocate' as const), seq: fc.bigInt(1n, 3n) }),
            fc.record({ kind: fc.constant('raiseMin' as const), stake: fc.bigInt(toNano('1'), toNano('30')) }),
        );

        it('a slash never exceeds the stake; an offence is slashed once; stake never leaves before unbondAt; the balance always backs the stake', async () => {
            await fc.assert(
                fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 10 }), async (ops) => {
                    await restore();
                    let slashes = 0;
                    for (const op of ops) {
                        const before = await worker.getInfo();
                        const stats = await worker.getStats();
                        let result;
                        if (op.kind === 'addStake') result = await ownerSend({ $$type: 'AddStake', queryId: 0n, amount: op.amount }, op.amount + toNano('0.1'));
                        else if (op.kind === 'unbond') result = await ownerSend({ $$type: 'RequestUnbond', queryId: 0n });
                        else if (op.kind === 'withdraw') result = await ownerSend({ $$type: 'Withdraw', queryId: 0n });
                        else if (op.kind === 'raiseMin') {
                            await setParams(devParams({ minWorkerStake: op.stake, timeoutSlash: 1n }));
                            result = await sync();
                        } else if (op.kind === 'wait') {
                            net.blockchain.now = (net.blockchain.now ?? 0) + op.seconds;
                            continue;
                        } else {
                            const pair = receiptPair(keys, { seq: op.seq }, { seq: op.seq });
                            result = await worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'ProveEquivocation', queryId: 0n, first: pair.a.cell, firstSignature: pair.a.signature, second: pair.b.cell, secondSignature: pair.b.signature });
                        }
                        const after = await worker.getInfo();
                        const afterStats = await worker.getStats();
                        const slashed = afterStats.totalSlashed - stats.totalSlashed;
                        // a slash never exceeds the stake it was taken from
                        expect(slashed).toBeGreaterThanOrEqual(0n);
                        expect(slashed).toBeLessThanOrEqual(before.stake);
                        if (slashed > 0n) slashes++;
                        // one offence, one slash: the worker is tombstoned after the first
                        expect(slashes).toBeLessThanOrEqual(1);
                        // stake leaves (to the owner) only once unbondAt has passed
                        const paidToOwner = receivedBy(result, owner.address, worker.address);
                        if (after.stake < before.stake - slashed) {
                            expect(before.unbondAt).toBeGreaterThan(0n);
                            expect(nowOf(net)).toBeGreaterThanOrEqual(before.unbondAt);
                            expect(paidToOwner).toBeGreaterThanOrEqual(before.stake - slashed);
                        }
                        // the contract's balance always backs the stake and the reserve
                        expect(await balanceOf(net.blockchain, worker.address)).toBeGreaterThanOrEqual(after.stake + (after.stake > 0n ? WORKER_STORAGE_RESERVE - toNano('0.01') : 0n));
                        expect(txsOn(result, worker.address).length).toBeGreaterThan(0);
                    }
                }),
                { numRuns: 30, seed: 424242 },
            );
        });
    });
});

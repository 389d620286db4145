// Bounces: every bounceable value-carrying message of the protocol made to bounce (its receiver
// broken, i.e. an empty account, or refusing for real, or, where the network offers no way to
// make it fail, a fabricated bounce). After each: the books are restored, every party's value is
// conserved up to fees (exactly), and nothing but the bounce moved.
import { Address, beginCell, toNano } from '@ton/core';
import { createEmptyShardAccount, internal, SendMessageResult } from '@ton/sandbox';
import * as W from '../../wrappers';
import { auditVerdictBody } from '../../wrappers/signed';
import { Rejector } from '../../build/TestFixtures/TestFixtures_Rejector';
import { claimOf, newEnclaveKeys, priceList, snapshotOf } from '../helpers/cocoon';
import { operationValuesOf, postJob, receiptFor, settle } from '../helpers/channel';
import { signReceipt } from '../../wrappers/signed';
import { createSecurityNet, dataHash, expectBooks, feesOfTxs, partiesOf, SecurityNet, sumOf } from './fixture';
import { Tally } from './record';

const tally = new Tally('bounces');
let s: SecurityNet;
let restore: () => Promise<void>;

beforeAll(async () => {
    s = await createSecurityNet();
    restore = await snapshotOf(s.blockchain);
}, 120_000);
beforeEach(async () => restore());
afterAll(() => tally.write());

const breakAccount = (a: Address) => s.blockchain.setShardAccount(a, createEmptyShardAccount(a));

/** Runs `act`; checks exact conservation over the parties (plus `extra`), that a bounce of `op` reached `to`, and the books. */
async function bounced(opcode: bigint, to: Address, act: () => Promise<SendMessageResult>, extra: Address[] = [], injected = 0n): Promise<SendMessageResult> {
    const parties = [...partiesOf(s), ...extra];
    const before = await sumOf(s.blockchain, parties);
    const result = await act();
    const bounce = result.transactions.find((tx) => {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || !info.bounced || !info.dest.equals(to)) return false;
        const body = tx.inMessage!.body.beginParse();
        body.skip(32);
        return (body.remainingBits >= 32 ? body.loadUintBig(32) : 0n) === opcode;
    });
    expect(bounce).toBeDefined();
    for (const tx of result.transactions) {
        const dest = tx.inMessage?.info.dest;
        if (dest instanceof Address) expect(parties.some((p) => p.equals(dest))).toBe(true);
    }
    expect(before + injected - (await sumOf(s.blockchain, parties))).toBe(feesOfTxs(result.transactions));
    await expectBooks(s);
    tally.add('bounces');
    tally.add('invariantChecks', 3);
    return result;
}

describe('every bounceable value-carrying message, bounced', () => {
    it('Channel -> Worker OpenChannel: the client gets its whole deposit back, the channel holds nothing', async () => {
        const client3 = await s.blockchain.treasury('client 3');
        await breakAccount(s.workerA.worker.address);
        const c3 = s.blockchain.openContract(await W.channelFor(s.root.address, client3.address, s.workerA.worker.address));
        await bounced(0x57000020n, c3.address, () => c3.send(client3.getSender(), { value: toNano('3') + W.OPEN_FEE }, { $$type: 'Open', queryId: 0n, clientKey: 5n }), [client3.address, c3.address]);
        expect((await c3.getState()).status).toBe(W.CHANNEL_CLOSED);
        expect((await s.blockchain.getContract(c3.address)).balance).toBe(0n);
    });

    it('Channel -> Worker JobExpired: the job stays expired, the client\'s money unlocked', async () => {
        const values = await operationValuesOf(s.channel.channel);
        s.blockchain.now = s.blockchain.now! + 700;
        await breakAccount(s.workerA.worker.address);
        await bounced(0x57000023n, s.channel.channel.address, () => s.channel.channel.send(s.stranger.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: s.jobSeq }));
        expect((await s.channel.channel.getState()).locked).toBe(0n);
    });

    it('Channel -> Worker FaultSlash: the client\'s payment and bond are unlocked', async () => {
        const values = await operationValuesOf(s.channel.channel);
        const r = signReceipt(receiptFor(s.channel, s.jobSeq), s.workerA.keys.signing.seed);
        await s.channel.channel.send(s.stranger.getSender(), { value: values.commitResult }, { $$type: 'CommitResult', queryId: 0n, seq: s.jobSeq, receipt: r.cell, signature: r.signature, output: null });
        await s.channel.channel.send(s.client.getSender(), { value: values.dispute + s.params.channel.disputeBond }, { $$type: 'Dispute', queryId: 0n, seq: s.jobSeq });
        await breakAccount(s.workerA.worker.address);
        const v = auditVerdictBody({ kind: 3n, target: s.channel.channel.address, subject: W.jobSubject(s.channel.channel.address, s.jobSeq), evidenceHash: 0n, expiry: BigInt(s.blockchain.now!) + 600n }, s.auditors.slice(0, 1));
        await bounced(0x57000024n, s.channel.channel.address, () => s.root.send(s.stranger.getSender(), { value: toNano('0.2') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: v.verdict, signatures: v.signatures }));
        expect((await s.channel.channel.getState()).locked).toBe(0n);
    });

    it('Channel -> Worker Settled: the earnings stay unreported for the next report', async () => {
        const values = await operationValuesOf(s.channel.channel);
        await settle(s.channel, s.workerA.owner, toNano('2'));
        const unreported = (await s.channel.channel.getState()).unreportedAmount;
        expect(unreported).toBeGreaterThan(0n);
        await breakAccount(s.workerA.worker.address);
        await bounced(0x57000025n, s.channel.channel.address, () => s.channel.channel.send(s.stranger.getSender(), { value: values.reportEarnings }, { $$type: 'ReportEarnings', queryId: 0n }));
        expect((await s.channel.channel.getState()).unreportedAmount).toBe(unreported);
    });

    it('Root -> Worker AttestationVerdict and Root -> Channel JobVerdict: the relayer\'s leftover goes to the treasury, nothing else moves', async () => {
        const now = BigInt(s.blockchain.now!);
        const att = auditVerdictBody({ kind: 2n, target: s.workerB.worker.address, subject: 123n, evidenceHash: 0n, expiry: now + 600n }, s.auditors.slice(0, 1));
        const stakeB = await s.workerB.worker.getStake();
        await bounced(0x57000002n, s.root.address, () => s.root.send(s.stranger.getSender(), { value: toNano('0.2') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: att.verdict, signatures: att.signatures }));
        expect(await s.workerB.worker.getStake()).toBe(stakeB);
        const job = auditVerdictBody({ kind: 4n, target: s.channel.channel.address, subject: W.jobSubject(s.channel.channel.address, s.jobSeq), evidenceHash: 0n, expiry: now + 600n }, s.auditors.slice(0, 1));
        const channelBefore = await dataHash(s.blockchain, s.channel.channel.address);
        await bounced(0x430000f0n, s.root.address, () => s.root.send(s.stranger.getSender(), { value: toNano('0.2') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: job.verdict, signatures: job.signatures }));
        expect(await dataHash(s.blockchain, s.channel.channel.address)).toBe(channelBefore);
    });

    it('Worker -> Root CheckPrices and CheckAttestation refused by Root: the owner gets the value back, nothing changes', async () => {
        const owner = s.workerA.owner;
        const pricesBefore = await s.workerA.worker.getPrices();
        await bounced(0x52000014n, s.workerA.worker.address, () => s.workerA.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'SetPrices', queryId: 0n, prices: priceList([[999n, 1n, 1n]]) }));
        expect((await s.workerA.worker.getPrices()).keys()).toEqual(pricesBefore.keys());
        const info = await dataHash(s.blockchain, s.workerA.worker.address);
        await bounced(0x52000013n, s.workerA.worker.address, () => s.workerA.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(newEnclaveKeys(), W.TEE_SIMULATED, 4242n) }));
        expect(await dataHash(s.blockchain, s.workerA.worker.address)).toBe(info);
    });

    it('Root -> Worker WorkerDeploy (a fresh account cannot refuse it: fabricated bounce): the registration is uncounted, the value kept for governance', async () => {
        const before = await s.root.getState();
        const deploy = beginCell().store(W.storeWorkerDeploy({ $$type: 'WorkerDeploy', queryId: 0n, stake: toNano('10'), claim: claimOf(newEnclaveKeys()), endpoint: 'x', capacity: 1n, prices: priceList([]), params: beginCell().endCell(), paramsVersion: 1n, paused: false })).endCell();
        // A bounced body is 0xFFFFFFFF followed by the first 256 bits of the original body.
        const body = beginCell().storeUint(0xffffffff, 32).storeBits(deploy.beginParse().loadBits(256)).endCell();
        const value = toNano('10.2');
        await bounced(0x57000001n, s.root.address, () => s.blockchain.sendMessage(internal({ from: s.workerB.worker.address, to: s.root.address, value, body, bounced: true, bounce: false })), [], value);
        expect((await s.root.getState()).workersRegistered).toBe(before.workersRegistered - 1n);
    });

    it('Root WithdrawFees to an account that rejects it: the amount comes back to Root', async () => {
        await s.root.send(s.stranger.getSender(), { value: toNano('5') }, { $$type: 'ProtocolFee', amount: toNano('5') });
        const rejector = s.blockchain.openContract(await Rejector.fromInit(3n));
        await rejector.send(s.stranger.getSender(), { value: toNano('1') }, null);
        const rootBefore = (await s.blockchain.getContract(s.root.address)).balance;
        await bounced(0n, s.root.address, () => s.root.send(s.governance.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawFees', queryId: 0n, amount: toNano('2'), to: rejector.address }), [rejector.address]);
        // Root lost only the fees of the round trip, not the 2 TON.
        expect(rootBefore - (await s.blockchain.getContract(s.root.address)).balance).toBeLessThan(toNano('0.05'));
    });
});


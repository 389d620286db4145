// Interleavings: two operations on one Channel or one Worker in flight together, delivered in
// every order that matters: A's whole cascade then B's, B's then A's, and each one's first hop,
// then the other's whole cascade, then the rest (sandbox sendMessageIter, both messages created
// before either runs). In each order: the value of all parties is conserved up to fees, the books
// cover what they owe, and the pair's own rule holds.
import { Address, beginCell, Builder, Cell, toNano } from '@ton/core';
import { BlockchainTransaction, internal } from '@ton/sandbox';
import * as W from '../../wrappers';
import { signReceipt } from '../../wrappers/signed';
import { snapshotOf } from '../helpers/cocoon';
import { operationValuesOf, receiptFor, voucher } from '../helpers/channel';
import { createSecurityNet, expectBooks, feesOfTxs, partiesOf, SecurityNet, sumOf } from './fixture';
import { Tally } from './record';

const tally = new Tally('interleavings');
let s: SecurityNet;
let restore: () => Promise<void>;

beforeAll(async () => {
    s = await createSecurityNet();
    restore = await snapshotOf(s.blockchain);
}, 120_000);
afterAll(() => tally.write());

interface Msg {
    from: Address;
    to: Address;
    value: bigint;
    body: Cell;
}

type Schedule = 'A then B' | 'B then A' | 'A hop, B, rest of A' | 'B hop, A, rest of B';
const SCHEDULES: Schedule[] = ['A then B', 'B then A', 'A hop, B, rest of A', 'B hop, A, rest of B'];

/** Runs both messages in `schedule`; returns every transaction and the conservation check's inputs. */
async function race(a: Msg, b: Msg, schedule: Schedule): Promise<BlockchainTransaction[]> {
    const bc = s.blockchain;
    const itA = await bc.sendMessageIter(internal({ ...a, bounce: true }), { allowParallel: true });
    const itB = await bc.sendMessageIter(internal({ ...b, bounce: true }), { allowParallel: true });
    const txs: BlockchainTransaction[] = [];
    const step = async (it: AsyncIterator<BlockchainTransaction>) => {
        const r = await it.next();
        if (!r.done) txs.push(r.value);
        return !r.done;
    };
    const drain = async (it: AsyncIterator<BlockchainTransaction>) => {
        while (await step(it)) { /* next */ }
    };
    const [first, second] = schedule.startsWith('A') ? [itA, itB] : [itB, itA];
    if (schedule.includes('hop')) {
        await step(first);
        await drain(second);
        await drain(first);
    } else {
        await drain(first);
        await drain(second);
    }
    return txs;
}

async function checkRace(name: string, setup: () => Promise<{ a: Msg; b: Msg }>, rule: (schedule: Schedule, txs: BlockchainTransaction[]) => Promise<void>): Promise<void> {
    for (const schedule of SCHEDULES) {
        await restore();
        const { a, b } = await setup();
        const parties = partiesOf(s);
        const before = await sumOf(s.blockchain, parties);
        const txs = await race(a, b, schedule);
        for (const tx of txs) {
            const dest = tx.inMessage?.info.dest;
            if (dest instanceof Address) expect(parties.some((p) => p.equals(dest))).toBe(true);
        }
        // The two injected messages bring their value from outside (the sandbox creates them).
        expect(before + a.value + b.value - (await sumOf(s.blockchain, parties))).toBe(feesOfTxs(txs));
        await expectBooks(s);
        try {
            await rule(schedule, txs);
        } catch (e) {
            throw new Error(`${name}, ${schedule}: ${(e as Error).message}`);
        }
        tally.add('orders');
        tally.add('invariantChecks', 3);
    }
    tally.add('pairs');
}

const cell = (build: (b: Builder) => void): Cell => {
    const b = beginCell();
    build(b);
    return b.endCell();
};

describe('interleavings on one channel and one worker', () => {
    it('settle vs close (RequestClose, then FinalizeClose): the payee keeps exactly what was settled; the client gets the rest', async () => {
        const values = await operationValuesOf(s.channel.channel);
        await checkRace('settle vs requestClose', async () => {
            const v = voucher(s.channel.channel.address, toNano('2'), s.channel.clientKey);
            return {
                a: { from: s.workerA.owner.address, to: s.channel.channel.address, value: values.settle, body: cell((b) => b.store(W.storeSettle({ $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false }))) },
                b: { from: s.client.address, to: s.channel.channel.address, value: values.requestClose, body: cell((b) => b.store(W.storeRequestClose({ $$type: 'RequestClose', queryId: 0n }))) },
            };
        }, async () => {
            // Settling is allowed while Open and Closing: in every order the voucher is paid once.
            const st = await s.channel.channel.getState();
            expect(st.settled).toBe(toNano('2'));
            expect(st.status).toBe(W.CHANNEL_CLOSING);
        });
        await checkRace('settle vs finalizeClose', async () => {
            // The job must go first: expire it after its deadline, then close and wait closeAt.
            s.blockchain.now = s.blockchain.now! + 700;
            await s.channel.channel.send(s.stranger.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: s.jobSeq });
            await s.channel.channel.send(s.client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n });
            s.blockchain.now = s.blockchain.now! + 3601;
            const v = voucher(s.channel.channel.address, toNano('2'), s.channel.clientKey);
            return {
                a: { from: s.workerA.owner.address, to: s.channel.channel.address, value: values.settle, body: cell((b) => b.store(W.storeSettle({ $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false }))) },
                b: { from: s.stranger.address, to: s.channel.channel.address, value: values.finalizeClose, body: cell((b) => b.store(W.storeFinalizeClose({ $$type: 'FinalizeClose', queryId: 0n }))) },
            };
        }, async (schedule) => {
            const st = await s.channel.channel.getState();
            expect(st.status).toBe(W.CHANNEL_CLOSED);
            // Settle first: paid, then closed. Close first: the late voucher is refused.
            expect(st.settled).toBe(schedule.startsWith('A') ? toNano('2') : 0n);
            expect((await s.blockchain.getContract(s.channel.channel.address)).balance).toBe(0n);
        });
    });

    it('expire vs commit: exactly one of them wins, at the deadline and one second after', async () => {
        const values = await operationValuesOf(s.channel.channel);
        for (const offset of [0, 1]) {
            await checkRace(`expire vs commit at deadline+${offset}`, async () => {
                const job = (await s.channel.channel.getJob(s.jobSeq))!;
                s.blockchain.now = Number(job.deadline) + offset;
                const r = signReceipt(receiptFor(s.channel, s.jobSeq), s.workerA.keys.signing.seed);
                return {
                    a: { from: s.stranger.address, to: s.channel.channel.address, value: values.expireJob, body: cell((b) => b.store(W.storeExpireJob({ $$type: 'ExpireJob', queryId: 0n, seq: s.jobSeq }))) },
                    b: { from: s.workerA.owner.address, to: s.channel.channel.address, value: values.commitResult, body: cell((b) => b.store(W.storeCommitResult({ $$type: 'CommitResult', queryId: 0n, seq: s.jobSeq, receipt: r.cell, signature: r.signature, output: null }))) },
                };
            }, async () => {
                const job = await s.channel.channel.getJob(s.jobSeq);
                const stats = await s.workerA.worker.getStats();
                if (offset === 0) {
                    expect(job?.status).toBe(2n);              // committed in time; expiry refused
                    expect(stats.jobsExpired).toBe(0n);
                } else {
                    expect(job).toBeNull();                    // expired; the late result refused
                    expect(stats.jobsExpired).toBe(1n);
                    expect(stats.slashCount).toBe(1n);
                }
            });
        }
    });

    it('top-up vs close: a top-up after RequestClose bounces back; before it, it is refunded at close', async () => {
        const values = await operationValuesOf(s.channel.channel);
        await checkRace('topUp vs requestClose', async () => ({
            a: { from: s.stranger.address, to: s.channel.channel.address, value: toNano('3'), body: cell((b) => b.store(W.storeTopUp({ $$type: 'TopUp', queryId: 0n }))) },
            b: { from: s.client.address, to: s.channel.channel.address, value: values.requestClose, body: cell((b) => b.store(W.storeRequestClose({ $$type: 'RequestClose', queryId: 0n }))) },
        }), async (schedule, txs) => {
            const st = await s.channel.channel.getState();
            expect(st.status).toBe(W.CHANNEL_CLOSING);
            const bounced = txs.some((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.bounced && tx.inMessage.info.dest.equals(s.stranger.address));
            // B first (or B's only hop first): the channel is Closing and the top-up bounces.
            expect(bounced).toBe(schedule.startsWith('B'));
        });
    });

    it('slash vs withdraw: the stake pays the expired job or leaves, never both, never lost', async () => {
        const values = await operationValuesOf(s.channel.channel);
        await checkRace('expire (JobExpired slash) vs Withdraw', async () => {
            await s.workerA.worker.send(s.workerA.owner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n });
            s.blockchain.now = s.blockchain.now! + Number(s.params.unbondingDelay) + 1;
            return {
                a: { from: s.stranger.address, to: s.channel.channel.address, value: values.expireJob, body: cell((b) => b.store(W.storeExpireJob({ $$type: 'ExpireJob', queryId: 0n, seq: s.jobSeq }))) },
                b: { from: s.workerA.owner.address, to: s.workerA.worker.address, value: toNano('0.05'), body: cell((b) => b.store(W.storeWithdraw({ $$type: 'Withdraw', queryId: 0n }))) },
            };
        }, async () => {
            // Past unbondAt the job's claim window is over: Withdraw is allowed in every order;
            // the slash takes min(timeoutSlash, stake) of whatever is left, so stake + slashed +
            // withdrawn is the stake the worker had.
            const stats = await s.workerA.worker.getStats();
            expect(await s.workerA.worker.getStake()).toBe(0n);
            expect(stats.totalSlashed).toBeLessThanOrEqual(s.params.timeoutSlash);
            expect(await s.channel.channel.getJob(s.jobSeq)).toBeNull();
        });
        await checkRace('fault slash vs Withdraw while the job is still claimable', async () => {
            // The job is disputed, so the stake is locked until its claim window ends.
            const r = signReceipt(receiptFor(s.channel, s.jobSeq), s.workerA.keys.signing.seed);
            await s.channel.channel.send(s.stranger.getSender(), { value: values.commitResult }, { $$type: 'CommitResult', queryId: 0n, seq: s.jobSeq, receipt: r.cell, signature: r.signature, output: null });
            await s.channel.channel.send(s.client.getSender(), { value: values.dispute + s.params.channel.disputeBond }, { $$type: 'Dispute', queryId: 0n, seq: s.jobSeq });
            await s.workerA.worker.send(s.workerA.owner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n });
            const verdict = W.auditVerdictBody({ kind: 3n, target: s.channel.channel.address, subject: W.jobSubject(s.channel.channel.address, s.jobSeq), evidenceHash: 0n, expiry: BigInt(s.blockchain.now!) + 3600n }, s.auditors.slice(0, 1));
            return {
                a: { from: s.stranger.address, to: s.root.address, value: toNano('0.2'), body: cell((b) => b.store(W.storeAuditVerdict({ $$type: 'AuditVerdict', queryId: 0n, verdict: verdict.verdict, signatures: verdict.signatures }))) },
                b: { from: s.workerA.owner.address, to: s.workerA.worker.address, value: toNano('0.05'), body: cell((b) => b.store(W.storeWithdraw({ $$type: 'Withdraw', queryId: 0n }))) },
            };
        }, async () => {
            // Withdraw is refused in every order (unbonding not due, claims open); the slash lands.
            const stats = await s.workerA.worker.getStats();
            expect(stats.slashCount).toBe(1n);
            expect(await s.workerA.worker.getStake()).toBe(s.params.minWorkerStake - stats.totalSlashed);
        });
    });
});

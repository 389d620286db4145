// Invariants of Root + Worker + Channel together, checked after every step of random sequences
// (fast-check, bounded so the spec stays fast): books covered, value conserved up to fees, no
// voucher, receipt or verdict accepted twice or on another contract, a slash never above the
// stake and one offence slashed once, stake never leaves before its claims expire, nothing stuck
// after close.
import fc from 'fast-check';
import { Address, Cell, toNano } from '@ton/core';
import { SendMessageResult, SandboxContract, TreasuryContract } from '@ton/sandbox';
import * as W from '../../wrappers';
import { auditVerdictBody, signReceipt } from '../../wrappers/signed';
import { createNetwork, MODEL_A, registerWorker, RegisteredWorker, snapshotOf, Network } from '../helpers/cocoon';
import { commitResult, OpenedChannel, openedChannel, operationValuesOf, owed, postJob, receiptFor, settle, voucher } from '../helpers/channel';
import { Tally } from './record';

const tally = new Tally('invariants');
const RUNS = Number(process.env.SECURITY_RUNS ?? 6);
const STEPS = 18;

interface World {
    net: Network;
    workers: RegisteredWorker[];
    channels: OpenedChannel[];
    stranger: SandboxContract<TreasuryContract>;
    parties: Address[];
}

let world: World;
let restore: () => Promise<void>;

beforeAll(async () => {
    const net = await createNetwork();
    const workers = [await registerWorker(net, await net.blockchain.treasury('owner A')), await registerWorker(net, await net.blockchain.treasury('owner B'))];
    const client = await net.blockchain.treasury('client');
    const client2 = await net.blockchain.treasury('client 2');
    const stranger = await net.blockchain.treasury('stranger');
    const channels = [
        await openedChannel(net, client, workers[0], { deposit: toNano('20') }),
        await openedChannel(net, client2, workers[0], { deposit: toNano('20') }),
        await openedChannel(net, client, workers[1], { deposit: toNano('20') }),
    ];
    const parties = [net.governance.address, client.address, client2.address, stranger.address, net.root.address, ...workers.flatMap((w) => [w.owner.address, w.worker.address]), ...channels.map((c) => c.channel.address)];
    world = { net, workers, channels, stranger, parties };
    restore = await snapshotOf(net.blockchain);
}, 120_000);
afterAll(() => tally.write());

/** What the run remembers to replay and to judge withdrawals by. */
interface Model {
    signed: bigint[];                       // last cumulative signed per channel
    lastVoucher: ({ cell: Cell; signature: Buffer } | null)[];
    receipts: { channel: number; seq: bigint; cell: Cell; signature: Buffer }[];
    verdicts: { verdict: Cell; signatures: Cell }[];
    claimUntil: bigint[];                   // per worker: the latest claim window of an accepted job
    slashNotices: Set<string>;              // channel|seq of every JobExpired/FaultSlash delivered
    equivocations: number[];                // per worker: proofs accepted
    stakeIn: bigint[];                      // per worker: stake ever added
    withdrawn: bigint[];
}

type Action =
    | { t: 'settle'; ch: number; amount: bigint; relay: number }
    | { t: 'replayVoucher'; ch: number; to: number }
    | { t: 'post'; ch: number; maxPayment: bigint; deadline: number }
    | { t: 'commit'; ch: number; tokens: number }
    | { t: 'replayReceipt'; to: number }
    | { t: 'dispute'; ch: number }
    | { t: 'verdict'; ch: number; fault: boolean }
    | { t: 'replayVerdict' }
    | { t: 'finalize'; ch: number }
    | { t: 'expire'; ch: number }
    | { t: 'topUp'; ch: number; amount: bigint }
    | { t: 'requestClose'; ch: number }
    | { t: 'finalizeClose'; ch: number }
    | { t: 'sweep'; ch: number }
    | { t: 'report'; ch: number }
    | { t: 'unbond'; w: number }
    | { t: 'withdraw'; w: number }
    | { t: 'equivocate'; w: number }
    | { t: 'wait'; seconds: number }
    | { t: 'disputedJob'; ch: number };

/** Expands the compound actions into the steps they stand for. */
function expand(a: Action): Action[] {
    if (a.t !== 'disputedJob') return [a];
    return [
        { t: 'post', ch: a.ch, maxPayment: toNano('0.5'), deadline: 600 },
        { t: 'commit', ch: a.ch, tokens: 1000 },
        { t: 'dispute', ch: a.ch },
    ];
}

const ch = fc.integer({ min: 0, max: 2 });
const wk = fc.integer({ min: 0, max: 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('settle' as const), ch, amount: fc.bigInt({ min: 1n, max: toNano('3') }), relay: fc.integer({ min: 0, max: 1 }) }) },
    fc.record({ t: fc.constant('replayVoucher' as const), ch, to: ch }),
    { weight: 3, arbitrary: fc.record({ t: fc.constant('post' as const), ch, maxPayment: fc.bigInt({ min: 1n, max: toNano('2') }), deadline: fc.integer({ min: 60, max: 3600 }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('commit' as const), ch, tokens: fc.integer({ min: 0, max: 2_000_000 }) }) },
    fc.record({ t: fc.constant('replayReceipt' as const), to: ch }),
    { weight: 2, arbitrary: fc.record({ t: fc.constant('dispute' as const), ch }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('verdict' as const), ch, fault: fc.boolean() }) },
    fc.record({ t: fc.constant('replayVerdict' as const) }),
    fc.record({ t: fc.constant('finalize' as const), ch }),
    fc.record({ t: fc.constant('expire' as const), ch }),
    fc.record({ t: fc.constant('topUp' as const), ch, amount: fc.bigInt({ min: toNano('0.01'), max: toNano('3') }) }),
    fc.record({ t: fc.constant('requestClose' as const), ch }),
    fc.record({ t: fc.constant('finalizeClose' as const), ch }),
    fc.record({ t: fc.constant('sweep' as const), ch }),
    fc.record({ t: fc.constant('report' as const), ch }),
    fc.record({ t: fc.constant('unbond' as const), w: wk }),
    { weight: 2, arbitrary: fc.record({ t: fc.constant('withdraw' as const), w: wk }) },
    fc.record({ t: fc.constant('equivocate' as const), w: wk }),
    // A job taken to a dispute in three checked steps, so verdicts and their replays have a target.
    { weight: 2, arbitrary: fc.record({ t: fc.constant('disputedJob' as const), ch }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 400 }) }) },
    fc.record({ t: fc.constant('wait' as const), seconds: fc.integer({ min: 600, max: 5000 }) }),
);

const workerIndexOf = (c: number) => (c === 2 ? 1 : 0);

/** The first channel from `start` on with a job in `status`, and that job's seq. */
async function findJob(start: number, status: bigint): Promise<{ c: OpenedChannel; ch: number; seq: bigint } | null> {
    for (let k = 0; k < world.channels.length; k++) {
        const ch = (start + k) % world.channels.length;
        const c = world.channels[ch];
        for (const [seq, job] of W.parseChannelJobs(await c.channel.getJobs())) if (job.status === status) return { c, ch, seq };
    }
    return null;
}
const nowOf = () => BigInt(world.net.blockchain.now!);

function op(body: Cell | undefined): number {
    if (!body) return -1;
    const s = body.beginParse();
    return s.remainingBits >= 32 ? s.loadUint(32) : -1;
}

/** The transaction ran on `address` and its compute phase succeeded. */
function succeededOn(result: SendMessageResult, address: Address, opcode: number): boolean {
    return result.transactions.some((tx) => {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced || !info.dest.equals(address) || op(tx.inMessage?.body) !== opcode) return false;
        return tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success && !tx.description.aborted;
    });
}

async function sumBalances(): Promise<bigint> {
    let sum = 0n;
    for (const a of world.parties) sum += (await world.net.blockchain.getContract(a)).balance;
    return sum;
}

/** Fees of a trace: every transaction's total fees plus the forward fees of the messages it sent. */
function feesOf(result: SendMessageResult): bigint {
    let sum = 0n;
    for (const tx of result.transactions) {
        sum += tx.totalFees.coins;
        for (const m of tx.outMessages.values()) if (m.info.type === 'internal') sum += m.info.forwardFee;
    }
    return sum;
}

async function checkInvariants(model: Model, result: SendMessageResult | null, before: bigint): Promise<void> {
    const bc = world.net.blockchain;
    // Every transaction ran on a known party: no value went anywhere else.
    if (result) {
        for (const tx of result.transactions) {
            const dest = tx.inMessage?.info.dest;
            if (dest instanceof Address) expect(world.parties.some((p) => p.equals(dest))).toBe(true);
        }
        // Value conservation: the parties' balances fall by exactly the fees of the trace.
        const after = await sumBalances();
        expect(before - after).toBe(feesOf(result));
        tally.add('invariantChecks');
        // One offence, one slash: each (channel, seq) reaches the Worker as JobExpired/FaultSlash once.
        for (const tx of result.transactions) {
            const info = tx.inMessage?.info;
            const code = op(tx.inMessage?.body);
            if (info?.type !== 'internal' || info.bounced || (code !== 0x57000023 && code !== 0x57000024)) continue;
            if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm' || !tx.description.computePhase.success) continue;
            const s = tx.inMessage!.body.beginParse();
            s.skip(32 + 64);
            const key = `${info.src.toString()}|${s.loadUintBig(64)}`;
            expect(model.slashNotices.has(key)).toBe(false);
            model.slashNotices.add(key);
        }
        tally.add('invariantChecks');
    }
    for (const c of world.channels) {
        const state = await c.channel.getState();
        const balance = (await bc.getContract(c.channel.address)).balance;
        expect(balance).toBeGreaterThanOrEqual(owed(state));
        expect(state.deposit).toBeGreaterThanOrEqual(state.settled + state.locked);
        if (state.status === W.CHANNEL_CLOSED) {
            expect(state.locked).toBe(0n);
            expect(state.openJobs).toBe(0n);
        }
        tally.add('invariantChecks', 3);
    }
    for (const [i, w] of world.workers.entries()) {
        const stake = await w.worker.getStake();
        const stats = await w.worker.getStats();
        const balance = (await bc.getContract(w.worker.address)).balance;
        expect(balance).toBeGreaterThanOrEqual(stake);
        // Stake only leaves by a slash or a withdrawal; slashes never exceed what was staked.
        expect(stake + stats.totalSlashed + model.withdrawn[i]).toBe(model.stakeIn[i]);
        expect(stats.totalSlashed).toBeLessThanOrEqual(model.stakeIn[i]);
        expect(model.equivocations[i]).toBeLessThanOrEqual(1);
        tally.add('invariantChecks', 4);
    }
}

async function run(model: Model, a: Action): Promise<SendMessageResult | null> {
    const { net, channels, workers, stranger } = world;
    const values = await operationValuesOf(channels[0].channel);
    switch (a.t) {
        case 'settle': {
            const c = channels[a.ch];
            const cumulative = model.signed[a.ch] + a.amount;
            const signed = voucher(c.channel.address, cumulative, c.clientKey);
            const via = a.relay === 0 ? workers[workerIndexOf(a.ch)].owner : stranger;
            const before = (await c.channel.getState()).settled;
            const result = await settle(c, via, cumulative);
            if ((await c.channel.getState()).settled !== before) {
                model.signed[a.ch] = cumulative;
                model.lastVoucher[a.ch] = signed;
            }
            return result;
        }
        case 'replayVoucher': {
            const v = model.lastVoucher[a.ch];
            if (!v) return null;
            const target = channels[a.to];
            const before = await target.channel.getState();
            const result = await target.channel.send(stranger.getSender(), { value: values.settle }, { $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false });
            // Settled already (same channel) or signed for another channel: never paid again.
            expect((await target.channel.getState()).settled).toBe(before.settled);
            tally.add('replaysRefused');
            return result;
        }
        case 'post': {
            const c = channels[a.ch];
            const state = await c.channel.getState();
            const deadline = nowOf() + BigInt(a.deadline);
            // A job binds the worker (may claim its stake) only if it is serving at posting time.
            const info = await c.worker.worker.getInfo();
            const serving = info.effectiveStatus === BigInt(W.WORKER_STATUS_ACTIVE) && !info.rootPaused;
            const { result } = await postJob(net, c, { maxPayment: a.maxPayment, deadline });
            const after = await c.channel.getState();
            if (serving && after.nextSeq !== state.nextSeq && (await c.channel.getJob(state.nextSeq)) !== null) {
                const p = net.params.channel;
                const w = workerIndexOf(a.ch);
                const until = deadline + p.challengeWindow + p.disputeWindow;
                if (until > model.claimUntil[w]) model.claimUntil[w] = until;
            }
            return result;
        }
        case 'commit': {
            const found = await findJob(a.ch, 1n);
            if (!found) return null;
            const { c, seq } = found;
            const fields = receiptFor(c, seq, { promptTokens: BigInt(a.tokens), completionTokens: BigInt(a.tokens) });
            const signed = signReceipt(fields, c.worker.keys.signing.seed);
            const result = await commitResult(c, stranger, seq, { fields: { promptTokens: BigInt(a.tokens), completionTokens: BigInt(a.tokens) } });
            if ((await c.channel.getJob(seq))?.status === 2n) model.receipts.push({ channel: found.ch, seq, cell: signed.cell, signature: signed.signature });
            return result;
        }
        case 'replayReceipt': {
            const r = model.receipts[model.receipts.length - 1];
            if (!r) return null;
            const target = channels[a.to];
            const jobBefore = await target.channel.getJob(r.seq);
            const result = await target.channel.send(stranger.getSender(), { value: values.commitResult }, { $$type: 'CommitResult', queryId: 0n, seq: r.seq, receipt: r.cell, signature: r.signature, output: null });
            const jobAfter = await target.channel.getJob(r.seq);
            // A receipt is accepted once, and only by the channel it names.
            expect(jobAfter?.status ?? null).toBe(jobBefore?.status ?? null);
            expect(jobAfter?.at ?? null).toBe(jobBefore?.at ?? null);
            tally.add('replaysRefused');
            return result;
        }
        case 'dispute': {
            const found = await findJob(a.ch, 2n);
            if (!found) return null;
            return found.c.channel.send(found.c.client.getSender(), { value: values.dispute + net.params.channel.disputeBond }, { $$type: 'Dispute', queryId: 0n, seq: found.seq });
        }
        case 'verdict': {
            const found = await findJob(a.ch, 3n);
            if (!found) return null;
            const c = found.c;
            const body = auditVerdictBody(
                { kind: a.fault ? 3n : 4n, target: c.channel.address, subject: W.jobSubject(c.channel.address, found.seq), evidenceHash: 1n, expiry: nowOf() + 7200n },
                net.auditors.slice(0, 1),
            );
            model.verdicts.push(body);
            return net.root.send(stranger.getSender(), { value: toNano('0.2') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: body.verdict, signatures: body.signatures });
        }
        case 'replayVerdict': {
            const v = model.verdicts[model.verdicts.length - 1];
            if (!v) return null;
            const states = await Promise.all(channels.map((c) => c.channel.getState()));
            const result = await net.root.send(stranger.getSender(), { value: toNano('0.2') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: v.verdict, signatures: v.signatures });
            const after = await Promise.all(channels.map((c) => c.channel.getState()));
            after.forEach((s, i) => {
                expect(s.locked).toBe(states[i].locked);
                expect(s.deposit).toBe(states[i].deposit);
            });
            tally.add('replaysRefused');
            return result;
        }
        case 'finalize': {
            const found = (await findJob(a.ch, 2n)) ?? (await findJob(a.ch, 3n));
            if (!found) return null;
            return found.c.channel.send(stranger.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: found.seq });
        }
        case 'expire': {
            const found = await findJob(a.ch, 1n);
            if (!found) return null;
            return found.c.channel.send(stranger.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: found.seq });
        }
        case 'topUp':
            return channels[a.ch].channel.send(stranger.getSender(), { value: a.amount }, { $$type: 'TopUp', queryId: 0n });
        case 'requestClose': {
            const c = channels[a.ch];
            return c.channel.send(c.client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n });
        }
        case 'finalizeClose':
            return channels[a.ch].channel.send(stranger.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n });
        case 'sweep':
            return channels[a.ch].channel.send(stranger.getSender(), { value: values.sweepFees }, { $$type: 'SweepFees', queryId: 0n });
        case 'report':
            return channels[a.ch].channel.send(stranger.getSender(), { value: values.reportEarnings }, { $$type: 'ReportEarnings', queryId: 0n });
        case 'unbond': {
            const w = workers[a.w];
            return w.worker.send(w.owner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n });
        }
        case 'withdraw': {
            const w = workers[a.w];
            const stake = await w.worker.getStake();
            const result = await w.worker.send(w.owner.getSender(), { value: toNano('0.05') }, { $$type: 'Withdraw', queryId: 0n });
            if (succeededOn(result, w.worker.address, 0x57000015)) {
                // Stake leaves only after every binding job's claim window.
                expect(nowOf()).toBeGreaterThanOrEqual(model.claimUntil[a.w]);
                model.withdrawn[a.w] += stake;
                tally.add('withdrawalsJudged');
            }
            return result;
        }
        case 'equivocate': {
            const w = workers[a.w];
            const c = channels[a.w === 0 ? 0 : 2];
            const first = signReceipt(receiptFor(c, 5n, { resultHash: 1n }), w.keys.signing.seed);
            const second = signReceipt(receiptFor(c, 5n, { resultHash: 2n }), w.keys.signing.seed);
            const result = await w.worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'ProveEquivocation', queryId: 0n, first: first.cell, firstSignature: first.signature, second: second.cell, secondSignature: second.signature });
            if (succeededOn(result, w.worker.address, 0x57000017)) model.equivocations[a.w] += 1;
            return result;
        }
        case 'wait':
            world.net.blockchain.now = world.net.blockchain.now! + a.seconds;
            return null;
        case 'disputedJob':
            throw new Error('expanded before running');
    }
}

/** Closes every channel (expiring or finalizing its jobs first): nothing may stay behind. */
async function closeAll(model: Model): Promise<void> {
    const { net, channels, stranger } = world;
    const values = await operationValuesOf(channels[0].channel);
    net.blockchain.now = net.blockchain.now! + 2 * 3600 + 3600;
    for (const c of channels) {
        for (const [seq, job] of W.parseChannelJobs(await c.channel.getJobs())) {
            const before = await sumBalances();
            const result = job.status === 1n
                ? await c.channel.send(stranger.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq })
                : await c.channel.send(stranger.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq });
            await checkInvariants(model, result, before);
        }
        const state = await c.channel.getState();
        expect(state.openJobs).toBe(0n);
        if (state.status === W.CHANNEL_OPEN) {
            await c.channel.send(c.client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n });
        }
    }
    net.blockchain.now = net.blockchain.now! + 3601;
    for (const c of channels) {
        if ((await c.channel.getState()).status === W.CHANNEL_CLOSING) {
            const before = await sumBalances();
            const result = await c.channel.send(stranger.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n });
            await checkInvariants(model, result, before);
        }
        const state = await c.channel.getState();
        expect(state.status).toBe(W.CHANNEL_CLOSED);
        expect(state.deposit).toBe(state.settled);
        expect(state.locked).toBe(0n);
        expect(state.fees).toBe(0n);
        // Closing sends the whole balance away: nothing is stuck in a Closed channel.
        expect((await net.blockchain.getContract(c.channel.address)).balance).toBe(0n);
        tally.add('invariantChecks', 5);
    }
}

describe('invariants of Root + Worker + Channel under random sequences', () => {
    it(`hold after every step (${RUNS} runs of ${STEPS} steps, then every channel closed)`, async () => {
        await fc.assert(
            fc.asyncProperty(fc.array(action, { minLength: 4, maxLength: STEPS }), async (actions) => {
                await restore();
                const stakes = await Promise.all(world.workers.map((w) => w.worker.getStake()));
                const model: Model = {
                    signed: [0n, 0n, 0n],
                    lastVoucher: [null, null, null],
                    receipts: [],
                    verdicts: [],
                    claimUntil: [0n, 0n],
                    slashNotices: new Set(),
                    equivocations: [0, 0],
                    stakeIn: stakes,
                    withdrawn: [0n, 0n],
                };
                for (const a of actions.flatMap(expand)) {
                    const before = await sumBalances();
                    const result = await run(model, a);
                    await checkInvariants(model, result, before);
                    tally.add('steps');
                    tally.add(`action.${a.t}`);
                    if (result && result.transactions.some((tx) => tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success && tx.inMessage?.info.type === 'internal' && !tx.inMessage.info.bounced && world.parties.slice(4).some((p) => p.equals(tx.inMessage!.info.dest as Address)) && op(tx.inMessage.body) >= 0x43000000)) {
                        tally.add(`accepted.${a.t}`);
                    }
                }
                await closeAll(model);
                tally.add('runs');
            }),
            { numRuns: RUNS, seed: Number(process.env.SECURITY_SEED ?? 20261204), endOnFailure: true },
        );
        tally.add('properties');
    }, 600_000);
});

// Property: random sequences of client, worker and stranger actions on two channels of one
// worker (top-ups, settlements with new, old, forged and misdirected vouchers, final
// settlements, on-chain jobs posted, committed, finalized, expired, disputed and judged,
// close requests and finalizations, fee sweeps, time travel). After EVERY step:
//   - money is conserved across all contracts and parties up to the fees, to the nanoTON, and
//     no account outside them took part (tests/helpers/ledger.ts);
//   - each channel's balance covers what it owes (deposit − settled + fees) and deposit ≥
//     settled + locked; the Worker's balance covers its stake;
//   - no voucher pays twice: settled never decreases, every payment record pays exactly
//     cumulative − previous settled, only for a cumulative the client signed, and the sum of
//     the records is settled (the largest accepted cumulative);
//   - a job is paid, expired or resolved at most once; every protocol fee recorded is either
//     still owed or arrived at Root, exactly;
//   - a slash never exceeds the stake, and the stake falls by exactly the slashes;
//   - a closed channel holds nothing (zero balance, zero books).
// Reproduce a failure with FC_SEED=<seed> (printed on failure), FC_PATH=<path>; FC_RUNS sets the
// number of runs (default 5, bounded for CI's 2 cores).
import { SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, toNano } from '@ton/core';
import fc from 'fast-check';
import '@ton/test-utils';
import {
    auditVerdictBody,
    Channel,
    CHANNEL_CLOSED,
    eventsOfAll,
    eventsOfType,
    JOB_COMMITTED,
    JOB_DISPUTED,
    JOB_POSTED,
    jobSubject,
    OperationValues,
    signVoucher,
    VerdictKind,
} from '../../wrappers';
import { ed25519FromSeed, Ed25519KeyPair } from '../../agents/core/ed25519';
import { signWorkerReceipt } from '../../agents/core/channel-objects';
import { createNetwork, devParams, EnclaveKeys, MODEL_A, Network, nowOf, registerWorker, RegisteredWorker, snapshotOf } from '../helpers/cocoon';
import { openedChannel, OpenedChannel, operationValuesOf, owed } from '../helpers/channel';
import { Ledger, Step } from '../helpers/ledger';

const RUNS = Number(process.env.FC_RUNS ?? 5);
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const PATH = process.env.FC_PATH;
const INPUT_HASH = 0x99n;

type Action =
    | { kind: 'topUp'; ch: number; who: 'client' | 'stranger'; amount: bigint }
    | { kind: 'settleNew'; ch: number; who: 'owner' | 'stranger'; increment: bigint }
    | { kind: 'settleOld'; ch: number; pick: number }
    | { kind: 'settleForged'; ch: number; increment: bigint }
    | { kind: 'settleMisdirected'; ch: number; increment: bigint }
    | { kind: 'settleFinal'; ch: number }
    | { kind: 'post'; ch: number; maxPayment: bigint; deadlineIn: number }
    | { kind: 'commit'; ch: number; pick: number; prompt: bigint; completion: bigint }
    | { kind: 'finalizeJob'; ch: number; pick: number; wait: boolean }
    | { kind: 'expire'; ch: number; pick: number; wait: boolean }
    | { kind: 'dispute'; ch: number; pick: number }
    | { kind: 'verdict'; ch: number; pick: number; fault: boolean }
    | { kind: 'requestClose'; ch: number }
    | { kind: 'finalizeClose'; ch: number }
    | { kind: 'sweep'; ch: number }
    | { kind: 'travel'; seconds: number };

// Mostly the first channel, so that its jobs get deep into their lives; the second shares the worker.
const ch = fc.constantFrom(0, 0, 0, 1);
const pick = fc.nat({ max: 7 });
const nano = (min: string, max: string) => fc.bigInt({ min: toNano(min), max: toNano(max) });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
    fc.record({ kind: fc.constant('topUp' as const), ch, who: fc.constantFrom('client' as const, 'stranger' as const), amount: nano('0.01', '3') }),
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('settleNew' as const), ch, who: fc.constantFrom('owner' as const, 'stranger' as const), increment: nano('0.001', '2') }) },
    fc.record({ kind: fc.constant('settleOld' as const), ch, pick }),
    fc.record({ kind: fc.constant('settleForged' as const), ch, increment: nano('0.001', '1') }),
    fc.record({ kind: fc.constant('settleMisdirected' as const), ch, increment: nano('0.001', '1') }),
    fc.record({ kind: fc.constant('settleFinal' as const), ch }),
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('post' as const), ch, maxPayment: nano('0.01', '3'), deadlineIn: fc.integer({ min: 120, max: 900 }) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('commit' as const), ch, pick, prompt: fc.bigInt({ min: 0n, max: 2_000_000n }), completion: fc.bigInt({ min: 0n, max: 2_000_000n }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('finalizeJob' as const), ch, pick, wait: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), ch, pick, wait: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('dispute' as const), ch, pick }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('verdict' as const), ch, pick, fault: fc.boolean() }) },
    fc.record({ kind: fc.constant('requestClose' as const), ch }),
    fc.record({ kind: fc.constant('finalizeClose' as const), ch }),
    fc.record({ kind: fc.constant('sweep' as const), ch }),
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('travel' as const), seconds: fc.oneof(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 700, max: 4000 })) }) },
);

/** What the test remembers of one channel (the "ghost" state the invariants compare with). */
interface Model {
    signed: bigint[]; // cumulatives the client signed, in order
    settled: bigint; // last settled (from the getter after each step)
    recordedSettled: bigint; // Σ ChannelSettled.amount
    feesRecorded: bigint; // Σ fees of every payment record
    feesToRoot: bigint; // Σ ProtocolFee amount this channel sent Root
    seqs: bigint[]; // on-chain jobs posted
    ended: Set<bigint>; // jobs paid, expired or resolved for the client
}

describe('property: money across Channel, Worker and Root under random action sequences', () => {
    let net: Network;
    let restore: () => Promise<void>;
    let owner: SandboxContract<TreasuryContract>;
    let stranger: SandboxContract<TreasuryContract>;
    let clients: SandboxContract<TreasuryContract>[];
    let channels: OpenedChannel[];
    let registered: RegisteredWorker;
    let values: OperationValues;
    const forger: Ed25519KeyPair = ed25519FromSeed(Buffer.alloc(32, 0xee));

    beforeAll(async () => {
        // A small stake (3 TON, timeoutSlash 1 TON) so that slashes can exhaust it in a run.
        net = await createNetwork({ params: devParams({ minWorkerStake: toNano('3'), timeoutSlash: toNano('1') }) });
        owner = await net.blockchain.treasury('owner');
        stranger = await net.blockchain.treasury('stranger');
        clients = [await net.blockchain.treasury('client-0'), await net.blockchain.treasury('client-1')];
        const keys: EnclaveKeys = { signing: ed25519FromSeed(Buffer.alloc(32, 0x51)), encryptionKey: 0x1234567n, quoteHash: 0x42n };
        registered = await registerWorker(net, owner, { stake: toNano('3'), keys });
        channels = [];
        for (let i = 0; i < 2; i++) {
            channels.push(await openedChannel(net, clients[i], registered, { deposit: toNano('5'), clientKey: ed25519FromSeed(Buffer.alloc(32, 0xc0 + i)) }));
        }
        values = await operationValuesOf(channels[0].channel);
        restore = await snapshotOf(net.blockchain);
    });

    // What the runs exercised (event types seen, refusals), printed with FC_STATS=1.
    const tally = new Map<string, number>();
    afterAll(() => {
        if (process.env.FC_STATS) {
            // eslint-disable-next-line no-console
            console.log([...tally.entries()].sort().map(([k, v]) => `${k}: ${v}`).join('\n'));
        }
    });

    it(`holds after every step (FC_SEED=${SEED}, ${RUNS} runs)`, async () => {
        // Every sequence starts with a job posted on the first channel, so that the job actions
        // that follow have something to act on.
        const firstPost = fc.record({ kind: fc.constant('post' as const), ch: fc.constant(0), maxPayment: nano('0.01', '3'), deadlineIn: fc.integer({ min: 120, max: 900 }) });
        const property = fc.asyncProperty(firstPost, fc.array(actionArb, { minLength: 5, maxLength: 15 }), async (first, actions) => {
            await restore();
            await runSequence([first, ...actions]);
        });
        try {
            await fc.assert(property, { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: process.env.FC_SHRINK === undefined });
        } catch (error) {
            // eslint-disable-next-line no-console
            console.error(`channel.property: failed with FC_SEED=${SEED}${PATH ? ` FC_PATH=${PATH}` : ''} (set FC_SHRINK=1 to shrink)`);
            throw error;
        }
    }, 300_000);

    it('holds along a fixed sequence that takes every path (so each CI run checks all of them)', async () => {
        const T = toNano;
        const fixed: Action[] = [
            { kind: 'post', ch: 0, maxPayment: T('1'), deadlineIn: 600 },
            { kind: 'commit', ch: 0, pick: 0, prompt: 100n, completion: 200n },
            { kind: 'finalizeJob', ch: 0, pick: 0, wait: true }, // paid after the challenge window
            { kind: 'post', ch: 0, maxPayment: T('1'), deadlineIn: 600 },
            { kind: 'commit', ch: 0, pick: 0, prompt: 1000n, completion: 0n },
            { kind: 'dispute', ch: 0, pick: 0 },
            { kind: 'verdict', ch: 0, pick: 0, fault: false }, // WorkerRight: payment plus bond
            { kind: 'post', ch: 0, maxPayment: T('1'), deadlineIn: 900 },
            { kind: 'post', ch: 0, maxPayment: T('1'), deadlineIn: 900 },
            { kind: 'commit', ch: 0, pick: 0, prompt: 10n, completion: 10n },
            { kind: 'dispute', ch: 0, pick: 0 },
            { kind: 'verdict', ch: 0, pick: 0, fault: true }, // WorkerFault: slash, the worker is jailed
            { kind: 'expire', ch: 0, pick: 0, wait: true }, // timeout slash out of what is left
            { kind: 'post', ch: 0, maxPayment: T('1'), deadlineIn: 600 }, // to a jailed worker: posted, but does not bind it
            { kind: 'expire', ch: 0, pick: 0, wait: true }, // unlocked, no slash: JobNotBinding
            { kind: 'verdict', ch: 0, pick: 7, fault: true }, // a verdict on a job that is no longer disputed
            { kind: 'topUp', ch: 0, who: 'stranger', amount: T('1') },
            { kind: 'settleNew', ch: 0, who: 'owner', increment: T('0.5') },
            { kind: 'settleOld', ch: 0, pick: 0 },
            { kind: 'settleForged', ch: 0, increment: T('0.1') },
            { kind: 'settleMisdirected', ch: 0, increment: T('0.1') },
            { kind: 'sweep', ch: 0 },
            { kind: 'settleNew', ch: 1, who: 'stranger', increment: T('0.2') },
            { kind: 'settleFinal', ch: 1 }, // cooperative close
            { kind: 'requestClose', ch: 0 },
            { kind: 'finalizeClose', ch: 0 }, // too early
            { kind: 'travel', seconds: 3600 },
            { kind: 'finalizeClose', ch: 0 },
            { kind: 'topUp', ch: 0, who: 'client', amount: T('1') }, // refused: closed
            { kind: 'settleNew', ch: 1, who: 'owner', increment: T('0.1') }, // refused: closed
        ];
        const before = new Map(tally);
        await restore();
        await runSequence(fixed);
        const seen = (type: string) => (tally.get(type) ?? 0) - (before.get(type) ?? 0);
        expect(seen('JobFinalized')).toBe(2);
        expect(seen('DisputeResolved')).toBe(2);
        expect(seen('WorkerSlashed')).toBe(2);
        expect(seen('JobTimedOut')).toBe(2);
        expect(seen('JobNotBinding')).toBe(1);
        expect(seen('FeesSwept')).toBe(1);
        expect(seen('ChannelClosed')).toBe(2);
        expect(seen('ChannelSettled')).toBe(3); // two payments and the final settlement's record
        expect(seen('settleForged refused 260')).toBe(1);
        expect(seen('settleMisdirected refused 261')).toBe(1);
        expect(seen('settleOld refused 403')).toBe(1);
        expect(seen('finalizeClose refused 418')).toBe(1);
        expect(await registered.worker.getStake()).toBe(toNano('3') - toNano('0.3') - toNano('1'));
        for (const c of channels) expect((await c.channel.getState()).status).toBe(CHANNEL_CLOSED);
    }, 120_000);

    async function runSequence(actions: Action[]): Promise<void> {
        const ledger = new Ledger(net.blockchain, {
            'client-0': clients[0].address,
            'client-1': clients[1].address,
            owner: owner.address,
            stranger: stranger.address,
            governance: net.governance.address,
            root: net.root.address,
            worker: registered.worker.address,
            'channel-0': channels[0].channel.address,
            'channel-1': channels[1].channel.address,
        });
        const models: Model[] = [];
        for (const c of channels) {
            const state = await c.channel.getState();
            models.push({ signed: [], settled: state.settled, recordedSettled: state.settled, feesRecorded: state.fees, feesToRoot: 0n, seqs: [], ended: new Set() });
        }
        let stake = await registered.worker.getStake();
        const totalSlashedAtStart = (await registered.worker.getStats()).totalSlashed;
        const log: string[] = [];

        for (const action of actions) {
            log.push(describe_(action));
            const label = log.join(' → ');
            const c = 'ch' in action ? action.ch : 0;
            const opened = channels[c];
            const channel = opened.channel;
            const model = models[c];
            const stateBefore = await channel.getState();
            const send = (from: SandboxContract<TreasuryContract>, value: bigint, body: Parameters<SandboxContract<Channel>['send']>[2]) =>
                channel.send(from.getSender(), { value }, body);
            const settleWith = (from: SandboxContract<TreasuryContract>, cumulative: bigint, key: Ed25519KeyPair, target: Address, final = false) => {
                const v = signVoucher({ channel: target, cumulative }, key.seed);
                return send(from, final ? values.settleFinal : values.settle, {
                    $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 0n, final,
                });
            };
            // Mostly an open job in a status the action expects (the latest first), so that
            // jobs get deep into their lives; pick 7 takes any job ever posted, ended ones too.
            const jobSeq = async (p: number, statuses: bigint[]) => {
                const open: bigint[] = [];
                for (const seq of model.seqs.filter((s) => !model.ended.has(s)).reverse()) {
                    const job = await channel.getJob(seq);
                    if (job && statuses.includes(job.status)) open.push(seq);
                }
                const from = p === 7 || open.length === 0 ? model.seqs : open;
                return from.length ? from[p % from.length] : stateBefore.nextSeq;
            };
            const lastSigned = () => (model.signed.length ? model.signed[model.signed.length - 1] : stateBefore.settled);

            let step: Step;
            let forbiddenToPay = false; // a Settle that must not pay anything
            try {
                step = await ledger.step(label, async (): Promise<SendMessageResult | void> => {
                    switch (action.kind) {
                        case 'topUp':
                            return send(action.who === 'client' ? opened.client : stranger, action.amount, { $$type: 'TopUp', queryId: 0n });
                        case 'settleNew': {
                            // Above the last voucher the client signed, or above settled when
                            // that one went beyond the deposit (the payee could not settle it).
                            const base = lastSigned() + action.increment <= stateBefore.deposit - stateBefore.locked ? lastSigned() : stateBefore.settled;
                            const cumulative = base + action.increment;
                            model.signed.push(cumulative); // the client signed it, whatever happens next
                            return settleWith(action.who === 'owner' ? owner : stranger, cumulative, opened.clientKey, channel.address);
                        }
                        case 'settleOld': {
                            forbiddenToPay = true;
                            const old = model.signed.length ? model.signed[action.pick % model.signed.length] : 0n;
                            // Only vouchers at or below settled: they must never pay again.
                            return settleWith(stranger, old <= stateBefore.settled ? old : stateBefore.settled, opened.clientKey, channel.address);
                        }
                        case 'settleForged':
                            forbiddenToPay = true;
                            return settleWith(stranger, stateBefore.settled + action.increment, forger, channel.address);
                        case 'settleMisdirected':
                            // The client's own key, but a voucher naming the other channel.
                            forbiddenToPay = true;
                            return settleWith(stranger, stateBefore.settled + action.increment, opened.clientKey, channels[1 - c].channel.address);
                        case 'settleFinal': {
                            // The payee closes with the last voucher (one for the settled total if
                            // the client signed none: the client signs it then).
                            const cumulative = lastSigned();
                            if (!model.signed.includes(cumulative)) model.signed.push(cumulative);
                            return settleWith(owner, cumulative, opened.clientKey, channel.address, true);
                        }
                        case 'post': {
                            const seq = stateBefore.nextSeq;
                            const result = await send(opened.client, values.postJob, {
                                $$type: 'PostJob', queryId: 0n, seq, model: MODEL_A, maxPayment: action.maxPayment, inputHash: INPUT_HASH,
                                deadline: nowOf(net) + BigInt(action.deadlineIn), input: null,
                            });
                            if ((await channel.getState()).nextSeq > seq) model.seqs.push(seq);
                            return result;
                        }
                        case 'commit': {
                            const seq = await jobSeq(action.pick, [JOB_POSTED]);
                            const signed = signWorkerReceipt(
                                { channel: channel.address, seq, model: MODEL_A, inputHash: INPUT_HASH, resultHash: 1n, promptTokens: action.prompt, completionTokens: action.completion },
                                registered.keys.signing.seed,
                                true,
                            );
                            return send(owner, values.commitResult, { $$type: 'CommitResult', queryId: 0n, seq, receipt: signed.cell, signature: signed.signature, output: null });
                        }
                        case 'finalizeJob': {
                            const seq = await jobSeq(action.pick, [JOB_COMMITTED, JOB_DISPUTED]);
                            const job = await channel.getJob(seq);
                            if (action.wait && job) {
                                // Time travel to the end of the job's window first.
                                const window = job.status === JOB_DISPUTED ? net.params.channel.disputeWindow : net.params.channel.challengeWindow;
                                if (job.at + window > nowOf(net)) net.blockchain.now = Number(job.at + window);
                            }
                            return send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq });
                        }
                        case 'expire': {
                            const seq = await jobSeq(action.pick, [JOB_POSTED]);
                            const job = await channel.getJob(seq);
                            if (action.wait && job && job.deadline >= nowOf(net)) net.blockchain.now = Number(job.deadline + 1n);
                            return send(opened.client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
                        }
                        case 'dispute':
                            return send(opened.client, values.dispute, { $$type: 'Dispute', queryId: 0n, seq: await jobSeq(action.pick, [JOB_COMMITTED]) });
                        case 'verdict': {
                            const seq = await jobSeq(action.pick, [JOB_DISPUTED]);
                            const body = auditVerdictBody(
                                {
                                    kind: action.fault ? VerdictKind.WorkerFault : VerdictKind.WorkerRight,
                                    target: channel.address,
                                    subject: jobSubject(channel.address, seq),
                                    evidenceHash: 1n,
                                    expiry: nowOf(net) + 3600n,
                                },
                                [net.auditors[0]],
                            );
                            return net.root.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 0n, ...body });
                        }
                        case 'requestClose':
                            return send(opened.client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
                        case 'finalizeClose':
                            return send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n });
                        case 'sweep':
                            return send(stranger, values.sweepFees, { $$type: 'SweepFees', queryId: 0n });
                        case 'travel':
                            net.blockchain.now = Number(nowOf(net) + BigInt(action.seconds));
                            return;
                    }
                });
            } catch (error) {
                throw new Error(`${(error as Error).message}\n  sequence: ${label}`);
            }
            for (const t of step.txs) {
                if (t.description.type === 'generic' && t.description.computePhase.type === 'vm' && !t.description.computePhase.success) {
                    const key = `${action.kind} refused ${t.description.computePhase.exitCode}`;
                    tally.set(key, (tally.get(key) ?? 0) + 1);
                }
            }
            try {
                await checkStep(step, c, forbiddenToPay, models, stake);
                stake = await registered.worker.getStake();
                const stats = await registered.worker.getStats();
                expect(stats.totalSlashed - totalSlashedAtStart).toBe(toNano('3') - stake);
            } catch (error) {
                throw new Error(`${(error as Error).message}\n  sequence: ${label}`);
            }
        }
        await ledger.expectConservedSinceStart();
    }

    /** Every invariant, after one step that acted on channel `c` (or on time). */
    async function checkStep(step: Step, c: number, forbiddenToPay: boolean, models: Model[], stakeBefore: bigint) {
        const events = eventsOfAll(step.txs);
        for (const e of events) tally.set(e.$$type, (tally.get(e.$$type) ?? 0) + 1);
        const refused = step.txs.filter((t) => t.description.type === 'generic' && t.description.computePhase.type === 'vm' && !t.description.computePhase.success).length;
        if (refused) tally.set('(refusals)', (tally.get('(refusals)') ?? 0) + refused);
        // Slashes: each within the stake, the stake down by exactly their sum, covered by the balance.
        const slashes = eventsOfType(events, 'WorkerSlashed');
        let remaining = stakeBefore;
        for (const s of slashes) {
            expect(s.amount).toBeGreaterThan(0n);
            expect(s.amount).toBeLessThanOrEqual(remaining);
            remaining -= s.amount;
            expect(s.stake).toBe(remaining);
        }
        const stake = await registered.worker.getStake();
        expect(stake).toBe(remaining);
        expect(stake).toBeGreaterThanOrEqual(0n);
        expect(step.after.worker).toBeGreaterThanOrEqual(stake);

        for (let i = 0; i < channels.length; i++) {
            const name = `channel-${i}`;
            const model = models[i];
            const channel = channels[i].channel;
            const state = await channel.getState();
            const balance = step.after[name];
            // The books and the balance.
            expect(balance).toBeGreaterThanOrEqual(owed(state));
            expect(state.deposit).toBeGreaterThanOrEqual(state.settled + state.locked);
            expect(state.locked).toBeGreaterThanOrEqual(0n);
            // No voucher pays twice; only vouchers the client signed pay.
            const txsHere = step.on(name);
            const here = eventsOfAll(txsHere);
            const records = eventsOfType(here, 'ChannelSettled');
            let previous = model.settled;
            for (const r of records) {
                expect(r.cumulative).toBeGreaterThanOrEqual(previous);
                expect(r.amount).toBe(r.cumulative - previous);
                expect(model.signed).toContain(r.cumulative);
                model.recordedSettled += r.amount;
                model.feesRecorded += r.fee;
                previous = r.cumulative;
            }
            if (forbiddenToPay && i === c) {
                expect(records.filter((r) => r.amount > 0n)).toHaveLength(0);
                expect(step.received('owner', name)).toBe(0n);
            }
            expect(state.settled).toBeGreaterThanOrEqual(model.settled);
            expect(state.settled).toBe(previous);
            expect(model.recordedSettled).toBe(state.settled);
            model.settled = state.settled;
            // Jobs end once.
            const ended = [
                ...eventsOfType(here, 'JobFinalized').map((e) => e.seq),
                ...eventsOfType(here, 'JobTimedOut').map((e) => e.seq),
                ...eventsOfType(here, 'DisputeResolved').filter((e) => e.workerAtFault).map((e) => e.seq),
            ];
            for (const seq of ended) {
                expect(model.ended.has(seq)).toBe(false);
                model.ended.add(seq);
                expect(await channel.getJob(seq)).toBeNull();
            }
            for (const f of eventsOfType(here, 'JobFinalized')) model.feesRecorded += f.fee;
            // The payee got at least every net payment the records name.
            const owedToPayee =
                records.reduce((s, r) => s + r.amount - r.fee, 0n) +
                eventsOfType(here, 'JobFinalized').reduce((s, f) => s + f.payment - f.fee + f.bond, 0n);
            expect(step.received('owner', name)).toBeGreaterThanOrEqual(owedToPayee);
            // Every fee recorded is still owed or arrived at Root, to the nanoTON.
            // ProtocolFee carries the fees (its amount) plus Root's gas on top.
            for (const tx of txsHere) {
                for (const m of tx.outMessages.values()) {
                    if (m.info.type !== 'internal' || !m.info.dest.equals(net.root.address)) continue;
                    const body = m.body.beginParse();
                    if (body.remainingBits < 32 || body.loadUint(32) !== 0x52000015) continue;
                    const amount = body.loadCoins();
                    expect(m.info.value.coins).toBeGreaterThan(amount);
                    model.feesToRoot += amount;
                }
            }
            expect(model.feesRecorded).toBe(state.fees + model.feesToRoot);
            // Open jobs: the books lock exactly what the open jobs hold.
            expect(state.openJobs).toBe(BigInt(model.seqs.filter((s) => !model.ended.has(s)).length));
            // Nothing stuck after close.
            if (state.status === CHANNEL_CLOSED) {
                expect(balance).toBe(0n);
                expect(state.deposit).toBe(state.settled);
                expect(state.locked).toBe(0n);
                expect(state.fees).toBe(0n);
                expect(state.openJobs).toBe(0n);
            }
        }
        // Money moved only where the action reaches: a time step moves nothing.
        if (step.txs.length === 0) step.onlyMoved();
    }
});

function describe_(a: Action): string {
    const { kind, ...rest } = a;
    return `${kind}(${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(',')})`;
}

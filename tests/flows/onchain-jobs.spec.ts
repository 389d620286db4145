// Stories: on-chain jobs end to end, across Channel, Worker and Root. PostJob → CommitResult →
// FinalizeJob; PostJob → ExpireJob (the timeout slash out of the stake, never more than the
// stake); PostJob → CommitResult → Dispute → the auditors' verdict through Root (WorkerFault,
// WorkerRight) or no verdict within disputeWindow. Each story ends with the close and checks
// who got what, that nothing else moved, that the channel is left empty, and conservation of
// money across all the parties at every step (tests/helpers/ledger.ts). The accounting is by
// balances and fees, not by the number of messages a flow takes.
import { toNano } from '@ton/core';
import '@ton/test-utils';
import {
    auditVerdictBody,
    eventsOfAll,
    eventsOfType,
    JOB_COMMITTED,
    JOB_DISPUTED,
    jobSubject,
    VerdictKind,
} from '../../wrappers';
import { signWorkerReceipt } from '../../agents/core/channel-objects';
import { devParams, MODEL_A, nowOf } from '../helpers/cocoon';
import { Step } from '../helpers/ledger';
import { beginStory, closeStory, expectRemainingValuePayout, ROOT_GAS_VALUE, sentBy, Story, travel } from '../helpers/story';

const PRICE_PROMPT = 1000n;
const PRICE_COMPLETION = 2000n;
const FEE_BPS = 100n;
const INPUT_HASH = 0x77n;

async function post(story: Story, maxPayment: bigint, deadlineIn = 600n): Promise<{ seq: bigint; step: Step }> {
    const { channel, client, values, ledger, net } = story;
    const before = await channel.getState();
    const seq = before.nextSeq;
    const step = await ledger.step(`post ${seq}`, () =>
        channel.send(client.getSender(), { value: values.postJob }, {
            $$type: 'PostJob', queryId: 0n, seq, model: MODEL_A, maxPayment, inputHash: INPUT_HASH,
            deadline: nowOf(net) + deadlineIn, input: null,
        }),
    );
    // One transaction on the Channel: the Worker is not asked (a job binds it if it is serving).
    step.onlyMoved('client', 'channel');
    expect(step.txs).toHaveLength(2);
    const after = await channel.getState();
    expect(after.locked).toBe(before.locked + maxPayment);
    expect(after.openJobs).toBe(before.openJobs + 1n);
    expect(after.settled).toBe(before.settled);
    return { seq, step };
}

/** The worker agent's CommitResult, relayed by the owner, with a receipt signed by the enclave. */
async function commit(story: Story, seq: bigint, promptTokens: bigint, completionTokens: bigint): Promise<Step> {
    const { channel, owner, values, ledger, registered } = story;
    const signed = signWorkerReceipt(
        { channel: channel.address, seq, model: MODEL_A, inputHash: INPUT_HASH, resultHash: 0xabcn, promptTokens, completionTokens },
        registered.keys.signing.seed,
        true,
    );
    const step = await ledger.step(`commit ${seq}`, () =>
        channel.send(owner.getSender(), { value: values.commitResult }, {
            $$type: 'CommitResult', queryId: 0n, seq, receipt: signed.cell, signature: signed.signature, output: null,
        }),
    );
    step.onlyMoved('owner', 'channel');
    expect((await channel.getJob(seq))!.status).toBe(JOB_COMMITTED);
    return step;
}

async function dispute(story: Story, seq: bigint): Promise<Step> {
    const { channel, client, values, ledger, net } = story;
    const before = await channel.getState();
    const step = await ledger.step(`dispute ${seq}`, () =>
        channel.send(client.getSender(), { value: values.dispute }, { $$type: 'Dispute', queryId: 0n, seq }),
    );
    step.onlyMoved('client', 'channel');
    const after = await channel.getState();
    expect(after.locked).toBe(before.locked + net.params.channel.disputeBond);
    expect((await channel.getJob(seq))!.status).toBe(JOB_DISPUTED);
    return step;
}

/** An auditor-signed verdict, relayed to Root by the stranger (the reporter). */
function verdict(story: Story, seq: bigint, kind: bigint) {
    const { net, channel, stranger } = story;
    const body = auditVerdictBody(
        { kind, target: channel.address, subject: jobSubject(channel.address, seq), evidenceHash: 9n, expiry: nowOf(net) + 3600n },
        [net.auditors[0]],
    );
    return net.root.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 3n, ...body });
}

/** FinalizeJob by the stranger: the payee gets payment − fee (+ bond), the channel drops exactly that. */
async function finalize(story: Story, seq: bigint, payment: bigint, bond: bigint): Promise<Step> {
    const { channel, stranger, values, ledger } = story;
    const before = await channel.getState();
    const step = await ledger.step(`finalize ${seq}`, () =>
        channel.send(stranger.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq }),
    );
    const fee = (payment * FEE_BPS) / 10000n;
    expect(eventsOfType(eventsOfAll(step.txs), 'JobFinalized')[0]).toMatchObject({ seq, payment, fee, bond });
    const paid = expectRemainingValuePayout(step, values.finalizeJob, payment - fee + bond);
    expect(step.delta.owner).toBe(paid - step.feesOn('owner'));
    expect(step.delta.stranger).toBe(-sentBy(step, 'stranger') - step.feesOn('stranger'));
    step.onlyMoved('owner', 'stranger', 'channel');
    const after = await channel.getState();
    expect(after.deposit).toBe(before.deposit - payment - bond);
    expect(after.fees).toBe(before.fees + fee);
    expect(after.locked).toBe(0n);
    expect(await channel.getJob(seq)).toBeNull();
    return step;
}

/**
 * The Worker's balance dropped by exactly `paid` (what it slashed), plus at most its storage fee:
 * it keeps its stake and storage reserve, topping the reserve up out of the incoming value.
 */
function expectWorkerPaid(step: Step, paid: bigint) {
    expect(step.delta.worker).toBeLessThanOrEqual(-paid);
    expect(step.delta.worker).toBeGreaterThanOrEqual(-paid - step.storage('worker'));
}

describe('story: on-chain jobs', () => {
    it('PostJob → CommitResult → FinalizeJob after the challenge window → close: payee, Root and client paid exactly', async () => {
        const story = await beginStory();
        const { seq } = await post(story, toNano('1'));
        await commit(story, seq, 300n, 400n);
        const payment = 300n * PRICE_PROMPT + 400n * PRICE_COMPLETION;
        // Not before the window is over: refused, nothing moves but the bounce.
        travel(story, story.net.params.channel.challengeWindow - 1n);
        const early = await story.ledger.step('finalize early', () =>
            story.channel.send(story.stranger.getSender(), { value: story.values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq }),
        );
        early.onlyMoved('stranger', 'channel');
        expect(early.received('owner')).toBe(0n);
        travel(story, 1n);
        await finalize(story, seq, payment, 0n);
        const { finalize: close } = await closeStory(story);
        expect(close.received('root', 'channel')).toBe((payment * FEE_BPS) / 10000n + ROOT_GAS_VALUE);
        const stats = await story.registered.worker.getStats();
        expect(stats).toMatchObject({ jobsCompleted: 1n, tokensServed: 700n, earned: payment - (payment * FEE_BPS) / 10000n });
        // The client paid the job and gas, nothing more: it got back all but less than the
        // payment plus 1 TON of fees and the open fee.
        const clientTotal = await story.ledger.sinceStart('client');
        expect(clientTotal).toBeLessThan(-payment);
        expect(clientTotal).toBeGreaterThan(-payment - toNano('0.5'));
    });

    it('PostJob → ExpireJob after the deadline: the client gets the timeout slash out of the stake, its money unlocked', async () => {
        const story = await beginStory();
        const { channel, client, values, ledger, registered, net } = story;
        const { seq } = await post(story, toNano('2'), 100n);
        travel(story, 101n);
        const stake = await registered.worker.getStake();
        const step = await ledger.step('expire', () =>
            channel.send(client.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq }),
        );
        const slash = net.params.timeoutSlash;
        expect(eventsOfType(eventsOfAll(step.txs), 'WorkerSlashed')[0]).toMatchObject({ amount: slash, stake: stake - slash });
        expect(await registered.worker.getStake()).toBe(stake - slash);
        // The Worker's balance drops by exactly the slash (and its storage fee); the client gets
        // the slash plus what is left of the value it attached.
        expectWorkerPaid(step, slash);
        const toClient = step.received('client', 'worker');
        expect(toClient).toBeGreaterThan(slash);
        expect(toClient).toBeLessThan(slash + values.expireJob);
        expect(step.delta.client).toBe(toClient - sentBy(step, 'client') - step.feesOn('client'));
        step.onlyMoved('client', 'worker', 'channel');
        const state = await channel.getState();
        expect(state.locked).toBe(0n);
        expect(state.free).toBe(state.deposit - state.settled);
        expect(await channel.getJob(seq)).toBeNull();
        expect((await registered.worker.getStats()).jobsExpired).toBe(1n);
        const { finalize: close } = await closeStory(story);
        expect(close.received('root', 'channel')).toBe(0n); // no job was paid: no protocol fee
        expect(close.received('client', 'channel')).toBeGreaterThanOrEqual(toNano('10'));
    });

    it('a stake smaller than the timeout slash: the slash takes the whole rest of the stake, never more; then nothing', async () => {
        // timeoutSlash <= minWorkerStake (Root validates params): a first expiry leaves 0.5 TON
        // of stake, below the 1 TON slash of the second; the third finds no stake.
        const story = await beginStory({
            params: devParams({ minWorkerStake: toNano('1.5'), timeoutSlash: toNano('1') }),
            stake: toNano('1.5'),
        });
        const { channel, client, values, ledger, registered } = story;
        const jobs = [await post(story, toNano('1'), 50n), await post(story, toNano('1'), 50n), await post(story, toNano('1'), 50n)];
        travel(story, 51n);
        const expected = [toNano('1'), toNano('0.5'), 0n];
        let stake = toNano('1.5');
        for (let i = 0; i < 3; i++) {
            const step = await ledger.step(`expire ${i + 1}`, () =>
                channel.send(client.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: jobs[i].seq }),
            );
            const slashes = eventsOfType(eventsOfAll(step.txs), 'WorkerSlashed');
            expect(slashes.map((e) => e.amount)).toEqual(expected[i] > 0n ? [expected[i]] : []);
            stake -= expected[i];
            expect(await registered.worker.getStake()).toBe(stake);
            expectWorkerPaid(step, expected[i]);
            expect(step.received('client', 'worker')).toBeGreaterThan(expected[i]);
            expect(step.received('client', 'worker')).toBeLessThan(expected[i] + values.expireJob);
            step.onlyMoved('client', 'worker', 'channel');
        }
        expect(await registered.worker.getStake()).toBe(0n);
        expect(await ledger.balance('worker')).toBeGreaterThan(0n); // its storage reserve stays
        expect(await registered.worker.getStats()).toMatchObject({ jobsExpired: 3n, totalSlashed: toNano('1.5'), slashCount: 2n });
        expect((await channel.getState()).locked).toBe(0n);
        await closeStory(story);
    });

    it('Dispute → verdict WorkerFault: payment and bond back to the client, faultSlashBps slashed (reporter reward, client compensation, rest to Root)', async () => {
        const story = await beginStory();
        const { channel, ledger, registered, net } = story;
        const maxPayment = toNano('1');
        const { seq } = await post(story, maxPayment);
        await commit(story, seq, 100n, 200n);
        await dispute(story, seq);
        const before = await channel.getState();
        const stake = await registered.worker.getStake();
        const step = await ledger.step('verdict WorkerFault', () => verdict(story, seq, VerdictKind.WorkerFault));
        const slashed = (stake * net.params.faultSlashBps) / 10000n;
        const reward = (slashed * net.params.reporterRewardBps) / 10000n;
        const toClient = slashed - reward < net.params.timeoutSlash ? slashed - reward : net.params.timeoutSlash;
        const toRoot = slashed - reward - toClient;
        expect(eventsOfType(eventsOfAll(step.txs), 'DisputeResolved')[0]).toMatchObject({ seq, workerAtFault: true });
        expect(eventsOfType(eventsOfAll(step.txs), 'WorkerSlashed')[0]).toMatchObject({ amount: slashed, stake: stake - slashed });
        expect(await registered.worker.getStake()).toBe(stake - slashed);
        // The slash leaves the Worker's balance exactly; it splits three ways.
        expectWorkerPaid(step, slashed);
        const fwdSlack = toNano('0.01'); // a payout sent with SendDefaultMode pays its forward fee out of its value
        expect(step.received('stranger', 'worker')).toBeLessThanOrEqual(reward);
        expect(step.received('stranger', 'worker')).toBeGreaterThan(reward - fwdSlack);
        expect(step.received('root', 'worker')).toBeLessThanOrEqual(toRoot);
        expect(step.received('root', 'worker')).toBeGreaterThan(toRoot - fwdSlack);
        expect(step.received('client', 'worker')).toBeGreaterThanOrEqual(toClient);
        expect(step.received('client', 'worker')).toBeLessThan(toClient + toNano('0.1'));
        expect(eventsOfType(eventsOfAll(step.txs), 'TreasuryCredited').map((e) => e.amount)).toEqual([step.received('root', 'worker')]);
        expect(step.received('owner')).toBe(0n);
        step.onlyMoved('client', 'stranger', 'root', 'worker', 'channel');
        // The client's payment and bond are free again; nothing was paid.
        const after = await channel.getState();
        expect(after.locked).toBe(0n);
        expect(after.deposit).toBe(before.deposit);
        expect(after.fees).toBe(0n);
        expect(await channel.getJob(seq)).toBeNull();
        expect((await registered.worker.getStats()).disputesLost).toBe(1n);
        const { finalize: close } = await closeStory(story);
        expect(close.received('client', 'channel')).toBeGreaterThanOrEqual(before.deposit - before.settled);
        expect(close.received('owner')).toBe(0n);
    });

    it('Dispute → verdict WorkerRight: the payee gets the payment less the fee plus the client’s bond', async () => {
        const story = await beginStory();
        const { channel, ledger, net } = story;
        const { seq } = await post(story, toNano('1'));
        await commit(story, seq, 100n, 200n);
        await dispute(story, seq);
        const payment = 100n * PRICE_PROMPT + 200n * PRICE_COMPLETION;
        const fee = (payment * FEE_BPS) / 10000n;
        const bond = net.params.channel.disputeBond;
        const before = await channel.getState();
        const stake = await story.registered.worker.getStake();
        const step = await ledger.step('verdict WorkerRight', () => verdict(story, seq, VerdictKind.WorkerRight));
        expect(eventsOfType(eventsOfAll(step.txs), 'DisputeResolved')[0]).toMatchObject({ seq, workerAtFault: false });
        expect(eventsOfType(eventsOfAll(step.txs), 'JobFinalized')[0]).toMatchObject({ seq, payment, fee, bond });
        // The payout: net + bond + the verdict's unused value (SendPayFwdFeesSeparately).
        const paid = step.received('owner', 'channel');
        expect(paid).toBeGreaterThanOrEqual(payment - fee + bond);
        expect(paid).toBeLessThan(payment - fee + bond + toNano('0.1'));
        expect(step.delta.owner).toBe(paid - step.feesOn('owner'));
        expect(await story.registered.worker.getStake()).toBe(stake);
        expect(step.received('client')).toBe(0n);
        step.onlyMoved('owner', 'stranger', 'root', 'channel');
        const after = await channel.getState();
        expect(after.deposit).toBe(before.deposit - payment - bond);
        expect(after.fees).toBe(fee);
        expect(after.locked).toBe(0n);
        const { finalize: close } = await closeStory(story);
        expect(close.received('root', 'channel')).toBe(fee + ROOT_GAS_VALUE);
    });

    it('Dispute with no verdict within disputeWindow: FinalizeJob resolves for the worker (payment and bond)', async () => {
        const story = await beginStory();
        const { seq } = await post(story, toNano('1'));
        await commit(story, seq, 100n, 200n);
        await dispute(story, seq);
        const payment = 100n * PRICE_PROMPT + 200n * PRICE_COMPLETION;
        travel(story, story.net.params.channel.disputeWindow);
        // Too late for a verdict now: Root forwards it, the channel refuses, nothing is slashed.
        const late = await story.ledger.step('late verdict', () => verdict(story, seq, VerdictKind.WorkerFault));
        expect(late.received('client', 'worker')).toBe(0n);
        expect(late.received('owner')).toBe(0n);
        expect(eventsOfType(eventsOfAll(late.txs), 'WorkerSlashed')).toHaveLength(0);
        await finalize(story, seq, payment, story.net.params.channel.disputeBond);
        await closeStory(story);
    });
});

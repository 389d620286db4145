// Gas and fees of every Channel operation and of the Worker's Channel receivers, checked against
// tests/gas-snapshot/channel.json (more than 5% growth fails; GAS_SNAPSHOT_UPDATE=1 rewrites it),
// and the performance budgets of issue 3 (docs/gas.md, "Channel"). Everything here is
// deterministic: fixed genesis time, fixed keys' sizes, the sandbox's bundled config.
import { SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import '@ton/test-utils';
import {
    auditVerdictBody,
    Channel,
    CLOSE_GAS,
    COMMIT_GAS,
    DISPUTE_GAS,
    EXPIRE_JOB_GAS,
    FINALIZE_JOB_GAS,
    jobSubject,
    POST_JOB_GAS,
    REPORT_GAS,
    REQUEST_CLOSE_GAS,
    SETTLE_GAS,
    SWEEP_GAS,
    TOPUP_GAS,
    VERDICT_GAS,
    VerdictKind,
} from '../wrappers';
import { createNetwork, Network, nowOf, registerWorker, RegisteredWorker } from './helpers/cocoon';
import { commitResult, feesAfterSender, openChannel, openedChannel, OpenedChannel, operationValuesOf, postJob, settle, transitFeesAfterSender } from './helpers/channel';
import { computeGas, GasSnapshot, txOn } from './helpers/gas';

const gas = new GasSnapshot('channel');

// Issue 3's budgets. Fees are the sum of `totalFees` of every transaction a message causes, not
// counting the submitting wallet's own (its kind and fees are the sender's choice).
const SETTLE_GAS_BUDGET = 6000n;
const SETTLE_FEES_BUDGET = toNano('0.004');
// The on-chain job path (post + commit + finalize): issue 3 asks for at most 0.012 TON.
const JOB_PATH_FEES_BUDGET = toNano('0.012');

const gasOn = (result: SendMessageResult, address: Parameters<typeof txOn>[1], nth = 0) => computeGas(txOn(result, address, nth));

describe('gas and fees of Channel operations', () => {
    let net: Network;
    let owner: SandboxContract<TreasuryContract>;
    let client: SandboxContract<TreasuryContract>;
    let relayer: SandboxContract<TreasuryContract>;
    let registered: RegisteredWorker;
    let opened: OpenedChannel;
    let channel: SandboxContract<Channel>;
    let values: Awaited<ReturnType<typeof operationValuesOf>>;
    const figures: Record<string, string> = {};

    beforeAll(async () => {
        net = await createNetwork();
        owner = await net.blockchain.treasury('owner');
        client = await net.blockchain.treasury('client');
        relayer = await net.blockchain.treasury('relayer');
        registered = await registerWorker(net, owner, { stake: toNano('20') });
        opened = await openedChannel(net, client, registered, { deposit: toNano('50') });
        channel = opened.channel;
        values = await operationValuesOf(channel);
        const w = registered.worker.address;
        gas.record('Channel.Open', gasOn(opened.result, channel.address));
        gas.record('Worker.OpenChannel', gasOn(opened.result, w));
        gas.record('Channel.ChannelAccepted', gasOn(opened.result, channel.address, 1));
    });

    afterAll(() => {
        gas.verify();
        // The figures the docs quote (docs/gas.md, "Channel"), printed on request.
        if (process.env.PRINT_CHANNEL_FIGURES === '1') console.log(JSON.stringify(figures, null, 2));
    });

    const ton = (nano: bigint) => (Number(nano) / 1e9).toFixed(6);

    it('Settle: at most 6 000 gas on the Channel and 0.004 TON over its whole trace', async () => {
        await settle(opened, owner, toNano('1'));
        const result = await settle(opened, relayer, toNano('2'), { batchRoot: 1n, count: 1n });
        const g = gasOn(result, channel.address);
        const fees = feesAfterSender(result);
        gas.record('Channel.Settle', g);
        figures.settleGas = g.toString();
        figures.settleFees = ton(fees);
        figures.settleTransit = ton(transitFeesAfterSender(result));
        expect(result.transactions).toHaveLength(3); // wallet -> Channel -> payee
        expect(g).toBeLessThanOrEqual(SETTLE_GAS_BUDGET);
        expect(fees).toBeLessThanOrEqual(SETTLE_FEES_BUDGET);
        // Even counting the forward fees paid in transit (not part of any totalFees).
        expect(fees + transitFeesAfterSender(result)).toBeLessThanOrEqual(SETTLE_FEES_BUDGET);
        expect(g).toBeLessThanOrEqual(SETTLE_GAS);
    });

    it('a settlement covers any number of jobs: per job at 100 jobs it costs 1% of one settlement', async () => {
        const one = await settle(opened, relayer, toNano('3'), { batchRoot: 2n, count: 1n });
        const hundred = await settle(opened, relayer, toNano('4'), { batchRoot: 3n, count: 100n });
        const feesOne = feesAfterSender(one);
        const feesHundred = feesAfterSender(hundred);
        expect(gasOn(hundred, channel.address)).toBe(gasOn(one, channel.address));
        expect(feesHundred).toBe(feesOne);
        // per job = feesHundred / 100 <= 1% of one settlement
        expect(feesHundred * 100n).toBeLessThanOrEqual(feesOne * 100n);
        figures.perJobAt100 = ton(feesHundred / 100n);
    });

    it('the on-chain job path: post + commit + finalize, every transaction of the three traces', async () => {
        const post = await postJob(net, opened);
        const commit = await commitResult(opened, relayer, post.seq);
        net.blockchain.now = Number(nowOf(net) + net.params.channel.challengeWindow);
        const finalize = await channel.send(relayer.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: post.seq });
        gas.record('Channel.PostJob', gasOn(post.result, channel.address));
        gas.record('Channel.CommitResult', gasOn(commit, channel.address));
        gas.record('Channel.FinalizeJob', gasOn(finalize, channel.address));
        const parts = [post.result, commit, finalize].map(feesAfterSender);
        const total = parts.reduce((a, b) => a + b, 0n);
        figures.jobPost = ton(parts[0]);
        figures.jobCommit = ton(parts[1]);
        figures.jobFinalize = ton(parts[2]);
        figures.jobPath = ton(total);
        figures.jobPathTransit = ton([post.result, commit, finalize].map(transitFeesAfterSender).reduce((a, b) => a + b, 0n));
        figures.jobPathUnderBudget = ton(JOB_PATH_FEES_BUDGET - total);
        expect(total).toBeLessThanOrEqual(JOB_PATH_FEES_BUDGET);
        // Even counting the forward fees paid in transit (not part of any totalFees).
        const transit = [post.result, commit, finalize].map(transitFeesAfterSender).reduce((a, b) => a + b, 0n);
        figures.jobPathWithTransit = ton(total + transit);
        expect(total + transit).toBeLessThanOrEqual(JOB_PATH_FEES_BUDGET);
        // The transactions counted: wallet -> Channel; wallet -> Channel; wallet -> Channel -> payee.
        expect([post.result, commit, finalize].map((r) => r.transactions.length)).toEqual([2, 2, 3]);
        expect(gasOn(post.result, channel.address)).toBeLessThanOrEqual(POST_JOB_GAS);
        expect(gasOn(commit, channel.address)).toBeLessThanOrEqual(COMMIT_GAS);
        expect(gasOn(finalize, channel.address)).toBeLessThanOrEqual(FINALIZE_JOB_GAS);
    });

    it('dispute, verdicts, expiry', async () => {
        const disputed = async () => {
            const { seq } = await postJob(net, opened);
            await commitResult(opened, relayer, seq);
            const d = await channel.send(client.getSender(), { value: values.dispute + toNano('1') }, { $$type: 'Dispute', queryId: 0n, seq });
            return { seq, d };
        };
        const verdict = (seq: bigint, kind: bigint) =>
            net.root.send(relayer.getSender(), { value: toNano('0.1') }, {
                $$type: 'AuditVerdict',
                queryId: 0n,
                ...auditVerdictBody({ kind, target: channel.address, subject: jobSubject(channel.address, seq), evidenceHash: 1n, expiry: nowOf(net) + 3600n }, [net.auditors[0]]),
            });
        const a = await disputed();
        gas.record('Channel.Dispute', gasOn(a.d, channel.address));
        expect(gasOn(a.d, channel.address)).toBeLessThanOrEqual(DISPUTE_GAS);
        const fault = await verdict(a.seq, VerdictKind.WorkerFault);
        gas.record('Channel.JobVerdict.fault', gasOn(fault, channel.address));
        gas.record('Worker.FaultSlash', gasOn(fault, registered.worker.address));
        expect(gasOn(fault, channel.address)).toBeLessThanOrEqual(VERDICT_GAS);
        const b = await disputed();
        const right = await verdict(b.seq, VerdictKind.WorkerRight);
        gas.record('Channel.JobVerdict.right', gasOn(right, channel.address));
        expect(gasOn(right, channel.address)).toBeLessThanOrEqual(VERDICT_GAS);
        const c = await disputed();
        net.blockchain.now = Number(nowOf(net) + net.params.channel.disputeWindow);
        const late = await channel.send(relayer.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: c.seq });
        gas.record('Channel.FinalizeJob.disputed', gasOn(late, channel.address));
        const { seq } = await postJob(net, opened, { deadline: nowOf(net) + 10n });
        net.blockchain.now = Number(nowOf(net) + 11n);
        const expired = await channel.send(client.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq });
        gas.record('Channel.ExpireJob', gasOn(expired, channel.address));
        gas.record('Worker.JobExpired', gasOn(expired, registered.worker.address));
        expect(gasOn(expired, channel.address)).toBeLessThanOrEqual(EXPIRE_JOB_GAS);
    });

    it('top-up, report, sweep, close', async () => {
        const top = await channel.send(client.getSender(), { value: toNano('1') }, { $$type: 'TopUp', queryId: 0n });
        gas.record('Channel.TopUp', gasOn(top, channel.address));
        expect(gasOn(top, channel.address)).toBeLessThanOrEqual(TOPUP_GAS);
        const report = await channel.send(relayer.getSender(), { value: values.reportEarnings }, { $$type: 'ReportEarnings', queryId: 0n });
        gas.record('Channel.ReportEarnings', gasOn(report, channel.address));
        gas.record('Worker.Settled', gasOn(report, registered.worker.address));
        expect(gasOn(report, channel.address)).toBeLessThanOrEqual(REPORT_GAS);
        const sweep = await channel.send(relayer.getSender(), { value: values.sweepFees }, { $$type: 'SweepFees', queryId: 0n });
        gas.record('Channel.SweepFees', gasOn(sweep, channel.address));
        expect(gasOn(sweep, channel.address)).toBeLessThanOrEqual(SWEEP_GAS);
        await settle(opened, owner, toNano('5'));
        const request = await channel.send(client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n });
        gas.record('Channel.RequestClose', gasOn(request, channel.address));
        expect(gasOn(request, channel.address)).toBeLessThanOrEqual(REQUEST_CLOSE_GAS);
        net.blockchain.now = Number(nowOf(net) + net.params.channel.clientCloseDelay);
        const close = await channel.send(relayer.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n });
        gas.record('Channel.FinalizeClose', gasOn(close, channel.address));
        expect(gasOn(close, channel.address)).toBeLessThanOrEqual(CLOSE_GAS);
    });

    it('a final Settle, an expiry that does not bind the worker, and the bounce handler of a refused handshake', async () => {
        const other = await net.blockchain.treasury('final-client');
        const ch = await openedChannel(net, other, registered, { deposit: toNano('5') });
        const final = await settle(ch, owner, toNano('1'), { final: true });
        gas.record('Channel.Settle.final', gasOn(final, ch.channel.address));
        expect(gasOn(final, ch.channel.address)).toBeLessThanOrEqual(CLOSE_GAS);
        const third = await net.blockchain.treasury('unbound-client');
        const ch3 = await openedChannel(net, third, registered, { deposit: toNano('5') });
        await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
        net.blockchain.now = Number(nowOf(net) + 1n);
        const { seq } = await postJob(net, ch3, { deadline: nowOf(net) + 10n });
        net.blockchain.now = Number(nowOf(net) + 11n);
        const v3 = await operationValuesOf(ch3.channel);
        const unbound = await ch3.channel.send(third.getSender(), { value: v3.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq });
        gas.record('Worker.JobExpired.notBinding', gasOn(unbound, registered.worker.address));
        expect((await ch3.channel.getState()).locked).toBe(0n);
        const fourth = await net.blockchain.treasury('refused-open');
        const { channel: refusedChannel, result } = await openChannel(net, fourth, registered, { deposit: toNano('2') });
        gas.record('Channel.bounced.OpenChannel', gasOn(result, refusedChannel.address, 1));
    });
});

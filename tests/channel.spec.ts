// Channel: one describe per receiver: the success path, then every refusal (its exit code, and
// no money moved but the bounce), with time travel for every window; the Worker's receivers for
// its Channels; bounce handlers; the three COCOON losses as named regressions.
import { createEmptyShardAccount, SandboxContract, SendMessageResult, TreasuryContract, internal } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import {
    auditVerdictBody,
    Channel,
    CHANNEL_CLOSED,
    CHANNEL_CLOSING,
    CHANNEL_OPEN,
    CHANNEL_OPENING,
    channelFor,
    ERR_BAD_AMOUNT,
    ERR_BAD_DEADLINE,
    ERR_BAD_SIGNATURE,
    ERR_CHANNEL_OPEN_JOBS,
    ERR_CHANNEL_STATE,
    ERR_CLOSE_NOT_DUE,
    ERR_DEADLINE_NOT_PASSED,
    ERR_EXPIRED,
    ERR_INSUFFICIENT_DEPOSIT,
    ERR_JOB_STATE,
    ERR_LOW_VALUE,
    ERR_MODEL_NOT_PRICED,
    ERR_NO_DISPUTE,
    ERR_NO_FEES,
    ERR_NO_SUCH_JOB,
    ERR_NOT_CHANNEL,
    ERR_NOT_CHANNEL_WORKER,
    ERR_NOT_CLIENT,
    ERR_NOT_JOB_VERDICT,
    ERR_NOT_PAYEE,
    ERR_NOT_ROOT,
    ERR_NOTHING_TO_REPORT,
    ERR_OLD_VOUCHER,
    ERR_PAST_DEADLINE,
    ERR_PAUSED,
    ERR_PAYLOAD_TOO_BIG,
    ERR_RECEIPT_MISMATCH,
    ERR_TOO_MANY_JOBS,
    ERR_UNBONDING_NOT_DUE,
    ERR_WINDOW_NOT_OVER,
    ERR_WINDOW_OVER,
    ERR_WRONG_SEQ,
    ERR_WRONG_STATUS,
    ERR_WRONG_TARGET,
    ERR_ZERO_KEY,
    eventsOfAll,
    eventsOfType,
    JOB_COMMITTED,
    JOB_DISPUTED,
    JOB_POSTED,
    jobSubject,
    MAX_PAYLOAD_CELLS,
    ONCHAIN_SEQ_BASE,
    FINALIZE_MIN_VALUE,
    OPEN_FEE,
    SETTLE_MIN_VALUE,
    parseChannelJobs,
    parseChannelTerms,
    publicKeyToInt,
    signReceipt,
    storeFaultSlash,
    storeJobExpired,
    storeJobVerdict,
    storeOpenChannel,
    storeSettled,
    storeChannelAccepted,
    storeOpen,
    storeRequestClose,
    VerdictKind,
    WORKER_STATUS_UNBONDING,
} from '../wrappers';
import { Rejector } from '../build/TestFixtures/TestFixtures_Rejector';
import { ed25519FromSeed } from '../agents/core/ed25519';
import { createNetwork, devParams, MODEL_A, MODEL_B, Network, nowOf, registerWorker, RegisteredWorker, snapshotOf } from './helpers/cocoon';
import { balanceOf, expectNothingSentTo, expectRefused, receivedBy } from './helpers/assertions';
import {
    commitResult,
    expectBooksCovered,
    openChannel,
    openedChannel,
    OpenedChannel,
    operationValuesOf,
    owed,
    postJob,
    receiptFor,
    settle,
    voucher,
} from './helpers/channel';

const PRICE_PROMPT = 1000n;
const PRICE_COMPLETION = 2000n;
const RECEIPT_COST = 100n * PRICE_PROMPT + 200n * PRICE_COMPLETION; // receiptFor's default tokens
const FEE_BPS = 100n; // devParams protocolFeeBps
const fee = (amount: bigint) => (amount * FEE_BPS) / 10000n;

describe('Channel', () => {
    let net: Network;
    let restore: () => Promise<void>;
    let owner: SandboxContract<TreasuryContract>;
    let client: SandboxContract<TreasuryContract>;
    let stranger: SandboxContract<TreasuryContract>;
    let registered: RegisteredWorker;
    let opened: OpenedChannel;
    let channel: SandboxContract<Channel>;
    let values: Awaited<ReturnType<typeof operationValuesOf>>;

    beforeAll(async () => {
        net = await createNetwork();
        owner = await net.blockchain.treasury('owner');
        client = await net.blockchain.treasury('client');
        stranger = await net.blockchain.treasury('stranger');
        registered = await registerWorker(net, owner, { stake: toNano('20') });
        opened = await openedChannel(net, client, registered, { deposit: toNano('10') });
        channel = opened.channel;
        values = await operationValuesOf(channel);
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(async () => restore());

    const send = (from: SandboxContract<TreasuryContract>, value: bigint, body: Parameters<SandboxContract<Channel>['send']>[2]) =>
        channel.send(from.getSender(), { value }, body);
    const at = (seconds: bigint | number) => {
        net.blockchain.now = Number(seconds);
    };
    const settledRecord = (result: SendMessageResult) => eventsOfType(eventsOfAll(result.transactions), 'ChannelSettled');
    const finalizedRecord = (result: SendMessageResult) => eventsOfType(eventsOfAll(result.transactions), 'JobFinalized');

    async function committedJob(maxPayment = toNano('1')) {
        const { seq } = await postJob(net, opened, { maxPayment });
        await commitResult(opened, owner, seq);
        return seq;
    }

    async function disputedJob() {
        const seq = await committedJob();
        await send(client, values.dispute + toNano('1'), { $$type: 'Dispute', queryId: 0n, seq });
        return seq;
    }

    /** Sends an AuditVerdict for job `seq` of this channel through Root. */
    function verdict(seq: bigint, kind: bigint, options: { expiry?: bigint; target?: Address; subject?: bigint } = {}) {
        const body = auditVerdictBody(
            {
                kind,
                target: options.target ?? channel.address,
                subject: options.subject ?? jobSubject(channel.address, seq),
                evidenceHash: 7n,
                expiry: options.expiry ?? nowOf(net) + 3600n,
            },
            [net.auditors[0]],
        );
        return net.root.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 5n, ...body });
    }

    // =============================== Open ===============================

    describe('Open (deploy, open handshake)', () => {
        it('opens against a serving worker: deposit = value - OPEN_FEE, keys, payee, prices and params snapshotted', async () => {
            const state = await channel.getState();
            expect(state.status).toBe(CHANNEL_OPEN);
            expect(state.deposit).toBe(toNano('10'));
            expect(state.free).toBe(toNano('10'));
            expect(state.payee.equals(owner.address)).toBe(true);
            expect(state.clientKey).toBe(publicKeyToInt(opened.clientKey.publicKey));
            expect(state.signingKey).toBe(publicKeyToInt(registered.keys.signing.publicKey));
            expect(state.encryptionKey).toBe(registered.keys.encryptionKey);
            expect(state.protocolFeeBps).toBe(FEE_BPS);
            const terms = parseChannelTerms(await channel.getTerms())!;
            expect(terms.params.challengeWindow).toBe(net.params.channel.challengeWindow);
            expect(terms.prices.get(MODEL_A)!.prompt).toBe(PRICE_PROMPT);
            const events = eventsOfAll(opened.result.transactions);
            expect(eventsOfType(events, 'ChannelOpenRequested')[0].deposit).toBe(toNano('10'));
            expect(eventsOfType(events, 'ChannelOpened')[0].payee.equals(owner.address)).toBe(true);
            // The address is channelFor(root, client, worker): the Worker authenticated it.
            const expected = await channelFor(net.root.address, client.address, registered.worker.address);
            expect(expected.address.equals(channel.address)).toBe(true);
            await expectBooksCovered(net, channel);
        });

        it('refuses an Open from anyone but the client; nothing is credited', async () => {
            const result = await send(stranger, toNano('5'), { $$type: 'Open', queryId: 0n, clientKey: 1n });
            expectRefused(result, channel.address, Number(ERR_NOT_CLIENT));
            expect((await channel.getState()).deposit).toBe(toNano('10'));
        });

        it('refuses a second Open while open, a zero key, and a value not above OPEN_FEE', async () => {
            expectRefused(await send(client, toNano('5'), { $$type: 'Open', queryId: 0n, clientKey: 1n }), channel.address, Number(ERR_CHANNEL_STATE));
            const fresh = await net.blockchain.treasury('fresh-client');
            const c2 = net.blockchain.openContract(await channelFor(net.root.address, fresh.address, registered.worker.address));
            expectRefused(await c2.send(fresh.getSender(), { value: toNano('5') }, { $$type: 'Open', queryId: 0n, clientKey: 0n }), c2.address, Number(ERR_ZERO_KEY));
            expectRefused(await c2.send(fresh.getSender(), { value: OPEN_FEE }, { $$type: 'Open', queryId: 0n, clientKey: 1n }), c2.address, Number(ERR_LOW_VALUE));
        });

        it('a worker that is not serving (unbonding) refuses: the client gets the whole deposit back, nothing stays held', async () => {
            await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
            expect(await registered.worker.getStatus()).toBe(WORKER_STATUS_UNBONDING);
            const other = await net.blockchain.treasury('other-client');
            const before = await other.getBalance();
            const { channel: c2, result } = await openChannel(net, other, registered, { deposit: toNano('3') });
            expect(result.transactions).toHaveTransaction({ from: c2.address, to: registered.worker.address, success: false, exitCode: Number(ERR_WRONG_STATUS) });
            expect((await c2.getState()).status).toBe(CHANNEL_CLOSED);
            expect((await c2.getState()).deposit).toBe(0n);
            expect(eventsOfType(eventsOfAll(result.transactions), 'ChannelOpenFailed')[0].refund).toBe(toNano('3'));
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
            // Only gas and forward fees are gone (the StateInit carries the Channel's code:
            // about 0.025 TON to forward, docs/gas.md).
            expect(before - (await other.getBalance())).toBeLessThan(toNano('0.08'));
        });

        it('refuses while Root is paused (synced to the worker): ERR_PAUSED, deposit refunded', async () => {
            await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'Pause', queryId: 0n });
            await registered.worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });
            const other = await net.blockchain.treasury('paused-client');
            const { channel: c2, result } = await openChannel(net, other, registered, { deposit: toNano('3') });
            expect(result.transactions).toHaveTransaction({ from: c2.address, to: registered.worker.address, exitCode: Number(ERR_PAUSED) });
            expect((await c2.getState()).status).toBe(CHANNEL_CLOSED);
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });

        it('refunds a deposit below minChannelDeposit once the worker has answered', async () => {
            const other = await net.blockchain.treasury('small-client');
            const { channel: c2, result } = await openChannel(net, other, registered, { deposit: toNano('0.5') });
            expect(result.transactions).toHaveTransaction({ from: registered.worker.address, to: c2.address, success: true });
            expect((await c2.getState()).status).toBe(CHANNEL_CLOSED);
            expect(receivedBy(result, other.address, c2.address)).toBeGreaterThan(toNano('0.5'));
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });

        it('a channel to an address that never answers can be cancelled by the client (RequestClose while Opening)', async () => {
            const wallet = await net.blockchain.treasury('not-a-worker');
            const other = await net.blockchain.treasury('lost-client');
            const c2 = net.blockchain.openContract(await channelFor(net.root.address, other.address, wallet.address));
            await c2.send(other.getSender(), { value: toNano('2') + OPEN_FEE }, { $$type: 'Open', queryId: 0n, clientKey: 1n });
            expect((await c2.getState()).status).toBe(CHANNEL_OPENING);
            const result = await c2.send(other.getSender(), { value: toNano('0.05') }, { $$type: 'RequestClose', queryId: 0n });
            expect((await c2.getState()).status).toBe(CHANNEL_CLOSED);
            expect(receivedBy(result, other.address, c2.address)).toBeGreaterThan(toNano('2'));
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });

        it('a closed channel reopens with a fresh deposit and keeps its voucher counter (old vouchers stay spent)', async () => {
            await settle(opened, owner, toNano('2'));
            await settle(opened, owner, toNano('2'), { final: true });
            expect((await channel.getState()).status).toBe(CHANNEL_CLOSED);
            const result = await send(client, toNano('4') + OPEN_FEE, { $$type: 'Open', queryId: 9n, clientKey: publicKeyToInt(opened.clientKey.publicKey) });
            expect(eventsOfType(eventsOfAll(result.transactions), 'ChannelOpened')).toHaveLength(1);
            const state = await channel.getState();
            expect(state.status).toBe(CHANNEL_OPEN);
            expect(state.free).toBe(toNano('4'));
            expectRefused(await settle(opened, owner, toNano('2')), channel.address, Number(ERR_OLD_VOUCHER));
            const paid = await settle(opened, owner, toNano('3'));
            expect(settledRecord(paid)[0].amount).toBe(toNano('1'));
        });
    });

    describe('ChannelAccepted', () => {
        it('refuses an answer from anyone but the channel’s Worker, and one when not Opening', async () => {
            const body = beginCell()
                .store(
                    storeChannelAccepted({
                        $$type: 'ChannelAccepted',
                        queryId: 0n,
                        signingKey: 1n,
                        encryptionKey: 2n,
                        payee: stranger.address,
                        params: net.params.channel,
                        prices: (await registered.worker.getPrices()),
                    }),
                )
                .endCell();
            const forged = await net.blockchain.sendMessage(internal({ from: stranger.address, to: channel.address, value: toNano('0.1'), body }));
            expectRefused(forged, channel.address, Number(ERR_NOT_CHANNEL_WORKER));
            const late = await net.blockchain.sendMessage(internal({ from: registered.worker.address, to: channel.address, value: toNano('0.1'), body }));
            expectRefused(late, channel.address, Number(ERR_CHANNEL_STATE));
            expect((await channel.getState()).payee.equals(owner.address)).toBe(true);
        });
    });

    // =============================== TopUp ===============================

    describe('TopUp', () => {
        it('credits the value less its fees to the deposit, from anyone', async () => {
            const result = await send(stranger, toNano('3'), { $$type: 'TopUp', queryId: 0n });
            const event = eventsOfType(eventsOfAll(result.transactions), 'ToppedUp')[0];
            expect(event.amount).toBe(toNano('3') - values.topUp + 1n);
            expect((await channel.getState()).deposit).toBe(toNano('10') + event.amount);
            await expectBooksCovered(net, channel);
        });

        it('refuses a value that does not cover its fees', async () => {
            expectRefused(await send(client, values.topUp - 1n, { $$type: 'TopUp', queryId: 0n }), channel.address, Number(ERR_LOW_VALUE));
        });
    });

    // =============================== Settle ===============================

    describe('Settle', () => {
        it('pays the payee cumulative - settled less the fee, keeps the fee, records amounts and the batch in the payout', async () => {
            const before = await owner.getBalance();
            const result = await settle(opened, stranger, toNano('2'), { batchRoot: 0xbeefn, count: 7n });
            const rec = settledRecord(result)[0];
            expect(rec).toMatchObject({ cumulative: toNano('2'), amount: toNano('2'), fee: fee(toNano('2')), count: 7n, batchRoot: 0xbeefn });
            const got = receivedBy(result, owner.address, channel.address);
            expect(got).toBeGreaterThanOrEqual(toNano('2') - fee(toNano('2')));
            expect(got).toBeLessThan(toNano('2') - fee(toNano('2')) + values.settle);
            expect((await owner.getBalance()) - before).toBeGreaterThan(toNano('1.97'));
            const state = await channel.getState();
            expect(state.settled).toBe(toNano('2'));
            expect(state.fees).toBe(fee(toNano('2')));
            expect(state.unreportedAmount).toBe(toNano('2') - fee(toNano('2')));
            expectNothingSentTo(result, client.address);
            expectNothingSentTo(result, registered.worker.address);
            await expectBooksCovered(net, channel);
        });

        it('pays only the difference for a newer voucher and refuses an older or equal one (a voucher never pays twice)', async () => {
            await settle(opened, owner, toNano('2'));
            const second = await settle(opened, owner, toNano('5'));
            expect(settledRecord(second)[0].amount).toBe(toNano('3'));
            expectRefused(await settle(opened, owner, toNano('5')), channel.address, Number(ERR_OLD_VOUCHER));
            expectRefused(await settle(opened, owner, toNano('4')), channel.address, Number(ERR_OLD_VOUCHER));
            expect((await channel.getState()).settled).toBe(toNano('5'));
        });

        it('refuses a voucher for another channel, a bad or foreign signature, and another signed object', async () => {
            expectRefused(await settle(opened, owner, toNano('1'), { voucherChannel: stranger.address }), channel.address, Number(ERR_WRONG_TARGET));
            expectRefused(await settle(opened, owner, toNano('1'), { signer: ed25519FromSeed(Buffer.alloc(32, 9)) }), channel.address, Number(ERR_BAD_SIGNATURE));
            expectRefused(await settle(opened, owner, toNano('1'), { signer: registered.keys.signing }), channel.address, Number(ERR_BAD_SIGNATURE));
            // A receipt cell signed by the client key is not a voucher (the tag differs).
            const receipt = signReceipt(receiptFor(opened, 1n), opened.clientKey.seed);
            const result = await send(owner, values.settle, {
                $$type: 'Settle', queryId: 0n, voucher: receipt.cell, signature: receipt.signature, batchRoot: 0n, count: 1n, final: false,
            });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: false });
            expect((await channel.getState()).settled).toBe(0n);
        });

        it('refuses more than the free deposit, counting what open jobs lock', async () => {
            expectRefused(await settle(opened, owner, toNano('10') + 1n), channel.address, Number(ERR_INSUFFICIENT_DEPOSIT));
            await postJob(net, opened, { maxPayment: toNano('4') });
            expectRefused(await settle(opened, owner, toNano('6') + 1n), channel.address, Number(ERR_INSUFFICIENT_DEPOSIT));
            await settle(opened, owner, toNano('6'));
            expect((await channel.getState()).free).toBe(0n);
        });

        it('refuses a value below the operation fee', async () => {
            expectRefused(await settle(opened, owner, toNano('1'), { value: SETTLE_MIN_VALUE - 1n }), channel.address, Number(ERR_LOW_VALUE));
        });

        it('keeps working while Closing, and is refused once Closed', async () => {
            await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
            await settle(opened, owner, toNano('1'));
            expect((await channel.getState()).settled).toBe(toNano('1'));
            at(nowOf(net) + net.params.channel.clientCloseDelay);
            await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n });
            expectRefused(await settle(opened, owner, toNano('2')), channel.address, Number(ERR_CHANNEL_STATE));
        });

        describe('final (cooperative close by the payee)', () => {
            it('pays the last voucher, refunds the client everything else, sends the fees to Root and the earnings to the Worker', async () => {
                await settle(opened, owner, toNano('1'));
                const rootBefore = (await net.root.getState()).feesReceived;
                const result = await settle(opened, owner, toNano('3'), { final: true });
                expect(settledRecord(result)[0]).toMatchObject({ amount: toNano('2') });
                const closed = eventsOfType(eventsOfAll(result.transactions), 'ChannelClosed')[0];
                expect(closed.refund).toBe(toNano('7'));
                expect(closed.fees).toBe(fee(toNano('1')) + fee(toNano('2')));
                expect(receivedBy(result, client.address, channel.address)).toBeGreaterThan(toNano('7'));
                expect((await net.root.getState()).feesReceived - rootBefore).toBe(closed.fees);
                const report = eventsOfType(eventsOfAll(result.transactions), 'EarningsReported')[0];
                expect(report.amount).toBe(toNano('3') - closed.fees);
                expect((await registered.worker.getStats()).earned).toBe(toNano('3') - closed.fees);
                const state = await channel.getState();
                expect(state.status).toBe(CHANNEL_CLOSED);
                expect(owed(state)).toBe(0n);
                expect(await balanceOf(net.blockchain, channel.address)).toBe(0n);
            });

            it('may repeat the last settled voucher to close, and is refused to anyone but the payee or with open jobs', async () => {
                await settle(opened, owner, toNano('1'));
                expectRefused(await settle(opened, client, toNano('1'), { final: true }), channel.address, Number(ERR_NOT_PAYEE));
                expectRefused(await settle(opened, stranger, toNano('1'), { final: true }), channel.address, Number(ERR_NOT_PAYEE));
                await postJob(net, opened);
                expectRefused(await settle(opened, owner, toNano('1'), { final: true }), channel.address, Number(ERR_CHANNEL_OPEN_JOBS));
                expectRefused(await settle(opened, owner, toNano('1') - 1n, { final: true }), channel.address, Number(ERR_OLD_VOUCHER));
            });
        });
    });

    // =============================== PostJob ===============================

    describe('PostJob', () => {
        it('locks maxPayment and emits JobPosted with the input, in one transaction (the Worker is not asked)', async () => {
            const input = beginCell().storeStringTail('encrypted prompt').endCell();
            const deadline = nowOf(net) + 300n;
            const { seq, result } = await postJob(net, opened, { maxPayment: toNano('2'), input, deadline, extra: toNano('0.01') });
            expect(seq).toBe(ONCHAIN_SEQ_BASE);
            expect(result.transactions).toHaveLength(2); // the client's wallet, the Channel
            expect(result.transactions).not.toHaveTransaction({ from: channel.address });
            const posted = eventsOfType(eventsOfAll(result.transactions), 'JobPosted')[0];
            expect(posted).toMatchObject({ seq, model: MODEL_A, maxPayment: toNano('2'), deadline });
            expect(posted.input!.equals(input)).toBe(true);
            const state = await channel.getState();
            expect(state.locked).toBe(toNano('2'));
            // The value above the fees (including the input's forwarding) was credited first.
            expect(state.free).toBeGreaterThan(toNano('8'));
            expect(state.free).toBeLessThan(toNano('8.01'));
            expect(state.openJobs).toBe(1n);
            expect(state.nextSeq).toBe(seq + 1n);
            expect(parseChannelJobs(await channel.getJobs()).get(seq)!.maxPayment).toBe(toNano('2'));
            // `at` is the posting time until a commit: JobExpired tells the Worker when it was posted.
            expect((await channel.getJob(seq))!).toMatchObject({ status: JOB_POSTED, maxPayment: toNano('2'), deadline, at: nowOf(net) });
            expectNothingSentTo(result, owner.address);
            await expectBooksCovered(net, channel);
        });

        it('may bring its own funding: the value above the fees is credited before the lock', async () => {
            await settle(opened, owner, toNano('10'));
            expect((await channel.getState()).free).toBe(0n);
            const { result } = await postJob(net, opened, { maxPayment: toNano('1'), extra: toNano('1') });
            expect(result.transactions).toHaveTransaction({ to: channel.address, success: true });
            expect((await channel.getState()).locked).toBe(toNano('1'));
        });

        it('refuses a stranger, a wrong seq, a past or too far deadline, an unpriced model, a zero payment, too little value or deposit', async () => {
            const post = (o: Parameters<typeof postJob>[2], from = client) => postJob(net, { ...opened, client: from }, o);
            expectRefused((await post({}, stranger)).result, channel.address, Number(ERR_NOT_CLIENT));
            expectRefused((await post({ seq: ONCHAIN_SEQ_BASE + 1n })).result, channel.address, Number(ERR_WRONG_SEQ));
            expectRefused((await post({ seq: 5n })).result, channel.address, Number(ERR_WRONG_SEQ));
            expectRefused((await post({ deadline: nowOf(net) })).result, channel.address, Number(ERR_BAD_DEADLINE));
            expectRefused((await post({ deadline: nowOf(net) + net.params.channel.maxJobDeadline + 1n })).result, channel.address, Number(ERR_BAD_DEADLINE));
            expectRefused((await post({ model: MODEL_B })).result, channel.address, Number(ERR_MODEL_NOT_PRICED));
            expectRefused((await post({ maxPayment: 0n })).result, channel.address, Number(ERR_BAD_AMOUNT));
            expectRefused((await post({ value: values.postJob - 1n })).result, channel.address, Number(ERR_LOW_VALUE));
            expectRefused((await post({ maxPayment: toNano('10') + 1n })).result, channel.address, Number(ERR_INSUFFICIENT_DEPOSIT));
            const state = await channel.getState();
            expect(state.locked).toBe(0n);
            expect(state.openJobs).toBe(0n);
        });

        it('refuses an inline input of more than MAX_PAYLOAD_CELLS cells', async () => {
            let input = beginCell().storeUint(1, 8).endCell();
            for (let i = 0; i < Number(MAX_PAYLOAD_CELLS); i++) input = beginCell().storeUint(i, 8).storeRef(input).endCell();
            expectRefused((await postJob(net, opened, { input, extra: toNano('1') })).result, channel.address, Number(ERR_PAYLOAD_TOO_BIG));
        });

        it('refuses more than maxOpenJobs open jobs', async () => {
            const small = await createNetwork({ params: devParams({ channel: { maxOpenJobs: 2n } }) });
            const o = await small.blockchain.treasury('owner');
            const c = await small.blockchain.treasury('client');
            const w = await registerWorker(small, o);
            const ch = await openedChannel(small, c, w);
            await postJob(small, ch);
            await postJob(small, ch);
            expectRefused((await postJob(small, ch)).result, ch.channel.address, Number(ERR_TOO_MANY_JOBS));
        });

        it('refused while Closing', async () => {
            await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
            expectRefused((await postJob(net, opened)).result, channel.address, Number(ERR_CHANNEL_STATE));
        });

        // A job binds the worker only if it was serving when the job was posted (docs/channel.md,
        // "Jobs and the worker's status"): posting to one that is not is allowed, and costs the
        // client nothing but the wait until the deadline; the expiry then slashes nothing.
        const expireUnbound = async (seq: bigint, deadline: bigint, refunds = true) => {
            const stake = await registered.worker.getStake();
            const expiredBefore = (await registered.worker.getStats()).jobsExpired;
            at(deadline + 1n);
            const result = await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(eventsOfType(eventsOfAll(result.transactions), 'JobTimedOut')[0].seq).toBe(seq);
            const notBinding = eventsOfType(eventsOfAll(result.transactions), 'JobNotBinding');
            expect(notBinding).toHaveLength(1);
            expect(notBinding[0]).toMatchObject({ seq, postedAt: deadline - 100n });
            expect(eventsOfType(eventsOfAll(result.transactions), 'WorkerSlashed')).toHaveLength(0);
            expect(await registered.worker.getStake()).toBe(stake);
            expect((await registered.worker.getStats()).jobsExpired).toBe(expiredBefore);
            // The unused value of the notice still comes back to the client.
            // The unused value of the notice comes back to the client (unless a long idle spell's
            // rent, which the Worker makes good out of it, took it all).
            if (refunds) expect(receivedBy(result, client.address, registered.worker.address)).toBeGreaterThan(0n);
            const state = await channel.getState();
            expect(state.locked).toBe(0n);
            expect(state.openJobs).toBe(0n);
            await expectBooksCovered(net, channel);
        };

        it('a job posted to a worker that stopped serving (unbonding) does not bind it: its expiry unlocks the money and slashes nothing', async () => {
            await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
            at(nowOf(net) + 1n); // (in the very second it stopped, a job would still bind it)
            const deadline = nowOf(net) + 100n;
            const { seq } = await postJob(net, opened, { maxPayment: toNano('3'), deadline });
            expect((await channel.getState()).locked).toBe(toNano('3'));
            await expireUnbound(seq, deadline);
        });

        it('a job posted while the network is paused (as the Worker last synced) does not bind the worker', async () => {
            at(nowOf(net) + 10n);
            await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'Pause', queryId: 0n });
            await registered.worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });
            at(nowOf(net) + 1n);
            const deadline = nowOf(net) + 100n;
            const { seq } = await postJob(net, opened, { deadline });
            await expireUnbound(seq, deadline);
        });

        it('a job posted after the worker\'s attestation expired does not bind it', async () => {
            const { attestationExpiry } = await registered.worker.getInfo();
            at(attestationExpiry + 1n);
            const deadline = nowOf(net) + 100n;
            const { seq } = await postJob(net, opened, { deadline });
            await expireUnbound(seq, deadline, false);
        });

        it('a job posted while the worker was serving binds it, whatever its status later (unbonding, jailed, back again)', async () => {
            const deadline = nowOf(net) + 100n;
            const { seq } = await postJob(net, opened, { maxPayment: toNano('2'), deadline });
            at(nowOf(net) + 10n);
            await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
            at(deadline + 1n);
            const stake = await registered.worker.getStake();
            const result = await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(eventsOfType(eventsOfAll(result.transactions), 'JobNotBinding')).toHaveLength(0);
            expect(eventsOfType(eventsOfAll(result.transactions), 'WorkerSlashed')[0].amount).toBe(net.params.timeoutSlash);
            expect(await registered.worker.getStake()).toBe(stake - net.params.timeoutSlash);
        });

        it('the Worker keeps the longest claim span any Channel got at open; unbondAt is never sooner', async () => {
            const { challengeWindow, disputeWindow, maxJobDeadline } = net.params.channel;
            expect(await registered.worker.getClaimSpan()).toBe(maxJobDeadline + challengeWindow + disputeWindow);
        });
    });

    // =============================== CommitResult ===============================

    describe('CommitResult', () => {
        it('stores min(maxPayment, tokens x prices) from the worker-signed receipt, from any relayer, and starts the challenge window', async () => {
            const { seq } = await postJob(net, opened);
            const output = beginCell().storeStringTail('encrypted answer').endCell();
            const result = await commitResult(opened, stranger, seq, { output, value: values.commitResult + toNano('0.01') });
            const committed = eventsOfType(eventsOfAll(result.transactions), 'ResultCommitted')[0];
            expect(committed).toMatchObject({ seq, resultHash: 0xabcdn, promptTokens: 100n, completionTokens: 200n, payment: RECEIPT_COST });
            expect(committed.output!.equals(output)).toBe(true);
            expect((await channel.getJob(seq))!).toMatchObject({ status: JOB_COMMITTED, payment: RECEIPT_COST, tokens: 300n, at: nowOf(net) });
            expect((await channel.getState()).locked).toBe(toNano('1'));
            expectNothingSentTo(result, owner.address);
        });

        it('caps the payment at maxPayment', async () => {
            const { seq } = await postJob(net, opened, { maxPayment: 1000n });
            await commitResult(opened, owner, seq);
            expect((await channel.getJob(seq))!.payment).toBe(1000n);
        });

        it('returns an over-attached value to the relayer', async () => {
            const { seq } = await postJob(net, opened);
            const result = await commitResult(opened, stranger, seq, { value: values.commitResult + toNano('1') });
            expect(receivedBy(result, stranger.address, channel.address)).toBeGreaterThan(toNano('0.99'));
        });

        it('refuses an unknown job, a second commit, a commit after the deadline', async () => {
            expectRefused(await commitResult(opened, owner, ONCHAIN_SEQ_BASE), channel.address, Number(ERR_NO_SUCH_JOB));
            const { seq: first } = await postJob(net, opened, { deadline: nowOf(net) + 100n });
            const { seq: second } = await postJob(net, opened, { deadline: nowOf(net) + 100n });
            await commitResult(opened, owner, first);
            expectRefused(await commitResult(opened, owner, first, { fields: { resultHash: 1n } }), channel.address, Number(ERR_JOB_STATE));
            at(nowOf(net) + 100n);
            await commitResult(opened, owner, second, { fields: { seq: second } });
            expect((await channel.getJob(second))!.status).toBe(JOB_COMMITTED);
        });

        it('refuses a commit after the deadline', async () => {
            const { seq } = await postJob(net, opened, { deadline: nowOf(net) + 100n });
            at(nowOf(net) + 101n);
            expectRefused(await commitResult(opened, owner, seq), channel.address, Number(ERR_PAST_DEADLINE));
        });

        it('refuses a receipt not signed by the worker key snapshotted at open, for another channel, seq, model or input', async () => {
            const { seq } = await postJob(net, opened);
            expectRefused(await commitResult(opened, owner, seq, { signer: opened.clientKey }), channel.address, Number(ERR_BAD_SIGNATURE));
            expectRefused(await commitResult(opened, owner, seq, { fields: { channel: stranger.address } }), channel.address, Number(ERR_WRONG_TARGET));
            expectRefused(await commitResult(opened, owner, seq, { fields: { seq: seq + 1n } }), channel.address, Number(ERR_RECEIPT_MISMATCH));
            expectRefused(await commitResult(opened, owner, seq, { fields: { model: MODEL_B } }), channel.address, Number(ERR_RECEIPT_MISMATCH));
            expectRefused(await commitResult(opened, owner, seq, { fields: { inputHash: 0x9999n } }), channel.address, Number(ERR_RECEIPT_MISMATCH));
            expect((await channel.getJob(seq))!.status).toBe(JOB_POSTED);
        });

        it('refuses too little value, and an inline output of too many cells', async () => {
            const { seq } = await postJob(net, opened);
            expectRefused(await commitResult(opened, owner, seq, { value: values.commitResult - 1n }), channel.address, Number(ERR_LOW_VALUE));
            let output = beginCell().endCell();
            for (let i = 0; i < Number(MAX_PAYLOAD_CELLS); i++) output = beginCell().storeRef(output).endCell();
            expectRefused(await commitResult(opened, owner, seq, { output, value: toNano('1') }), channel.address, Number(ERR_PAYLOAD_TOO_BIG));
        });
    });

    // =============================== Dispute ===============================

    describe('Dispute', () => {
        it('locks the bond from the attached value within the challenge window', async () => {
            const seq = await committedJob();
            const result = await send(client, values.dispute + toNano('1'), { $$type: 'Dispute', queryId: 0n, seq });
            expect(eventsOfType(eventsOfAll(result.transactions), 'JobDisputed')[0]).toMatchObject({ seq, bond: toNano('1') });
            const state = await channel.getState();
            expect(state.locked).toBe(toNano('2'));
            expect(state.free).toBe(toNano('9'));
            expect((await channel.getJob(seq))!.status).toBe(JOB_DISPUTED);
            await expectBooksCovered(net, channel);
        });

        it('refuses a stranger, an unknown or uncommitted job, the end of the window, a bond the deposit cannot cover, too little value', async () => {
            const seq = await committedJob();
            expectRefused(await send(stranger, toNano('2'), { $$type: 'Dispute', queryId: 0n, seq }), channel.address, Number(ERR_NOT_CLIENT));
            expectRefused(await send(client, toNano('2'), { $$type: 'Dispute', queryId: 0n, seq: seq + 5n }), channel.address, Number(ERR_NO_SUCH_JOB));
            const { seq: posted } = await postJob(net, opened);
            expectRefused(await send(client, toNano('2'), { $$type: 'Dispute', queryId: 0n, seq: posted }), channel.address, Number(ERR_JOB_STATE));
            expectRefused(await send(client, values.dispute - 1n, { $$type: 'Dispute', queryId: 0n, seq }), channel.address, Number(ERR_LOW_VALUE));
            await settle(opened, owner, toNano('8'));
            expectRefused(await send(client, values.dispute, { $$type: 'Dispute', queryId: 0n, seq }), channel.address, Number(ERR_INSUFFICIENT_DEPOSIT));
            at(nowOf(net) + net.params.channel.challengeWindow);
            expectRefused(await send(client, toNano('2'), { $$type: 'Dispute', queryId: 0n, seq }), channel.address, Number(ERR_WINDOW_OVER));
        });
    });

    // =============================== FinalizeJob ===============================

    describe('FinalizeJob', () => {
        it('after the challenge window pays the payee the payment less the fee (the rest unlocked); counters wait for the report', async () => {
            const seq = await committedJob();
            at(nowOf(net) + net.params.channel.challengeWindow);
            const result = await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq });
            expect(finalizedRecord(result)[0]).toMatchObject({ seq, payment: RECEIPT_COST, fee: fee(RECEIPT_COST), bond: 0n });
            expect(receivedBy(result, owner.address, channel.address)).toBeGreaterThanOrEqual(RECEIPT_COST - fee(RECEIPT_COST));
            const state = await channel.getState();
            expect(state.locked).toBe(0n);
            expect(state.deposit).toBe(toNano('10') - RECEIPT_COST);
            expect(state.fees).toBe(fee(RECEIPT_COST));
            expect(state.openJobs).toBe(0n);
            expect(state).toMatchObject({ unreportedJobs: 1n, unreportedTokens: 300n, unreportedAmount: RECEIPT_COST - fee(RECEIPT_COST) });
            expect(await channel.getJob(seq)).toBeNull();
            expectNothingSentTo(result, client.address);
            expectNothingSentTo(result, registered.worker.address);
            await expectBooksCovered(net, channel);
        });

        it('a dispute with no verdict in disputeWindow resolves for the worker: payment plus the client’s bond', async () => {
            const seq = await disputedJob();
            at(nowOf(net) + net.params.channel.disputeWindow - 1n);
            expectRefused(await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq }), channel.address, Number(ERR_WINDOW_NOT_OVER));
            at(nowOf(net) + 1n);
            const result = await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq });
            expect(finalizedRecord(result)[0]).toMatchObject({ seq, payment: RECEIPT_COST, bond: toNano('1') });
            expect(receivedBy(result, owner.address, channel.address)).toBeGreaterThan(toNano('1'));
            expect((await channel.getState()).locked).toBe(0n);
            await expectBooksCovered(net, channel);
        });

        it('refuses an unknown job, one without a result, the challenge window still running, too little value; pays once', async () => {
            expectRefused(await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq: 1n }), channel.address, Number(ERR_NO_SUCH_JOB));
            const { seq: posted } = await postJob(net, opened);
            expectRefused(await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq: posted }), channel.address, Number(ERR_JOB_STATE));
            await commitResult(opened, owner, posted);
            at(nowOf(net) + net.params.channel.challengeWindow - 1n);
            expectRefused(await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq: posted }), channel.address, Number(ERR_WINDOW_NOT_OVER));
            at(nowOf(net) + 1n);
            expectRefused(await send(stranger, FINALIZE_MIN_VALUE - 1n, { $$type: 'FinalizeJob', queryId: 0n, seq: posted }), channel.address, Number(ERR_LOW_VALUE));
            await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq: posted });
            expectRefused(await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq: posted }), channel.address, Number(ERR_NO_SUCH_JOB));
        });
    });

    // =============================== ExpireJob ===============================

    describe('ExpireJob', () => {
        it('after the deadline without a result: unlocks, and the Worker pays the client the timeout slash out of stake', async () => {
            const { seq } = await postJob(net, opened, { maxPayment: toNano('2'), deadline: nowOf(net) + 100n });
            at(nowOf(net) + 101n);
            const stake = await registered.worker.getStake();
            const result = await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(eventsOfType(eventsOfAll(result.transactions), 'JobTimedOut')[0]).toMatchObject({ seq, maxPayment: toNano('2') });
            const slashed = eventsOfType(eventsOfAll(result.transactions), 'WorkerSlashed')[0];
            expect(slashed.amount).toBe(net.params.timeoutSlash);
            expect(await registered.worker.getStake()).toBe(stake - net.params.timeoutSlash);
            expect(receivedBy(result, client.address, registered.worker.address)).toBeGreaterThanOrEqual(net.params.timeoutSlash - toNano('0.001'));
            const state = await channel.getState();
            expect(state.locked).toBe(0n);
            expect(state.free).toBe(toNano('10'));
            expect((await registered.worker.getStats()).jobsExpired).toBe(1n);
            expectNothingSentTo(result, owner.address);
            await expectBooksCovered(net, channel);
        });

        it('never slashes more than the stake', async () => {
            const poor = await createNetwork({ params: devParams({ minWorkerStake: toNano('1'), timeoutSlash: toNano('1') }) });
            const o = await poor.blockchain.treasury('owner');
            const c = await poor.blockchain.treasury('client');
            const w = await registerWorker(poor, o, { stake: toNano('1') });
            const ch = await openedChannel(poor, c, w);
            const first = await postJob(poor, ch, { deadline: nowOf(poor) + 10n });
            await postJob(poor, ch, { deadline: nowOf(poor) + 10n });
            poor.blockchain.now = Number(nowOf(poor) + 11n);
            const v = await operationValuesOf(ch.channel);
            await ch.channel.send(c.getSender(), { value: v.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: first.seq });
            expect(await w.worker.getStake()).toBe(0n);
            const second = await ch.channel.send(c.getSender(), { value: v.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: first.seq + 1n });
            expect(eventsOfType(eventsOfAll(second.transactions), 'WorkerSlashed')).toHaveLength(0);
            expect(await w.worker.getStake()).toBe(0n);
            expect((await ch.channel.getState()).locked).toBe(0n);
        });

        it('refuses an unknown job, a committed one, before the deadline, and too little value', async () => {
            expectRefused(await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq: 3n }), channel.address, Number(ERR_NO_SUCH_JOB));
            const { seq } = await postJob(net, opened, { deadline: nowOf(net) + 100n });
            const { seq: committed } = await postJob(net, opened, { deadline: nowOf(net) + 100n });
            await commitResult(opened, owner, committed);
            at(nowOf(net) + 100n);
            expectRefused(await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq }), channel.address, Number(ERR_DEADLINE_NOT_PASSED));
            at(nowOf(net) + 1n);
            expectRefused(await send(client, values.expireJob - 1n, { $$type: 'ExpireJob', queryId: 0n, seq }), channel.address, Number(ERR_LOW_VALUE));
            expectRefused(await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq: committed }), channel.address, Number(ERR_JOB_STATE));
            await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(await channel.getJob(seq)).toBeNull();
        });
    });

    // =============================== JobVerdict ===============================

    describe('JobVerdict (AuditVerdict through Root)', () => {
        it('WorkerFault: payment and bond unlocked, the Worker slashes (reporter reward, client compensation)', async () => {
            const seq = await disputedJob();
            const stake = await registered.worker.getStake();
            const result = await verdict(seq, VerdictKind.WorkerFault);
            expect(eventsOfType(eventsOfAll(result.transactions), 'DisputeResolved')[0]).toMatchObject({ seq, workerAtFault: true });
            const slashed = (stake * 1000n) / 10000n;
            const reward = (slashed * 1000n) / 10000n;
            expect(await registered.worker.getStake()).toBe(stake - slashed);
            expect(receivedBy(result, stranger.address, registered.worker.address)).toBeGreaterThan(reward - toNano('0.001'));
            expect(receivedBy(result, client.address, registered.worker.address)).toBeGreaterThan(net.params.timeoutSlash - toNano('0.001'));
            expect((await registered.worker.getStats()).disputesLost).toBe(1n);
            const state = await channel.getState();
            expect(state.locked).toBe(0n);
            expect(state.free).toBe(toNano('11'));
            expectNothingSentTo(result, owner.address);
            await expectBooksCovered(net, channel);
        });

        it('WorkerRight: the job is paid plus the bond', async () => {
            const seq = await disputedJob();
            const result = await verdict(seq, VerdictKind.WorkerRight);
            expect(eventsOfType(eventsOfAll(result.transactions), 'DisputeResolved')[0]).toMatchObject({ seq, workerAtFault: false });
            expect(finalizedRecord(result)[0]).toMatchObject({ seq, payment: RECEIPT_COST, bond: toNano('1') });
            expect(receivedBy(result, owner.address, channel.address)).toBeGreaterThan(toNano('1'));
            expect((await channel.getState()).locked).toBe(0n);
            await expectBooksCovered(net, channel);
        });

        it('refuses a verdict on a job that is not disputed, after the dispute window, and a second one', async () => {
            const seq = await committedJob();
            let result = await verdict(seq, VerdictKind.WorkerFault);
            expect(result.transactions).toHaveTransaction({ from: net.root.address, to: channel.address, exitCode: Number(ERR_NO_DISPUTE) });
            await send(client, values.dispute + toNano('1'), { $$type: 'Dispute', queryId: 0n, seq });
            const late = await committedJob();
            await send(client, values.dispute + toNano('1'), { $$type: 'Dispute', queryId: 0n, seq: late });
            at(nowOf(net) + net.params.channel.disputeWindow - 1n);
            await verdict(seq, VerdictKind.WorkerRight);
            result = await verdict(seq, VerdictKind.WorkerFault);
            expect(result.transactions).toHaveTransaction({ to: channel.address, exitCode: Number(ERR_NO_DISPUTE) });
            at(nowOf(net) + 1n);
            result = await verdict(late, VerdictKind.WorkerFault);
            expect(result.transactions).toHaveTransaction({ to: channel.address, exitCode: Number(ERR_WINDOW_OVER) });
            expect((await channel.getJob(late))!.status).toBe(JOB_DISPUTED);
        });

        it('refuses a JobVerdict from anyone but Root, one for another target or kind, and an expired one', async () => {
            const seq = await disputedJob();
            const body = (kind: bigint, target = channel.address, expiry = nowOf(net) + 100n) =>
                beginCell()
                    .store(storeJobVerdict({
                        $$type: 'JobVerdict',
                        queryId: 0n,
                        verdict: { $$type: 'Verdict', kind, target, subject: jobSubject(channel.address, seq), evidenceHash: 0n, expiry },
                        reporter: stranger.address,
                    }))
                    .endCell();
            const from = (sender: Address, b: Cell) => net.blockchain.sendMessage(internal({ from: sender, to: channel.address, value: toNano('0.1'), body: b }));
            expectRefused(await from(stranger.address, body(VerdictKind.WorkerFault)), channel.address, Number(ERR_NOT_ROOT));
            expectRefused(await from(net.root.address, body(VerdictKind.WorkerFault, stranger.address)), channel.address, Number(ERR_WRONG_TARGET));
            expectRefused(await from(net.root.address, body(VerdictKind.AttestationOk)), channel.address, Number(ERR_NOT_JOB_VERDICT));
            expectRefused(await from(net.root.address, body(VerdictKind.WorkerFault, channel.address, nowOf(net))), channel.address, Number(ERR_EXPIRED));
            expect((await channel.getJob(seq))!.status).toBe(JOB_DISPUTED);
        });
    });

    // =============================== close ===============================

    describe('RequestClose / FinalizeClose', () => {
        it('Closing for clientCloseDelay, then refunds everything not settled, sends the fees to Root and leaves nothing behind', async () => {
            await settle(opened, owner, toNano('2'));
            const request = await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
            const closeAt = eventsOfType(eventsOfAll(request.transactions), 'CloseRequested')[0].closeAt;
            expect(closeAt).toBe(nowOf(net) + net.params.channel.clientCloseDelay);
            expect((await channel.getState()).status).toBe(CHANNEL_CLOSING);
            expectRefused(await send(client, toNano('1'), { $$type: 'TopUp', queryId: 0n }), channel.address, Number(ERR_CHANNEL_STATE));
            at(closeAt - 1n);
            expectRefused(await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n }), channel.address, Number(ERR_CLOSE_NOT_DUE));
            at(closeAt);
            const result = await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n });
            const closed = eventsOfType(eventsOfAll(result.transactions), 'ChannelClosed')[0];
            expect(closed).toMatchObject({ refund: toNano('8'), fees: fee(toNano('2')) });
            expect(receivedBy(result, client.address, channel.address)).toBeGreaterThan(toNano('8'));
            expect(receivedBy(result, net.root.address, channel.address)).toBeGreaterThanOrEqual(fee(toNano('2')));
            expect((await channel.getState()).status).toBe(CHANNEL_CLOSED);
            expect(await balanceOf(net.blockchain, channel.address)).toBe(0n);
        });

        it('refuses RequestClose from a stranger, twice, or with too little value; FinalizeClose when not Closing, with open jobs or too little value', async () => {
            expectRefused(await send(stranger, values.requestClose, { $$type: 'RequestClose', queryId: 0n }), channel.address, Number(ERR_NOT_CLIENT));
            expectRefused(await send(client, values.requestClose - 1n, { $$type: 'RequestClose', queryId: 0n }), channel.address, Number(ERR_LOW_VALUE));
            expectRefused(await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n }), channel.address, Number(ERR_CHANNEL_STATE));
            await postJob(net, opened, { deadline: nowOf(net) + 100n });
            await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
            expectRefused(await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n }), channel.address, Number(ERR_CHANNEL_STATE));
            at(nowOf(net) + net.params.channel.clientCloseDelay);
            expectRefused(await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n }), channel.address, Number(ERR_CHANNEL_OPEN_JOBS));
            await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq: ONCHAIN_SEQ_BASE });
            expectRefused(await send(stranger, values.finalizeClose - 1n, { $$type: 'FinalizeClose', queryId: 0n }), channel.address, Number(ERR_LOW_VALUE));
            await send(stranger, values.finalizeClose, { $$type: 'FinalizeClose', queryId: 0n });
            expect((await channel.getState()).status).toBe(CHANNEL_CLOSED);
        });
    });

    describe('SweepFees and ReportEarnings', () => {
        it('SweepFees sends the fees to Root and the unused value back; refuses with no fees or too little value', async () => {
            expectRefused(await send(stranger, values.sweepFees, { $$type: 'SweepFees', queryId: 0n }), channel.address, Number(ERR_NO_FEES));
            await settle(opened, owner, toNano('5'));
            expectRefused(await send(stranger, values.sweepFees - 1n, { $$type: 'SweepFees', queryId: 0n }), channel.address, Number(ERR_LOW_VALUE));
            const rootBefore = (await net.root.getState()).feesReceived;
            const result = await send(stranger, values.sweepFees + toNano('1'), { $$type: 'SweepFees', queryId: 0n });
            expect(eventsOfType(eventsOfAll(result.transactions), 'FeesSwept')[0].amount).toBe(fee(toNano('5')));
            expect((await net.root.getState()).feesReceived - rootBefore).toBe(fee(toNano('5')));
            expect(receivedBy(result, stranger.address, channel.address)).toBeGreaterThan(toNano('0.99'));
            expect((await channel.getState()).fees).toBe(0n);
            await expectBooksCovered(net, channel);
        });

        it('ReportEarnings moves the unreported earnings and on-chain job counts into the Worker counters', async () => {
            expectRefused(await send(stranger, values.reportEarnings, { $$type: 'ReportEarnings', queryId: 0n }), channel.address, Number(ERR_NOTHING_TO_REPORT));
            await settle(opened, owner, toNano('2'));
            const seq = await committedJob();
            at(nowOf(net) + net.params.channel.challengeWindow);
            await send(stranger, values.finalizeJob, { $$type: 'FinalizeJob', queryId: 0n, seq });
            expectRefused(await send(stranger, values.reportEarnings - 1n, { $$type: 'ReportEarnings', queryId: 0n }), channel.address, Number(ERR_LOW_VALUE));
            const result = await send(stranger, values.reportEarnings, { $$type: 'ReportEarnings', queryId: 0n });
            const earned = toNano('2') - fee(toNano('2')) + RECEIPT_COST - fee(RECEIPT_COST);
            expect(eventsOfType(eventsOfAll(result.transactions), 'EarningsReported')[0]).toMatchObject({ amount: earned, jobs: 1n, tokens: 300n });
            expect(await registered.worker.getStats()).toMatchObject({ earned, jobsCompleted: 1n, tokensServed: 300n });
            expect((await channel.getState()).unreportedAmount).toBe(0n);
        });
    });

    // =============================== bounces ===============================

    describe('bounce handlers (a Worker that cannot take a message)', () => {
        const breakWorker = () => net.blockchain.setShardAccount(registered.worker.address, createEmptyShardAccount(registered.worker.address));

        it('a bounced JobExpired leaves the books as they were: the job stays expired, the client’s money unlocked', async () => {
            const { seq } = await postJob(net, opened, { deadline: nowOf(net) + 10n });
            at(nowOf(net) + 11n);
            await breakWorker();
            const result = await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(result.transactions).toHaveTransaction({ from: registered.worker.address, to: channel.address, inMessageBounced: true });
            expect(eventsOfType(eventsOfAll(result.transactions), 'WorkerNoticeBounced')[0].seq).toBe(seq);
            expect((await channel.getState()).locked).toBe(0n);
            await expectBooksCovered(net, channel);
        });

        it('a bounced FaultSlash leaves the books as they were', async () => {
            const seq = await disputedJob();
            await breakWorker();
            const result = await verdict(seq, VerdictKind.WorkerFault);
            expect(eventsOfType(eventsOfAll(result.transactions), 'WorkerNoticeBounced')[0].seq).toBe(seq);
            expect((await channel.getState()).locked).toBe(0n);
            await expectBooksCovered(net, channel);
        });

        it('a bounced Settled report keeps the earnings unreported for the next report', async () => {
            await settle(opened, owner, toNano('2'));
            await breakWorker();
            await send(stranger, values.reportEarnings, { $$type: 'ReportEarnings', queryId: 0n });
            expect((await channel.getState()).unreportedAmount).toBe(toNano('2') - fee(toNano('2')));
        });

        it('a bounced OpenChannel refunds the deposit', async () => {
            await breakWorker();
            const other = await net.blockchain.treasury('bounced-open');
            const { channel: c2 } = await openChannel(net, other, registered, { deposit: toNano('2') });
            expect((await c2.getState()).status).toBe(CHANNEL_CLOSED);
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });
    });

    // =============================== Worker receivers ===============================

    describe('the Worker’s receivers for Channels', () => {
        const forged = (body: Cell) => net.blockchain.sendMessage(internal({ from: stranger.address, to: registered.worker.address, value: toNano('0.5'), body }));

        it('refuse every Channel message that does not come from initOf Channel(root, client, worker)', async () => {
            const c = client.address;
            const bodies = [
                beginCell().store(storeOpenChannel({ $$type: 'OpenChannel', queryId: 0n, client: c })).endCell(),
                beginCell().store(storeJobExpired({ $$type: 'JobExpired', queryId: 0n, seq: 1n, client: c, postedAt: 0n })).endCell(),
                beginCell().store(storeFaultSlash({ $$type: 'FaultSlash', queryId: 0n, seq: 1n, client: c, reporter: stranger.address })).endCell(),
                beginCell().store(storeSettled({ $$type: 'Settled', queryId: 0n, amount: toNano('1000'), jobs: 5n, tokens: 5n, client: c })).endCell(),
            ];
            const stake = await registered.worker.getStake();
            for (const body of bodies) expectRefused(await forged(body), registered.worker.address, Number(ERR_NOT_CHANNEL));
            expect(await registered.worker.getStake()).toBe(stake);
            expect((await registered.worker.getStats()).earned).toBe(0n);
            // The genuine channel's address, with another client named, is refused too.
            const wrongClient = beginCell().store(storeSettled({ $$type: 'Settled', queryId: 0n, amount: 1n, jobs: 0n, tokens: 0n, client: stranger.address })).endCell();
            const fromChannel = await net.blockchain.sendMessage(internal({ from: channel.address, to: registered.worker.address, value: toNano('0.5'), body: wrongClient }));
            expectRefused(fromChannel, registered.worker.address, Number(ERR_NOT_CHANNEL));
        });

        it('Withdraw waits until every binding job’s claim window is over, even after governance shortens the delays', async () => {
            const { seq } = await postJob(net, opened, { deadline: nowOf(net) + 3600n });
            const { challengeWindow, disputeWindow } = net.params.channel;
            const claimEnds = nowOf(net) + 3600n + challengeWindow + disputeWindow;
            // Governance shortens every window and the unbonding delay; the open channel keeps the
            // terms it snapshotted, so its job may still be expired, and slashed, until claimEnds.
            const shorter = devParams({ unbondingDelay: 1000n, channel: { maxJobDeadline: 100n, challengeWindow: 100n, disputeWindow: 100n, clientCloseDelay: 100n } });
            await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'SetParams', queryId: 0n, params: shorter });
            await registered.worker.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'SyncParams', queryId: 0n });
            await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
            const { unbondAt } = await registered.worker.getInfo();
            // The new unbondingDelay (1000 s) alone would release the stake before claimEnds.
            expect(unbondAt).toBeGreaterThan(claimEnds);
            at(claimEnds);
            const early = await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'Withdraw', queryId: 0n });
            expectRefused(early, registered.worker.address, Number(ERR_UNBONDING_NOT_DUE));
            // The unserved job expires and the client is compensated out of the stake still there.
            const expired = await send(client, values.expireJob, { $$type: 'ExpireJob', queryId: 0n, seq });
            expect(eventsOfType(eventsOfAll(expired.transactions), 'WorkerSlashed')[0].amount).toBe(net.params.timeoutSlash);
            at(unbondAt);
            const late = await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'Withdraw', queryId: 0n });
            expect(late.transactions).toHaveTransaction({ to: registered.worker.address, success: true });
            expect(await registered.worker.getStake()).toBe(0n);
        });
    });

    // =============================== COCOON losses ===============================

    describe('the three value losses of COCOON’s contracts cannot happen', () => {
        it('COCOON loss 1: a top-up the channel cannot take is refused whole: nothing credited, the coins go back', async () => {
            await send(client, values.requestClose, { $$type: 'RequestClose', queryId: 0n });
            const before = await channel.getState();
            const walletBefore = await client.getBalance();
            const result = await send(client, toNano('5'), { $$type: 'TopUp', queryId: 0n });
            expectRefused(result, channel.address, Number(ERR_CHANNEL_STATE));
            expect(result.transactions).toHaveTransaction({ from: channel.address, to: client.address, inMessageBounced: true });
            expect(walletBefore - (await client.getBalance())).toBeLessThan(toNano('0.01'));
            const after = await channel.getState();
            expect(after.deposit).toBe(before.deposit);
            // And an Open the worker refuses credits nothing either (the deposit comes back).
            await registered.worker.send(owner.getSender(), { value: toNano('0.1') }, { $$type: 'RequestUnbond', queryId: 0n });
            const other = await net.blockchain.treasury('loss1-client');
            const { channel: c2 } = await openChannel(net, other, registered, { deposit: toNano('3') });
            expect((await c2.getState()).deposit).toBe(0n);
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });

        it('COCOON loss 2: a payout that cannot be made leaves the payout counter where it was, and the voucher stays payable', async () => {
            // Drain the channel's account below what it owes: the payout's action phase fails.
            const account = (await net.blockchain.getContract(channel.address)).account;
            const saved = account.account!.storage.balance.coins;
            account.account!.storage.balance.coins = toNano('0.5');
            await net.blockchain.setShardAccount(channel.address, account);
            const failed = await settle(opened, owner, toNano('3'));
            expect(failed.transactions).toHaveTransaction({ to: channel.address, success: false });
            expect((await channel.getState()).settled).toBe(0n);
            expectNothingSentTo(failed, owner.address);
            const restored = (await net.blockchain.getContract(channel.address)).account;
            restored.account!.storage.balance.coins = saved;
            await net.blockchain.setShardAccount(channel.address, restored);
            const paid = await settle(opened, owner, toNano('3'));
            expect(settledRecord(paid)[0].amount).toBe(toNano('3'));
            expect((await channel.getState()).settled).toBe(toNano('3'));
        });

        it('COCOON loss 3: a refund the client’s account rejects still reaches it, and the books match the money that moved', async () => {
            const rejector = net.blockchain.openContract(await Rejector.fromInit(1n));
            await rejector.send(stranger.getSender(), { value: toNano('1') }, null);
            const c2 = net.blockchain.openContract(await channelFor(net.root.address, rejector.address, registered.worker.address));
            const asRejector = (value: bigint, body: Cell, init?: { code: Cell; data: Cell }) =>
                net.blockchain.sendMessage(internal({ from: rejector.address, to: c2.address, value, body, stateInit: init }));
            const open = beginCell().store(storeOpen({ $$type: 'Open', queryId: 0n, clientKey: 1n })).endCell();
            await asRejector(toNano('5') + OPEN_FEE, open, c2.init);
            expect((await c2.getState()).status).toBe(CHANNEL_OPEN);
            const rejectorBefore = await balanceOf(net.blockchain, rejector.address);
            await asRejector(values.requestClose, beginCell().store(storeRequestClose({ $$type: 'RequestClose', queryId: 0n })).endCell());
            at(nowOf(net) + net.params.channel.clientCloseDelay);
            const result = await c2.send(stranger.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n });
            // The refund is non-bounceable: the rejecting account keeps it, nothing comes back.
            expect(result.transactions).toHaveTransaction({ from: c2.address, to: rejector.address, success: false });
            expect(result.transactions).not.toHaveTransaction({ from: rejector.address, to: c2.address });
            expect((await balanceOf(net.blockchain, rejector.address)) - rejectorBefore).toBeGreaterThan(toNano('5'));
            const state = await c2.getState();
            expect(state.status).toBe(CHANNEL_CLOSED);
            expect(owed(state)).toBe(0n);
            expect(await balanceOf(net.blockchain, c2.address)).toBe(0n);
        });
    });
});

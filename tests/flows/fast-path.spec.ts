// Story: the fast path end to end. Off-chain requests answered with Receipts signed by the
// worker's enclave key and paid with the client's Vouchers (the agents' own code:
// agents/core/channel-objects.ts, agents/core/merkle.ts), settled in batches (one relayed by a
// stranger) whose Merkle root lands on-chain, then closed either by RequestClose +
// FinalizeClose or cooperatively by a final Settle. Every payout is checked to the nanoTON and
// every step conserves money across all the parties (tests/helpers/ledger.ts).
import { Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { CHANNEL_CLOSED, eventsOfAll, eventsOfType, publicKeyToInt } from '../../wrappers';
import { batchOfReceipts, checkReceipt, nextVoucher, Receipt, signWorkerReceipt } from '../../agents/core/channel-objects';
import { verifyReceiptInBatch } from '../../agents/core/merkle';
import { MODEL_A } from '../helpers/cocoon';
import { Step } from '../helpers/ledger';
import { beginStory, closeStory, expectClosedEmpty, expectCloseFigures, ROOT_GAS_VALUE, Story } from '../helpers/story';

const PRICE_PROMPT = 1000n; // registerWorker's default prices for MODEL_A
const PRICE_COMPLETION = 2000n;
const FEE_BPS = 100n; // devParams protocolFeeBps

interface Served {
    value: Receipt;
    cell: Cell;
    cost: bigint;
}

/** The worker answers request `seq`; the client checks the receipt as the SDK does. */
function serve(story: Story, seq: bigint, promptTokens: bigint, completionTokens: bigint): Served {
    const signed = signWorkerReceipt(
        {
            channel: story.channel.address,
            seq,
            model: MODEL_A,
            inputHash: 0x1000n + seq,
            resultHash: 0x2000n + seq,
            promptTokens,
            completionTokens,
        },
        story.registered.keys.signing.seed,
    );
    const value = checkReceipt(signed.cell, signed.signature, story.registered.keys.signing.publicKey, story.channel.address, seq);
    return { value, cell: signed.cell, cost: promptTokens * PRICE_PROMPT + completionTokens * PRICE_COMPLETION };
}

/**
 * Exact figures of a non-final Settle: the record, the channel's balance down by exactly the
 * net payment (plus its storage fee), the payee's payout = net + the rest of the value.
 */
function expectSettlePayout(step: Step, value: bigint, amount: bigint, relayer: 'owner' | 'stranger') {
    const fee = (amount * FEE_BPS) / 10000n;
    const net = amount - fee;
    const records = eventsOfType(eventsOfAll(step.txs), 'ChannelSettled');
    expect(records).toHaveLength(1);
    expect(records[0].amount).toBe(amount);
    expect(records[0].fee).toBe(fee);
    expect(step.delta.channel).toBe(-net - step.storage('channel'));
    const [channelTx] = step.on('channel');
    const payout = [...channelTx.outMessages.values()].find((m) => m.info.type === 'internal')!;
    if (payout.info.type !== 'internal') throw new Error('no payout');
    // SendRemainingValue: the payout is net plus the value less the channel's compute and the
    // payout's whole forward fee.
    const computeAndActions = channelTx.totalFees.coins - step.storage('channel');
    expect(payout.info.value.coins).toBe(net + value - computeAndActions - payout.info.forwardFee);
    expect(step.received('owner', 'channel')).toBe(payout.info.value.coins);
    if (relayer === 'stranger') {
        expect(step.delta.owner).toBe(payout.info.value.coins - step.feesOn('owner'));
        expect(step.received('stranger')).toBe(0n);
        step.onlyMoved('owner', 'stranger', 'channel');
    } else {
        step.onlyMoved('owner', 'channel');
    }
    return { fee, net, record: records[0] };
}

describe('story: fast path', () => {
    let story: Story;
    let served: Served[];

    beforeEach(async () => {
        story = await beginStory({ deposit: toNano('10') });
        // Five requests with off-chain seqs; different sizes, so each batch has its own total.
        served = [
            serve(story, 1n, 100n, 200n),
            serve(story, 2n, 1_000n, 3_000n),
            serve(story, 3n, 50n, 10n),
            serve(story, 4n, 700_000n, 300_000n),
            serve(story, 5n, 12n, 34n),
        ];
    });

    it('open → five requests → Settle ×2 (one relayed by a stranger) → RequestClose → FinalizeClose: every payout exact, money conserved', async () => {
        const { channel, owner, stranger, ledger, values, opened } = story;
        const seed = opened.clientKey.seed;
        // The client pays as it goes: one voucher per request, cumulative.
        let cumulative = 0n;
        const vouchers = served.map((s) => {
            const previous = cumulative;
            cumulative += s.cost;
            return nextVoucher(channel.address, cumulative, previous, seed);
        });
        // A voucher that does not raise the total is refused by the client's own code.
        expect(() => nextVoucher(channel.address, cumulative, cumulative, seed)).toThrow(/must raise/);

        // Settlement 1: the payee settles requests 1..3 with voucher 3 and their batch root.
        const batch1 = batchOfReceipts(served.slice(0, 3));
        const amount1 = served[0].cost + served[1].cost + served[2].cost;
        const s1 = await ledger.step('settle 1', () =>
            channel.send(owner.getSender(), { value: values.settle }, {
                $$type: 'Settle', queryId: 1n, voucher: vouchers[2].cell, signature: vouchers[2].signature,
                batchRoot: batch1.rootInt, count: BigInt(batch1.count), final: false,
            }),
        );
        const r1 = expectSettlePayout(s1, values.settle, amount1, 'owner');
        expect(r1.record.cumulative).toBe(amount1);
        expect(r1.record.count).toBe(3n);
        expect(r1.record.batchRoot).toBe(batch1.rootInt);
        // The payee's wallet gained the payout less its own fee.
        expect(s1.delta.owner).toBe(s1.received('owner', 'channel') - s1.feesOn('owner') - sentValue(s1, 'owner'));

        // Every receipt of the batch is provably in the root the chain recorded; none of the
        // next batch is, and a wrong index fails.
        for (let i = 0; i < 3; i++) {
            expect(verifyReceiptInBatch(served[i].cell.hash(), i, Number(r1.record.count), batch1.proof(i), r1.record.batchRoot)).toBe(true);
        }
        expect(verifyReceiptInBatch(served[3].cell.hash(), 0, 3, batch1.proof(0), r1.record.batchRoot)).toBe(false);
        expect(verifyReceiptInBatch(served[1].cell.hash(), 2, 3, batch1.proof(1), r1.record.batchRoot)).toBe(false);

        // Settlement 2: a stranger relays voucher 5 with the batch of requests 4..5; the stranger
        // pays only its gas, the payee gets the payment.
        const batch2 = batchOfReceipts([served[4], served[3]]); // ascending seq whatever the order given
        expect(batch2.seqs).toEqual([4n, 5n]);
        const amount2 = served[3].cost + served[4].cost;
        const s2 = await ledger.step('settle 2 (stranger)', () =>
            channel.send(stranger.getSender(), { value: values.settle }, {
                $$type: 'Settle', queryId: 2n, voucher: vouchers[4].cell, signature: vouchers[4].signature,
                batchRoot: batch2.rootInt, count: BigInt(batch2.count), final: false,
            }),
        );
        const r2 = expectSettlePayout(s2, values.settle, amount2, 'stranger');
        expect(r2.record.cumulative).toBe(cumulative);
        expect(s2.delta.stranger).toBe(-sentValue(s2, 'stranger') - s2.feesOn('stranger'));
        for (let i = 0; i < 2; i++) {
            expect(verifyReceiptInBatch(served[3 + i].cell.hash(), i, 2, batch2.proof(i), r2.record.batchRoot)).toBe(true);
        }

        // Replaying an old voucher (by anyone) pays nothing: refused, only the bounce moves.
        const replay = await ledger.step('replay voucher 3', () =>
            channel.send(stranger.getSender(), { value: values.settle }, {
                $$type: 'Settle', queryId: 3n, voucher: vouchers[2].cell, signature: vouchers[2].signature,
                batchRoot: 0n, count: 1n, final: false,
            }),
        );
        replay.onlyMoved('stranger', 'channel');
        expect(replay.delta.channel).toBe(-replay.storage('channel'));
        expect(replay.received('owner')).toBe(0n);

        const state = await channel.getState();
        expect(state.settled).toBe(cumulative);
        expect(state.fees).toBe(r1.fee + r2.fee);
        expect(state.unreportedAmount).toBe(r1.net + r2.net);
        expect(state.deposit).toBe(toNano('10'));

        // Close: Root gets exactly the two fees, the client the rest, the Worker's counters the
        // earnings; the channel is empty.
        const { finalize } = await closeStory(story);
        expect(finalize.received('root', 'channel')).toBe(r1.fee + r2.fee + ROOT_GAS_VALUE);
        expect(finalize.received('client', 'channel')).toBeGreaterThanOrEqual(toNano('10') - cumulative);
        expect((await story.registered.worker.getStats()).earned).toBe(r1.net + r2.net);
        // Over the whole story the payee gained the two nets plus the carried gas, less its own
        // spending; Root exactly the fees less its own gas.
        const ownerTotal = await ledger.sinceStart('owner');
        expect(ownerTotal).toBeGreaterThan(r1.net + r2.net - toNano('0.05'));
    });

    it('cooperative close: the payee settles its last voucher with final = true; the channel closes at once', async () => {
        const { channel, owner, ledger, values, opened } = story;
        const total = served.reduce((s, r) => s + r.cost, 0n);
        const last = nextVoucher(channel.address, total, 0n, opened.clientKey.seed);
        const batch = batchOfReceipts(served);
        const before = await channel.getState();
        const earnedBefore = (await story.registered.worker.getStats()).earned;
        const step = await ledger.step('final settle', () =>
            channel.send(owner.getSender(), { value: values.settleFinal }, {
                $$type: 'Settle', queryId: 9n, voucher: last.cell, signature: last.signature,
                batchRoot: batch.rootInt, count: BigInt(batch.count), final: true,
            }),
        );
        const fee = (total * FEE_BPS) / 10000n;
        const net = total - fee;
        const record = eventsOfType(eventsOfAll(step.txs), 'ChannelSettled')[0];
        expect(record).toMatchObject({ cumulative: total, amount: total, fee, count: 5n, batchRoot: batch.rootInt });
        for (let i = 0; i < 5; i++) {
            expect(verifyReceiptInBatch(served[i].cell.hash(), i, 5, batch.proof(i), record.batchRoot)).toBe(true);
        }
        // The payee: net + the value less what the close keeps (SendPayFwdFeesSeparately).
        expect(step.received('owner', 'channel')).toBeGreaterThanOrEqual(net);
        expect(step.received('owner', 'channel')).toBeLessThan(net + values.settleFinal);
        // The close after it: fees to Root, refund to the client, report to the Worker.
        await expectCloseFigures(
            story,
            step,
            { deposit: before.deposit, settled: total, fees: fee, unreportedAmount: net },
            earnedBefore,
        );
        expect(step.received('client', 'channel')).toBeGreaterThanOrEqual(toNano('10') - total);
        await expectClosedEmpty(story);
        await ledger.expectConservedSinceStart();
        // Closed for good: the same voucher, or any other, pays nothing any more.
        const again = await ledger.step('settle after close', () =>
            channel.send(owner.getSender(), { value: values.settle }, {
                $$type: 'Settle', queryId: 10n, voucher: last.cell, signature: last.signature, batchRoot: 0n, count: 0n, final: false,
            }),
        );
        expect(again.received('owner', 'channel')).toBe(0n);
        expect((await channel.getState()).status).toBe(CHANNEL_CLOSED);
        expect(publicKeyToInt(opened.clientKey.publicKey)).toBe((await channel.getState()).clientKey);
    });
});

/** Value the named wallet (default: every wallet of the step) sent out from its own external-in transaction, with forward fees. */
function sentValue(step: Step, name?: string): bigint {
    let sum = 0n;
    for (const tx of name ? step.on(name) : step.txs) {
        if (tx.inMessage?.info.type !== 'external-in') continue;
        for (const m of tx.outMessages.values()) {
            if (m.info.type === 'internal') sum += m.info.value.coins + m.info.forwardFee;
        }
    }
    return sum;
}

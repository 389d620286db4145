// Fixtures for the multi-contract stories (tests/flows/): a network with one registered worker,
// a client and a stranger, every party tracked by a Ledger from the Open on, and the close that
// ends each story with its checks (fees to Root, the refund to the client, nothing left behind).
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { Channel, channelFor, CHANNEL_CLOSED, CHANNEL_CLOSING, eventsOfAll, eventsOfType, OperationValues, PROTOCOL_FEE_GAS } from '../../wrappers';
import { Params } from '../../wrappers';
import { createNetwork, Network, nowOf, registerWorker, RegisteredWorker } from './cocoon';
import { openedChannel, OpenedChannel, operationValuesOf } from './channel';
import { Ledger, Step } from './ledger';

export interface Story {
    net: Network;
    owner: SandboxContract<TreasuryContract>;
    client: SandboxContract<TreasuryContract>;
    stranger: SandboxContract<TreasuryContract>;
    registered: RegisteredWorker;
    opened: OpenedChannel;
    channel: SandboxContract<Channel>;
    values: OperationValues;
    ledger: Ledger;
}

export interface StoryOptions {
    params?: Params;
    stake?: bigint;
    deposit?: bigint;
}

/** Network, worker (owner = payee), and a channel opened by the client inside the ledger. */
export async function beginStory(options: StoryOptions = {}): Promise<Story> {
    const net = await createNetwork(options.params ? { params: options.params } : {});
    const owner = await net.blockchain.treasury('owner');
    const client = await net.blockchain.treasury('client');
    const stranger = await net.blockchain.treasury('stranger');
    const registered = await registerWorker(net, owner, { stake: options.stake ?? toNano('20') });
    const ledger = new Ledger(net.blockchain, {
        client: client.address,
        owner: owner.address,
        stranger: stranger.address,
        governance: net.governance.address,
        root: net.root.address,
        worker: registered.worker.address,
    });
    const address = (await channelFor(net.root.address, client.address, registered.worker.address)).address;
    ledger.add('channel', address);
    let opened: OpenedChannel | undefined;
    const step = await ledger.step('open', async () => {
        opened = await openedChannel(net, client, registered, { deposit: options.deposit ?? toNano('10') });
        return opened.result;
    });
    step.onlyMoved('client', 'channel');
    const values = await operationValuesOf(opened!.channel);
    return { net, owner, client, stranger, registered, opened: opened!, channel: opened!.channel, values, ledger };
}

export function travel(story: Story, seconds: bigint): void {
    story.net.blockchain.now = Number(nowOf(story.net) + seconds);
}

/** The channel's balance, books and status after a close: nothing left behind. */
export async function expectClosedEmpty(story: Story): Promise<void> {
    const state = await story.channel.getState();
    expect(state.status).toBe(CHANNEL_CLOSED);
    expect(state.deposit).toBe(state.settled);
    expect(state.locked).toBe(0n);
    expect(state.fees).toBe(0n);
    expect(state.openJobs).toBe(0n);
    expect(state.unreportedAmount).toBe(0n);
    expect(await story.ledger.balance('channel')).toBe(0n);
}

/** What a Channel attaches for Root's gas on top of the fees: PROTOCOL_FEE_GAS at the sandbox's 400 nanoTON a gas unit. */
export const ROOT_GAS_VALUE = PROTOCOL_FEE_GAS * 400n;

/**
 * The figures of a closing step (FinalizeClose or a final Settle), given the channel's state
 * just before it: Root received exactly the fees owed, the client received at least its free
 * deposit, the Worker's counters got the unreported earnings, the channel kept nothing.
 */
export async function expectCloseFigures(
    story: Story,
    step: Step,
    before: { deposit: bigint; settled: bigint; fees: bigint; unreportedAmount: bigint },
    earnedBefore: bigint,
): Promise<void> {
    const closed = eventsOfType(eventsOfAll(step.txs), 'ChannelClosed');
    expect(closed).toHaveLength(1);
    expect(closed[0].refund).toBe(before.deposit - before.settled);
    expect(closed[0].fees).toBe(before.fees);
    // Root: the protocol fees plus its gas (PROTOCOL_FEE_GAS at the sandbox's 400 nanoTON a gas
    // unit), non-bounceable; Root counts exactly the fees.
    const rootGas = before.fees > 0n ? ROOT_GAS_VALUE : 0n;
    expect(step.received('root', 'channel')).toBe(before.fees + rootGas);
    expect(step.delta.root).toBe(before.fees + rootGas - step.feesOn('root'));
    const credited = eventsOfType(eventsOfAll(step.txs), 'TreasuryCredited');
    expect(credited.reduce((sum, e) => sum + e.amount, 0n)).toBe(before.fees);
    // The client: the free deposit and every unbooked nanoTON of the channel.
    const refund = step.received('client', 'channel');
    expect(refund).toBeGreaterThanOrEqual(before.deposit - before.settled);
    expect(step.delta.client).toBe(refund - step.feesOn('client') - sentBy(step, 'client'));
    // The Worker: a gas-only report; its balance moves only by its storage fee.
    expect(step.delta.worker).toBe(-step.storage('worker'));
    expect((await story.registered.worker.getStats()).earned).toBe(earnedBefore + before.unreportedAmount);
    // The channel keeps nothing.
    expect(step.after.channel).toBe(0n);
    step.onlyMoved('client', 'owner', 'stranger', 'root', 'worker', 'channel');
}

/** Value the party's own (external-in) transactions sent out, with their forward fees. */
function sentBy(step: Step, name: string): bigint {
    let sum = 0n;
    for (const tx of step.on(name)) {
        if (tx.inMessage?.info.type !== 'external-in') continue;
        for (const message of tx.outMessages.values()) {
            if (message.info.type === 'internal') sum += message.info.value.coins + message.info.forwardFee;
        }
    }
    return sum;
}

/**
 * RequestClose by the client, clientCloseDelay later FinalizeClose by the stranger, with every
 * figure checked; ends with the channel closed and empty, and conservation over the story.
 */
export async function closeStory(story: Story): Promise<{ request: Step; finalize: Step }> {
    const { channel, client, stranger, values, ledger } = story;
    const request = await ledger.step('request close', () =>
        channel.send(client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n }),
    );
    request.onlyMoved('client', 'channel');
    const state = await channel.getState();
    expect(state.status).toBe(CHANNEL_CLOSING);
    travel(story, story.net.params.channel.clientCloseDelay);
    const earnedBefore = (await story.registered.worker.getStats()).earned;
    const finalize = await ledger.step('finalize close', () =>
        channel.send(stranger.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n }),
    );
    await expectCloseFigures(story, finalize, state, earnedBefore);
    await expectClosedEmpty(story);
    await ledger.expectConservedSinceStart();
    return { request, finalize };
}

export { sentBy };

/**
 * A payout sent with SendRemainingValue by the channel (non-final Settle, FinalizeJob): the
 * channel's balance drops by exactly `net` (plus its storage fee) and the payee receives `net`
 * plus the value less the channel's compute and the payout's whole forward fee. Returns what
 * the payee received.
 */
export function expectRemainingValuePayout(step: Step, value: bigint, net: bigint): bigint {
    expect(step.delta.channel).toBe(-net - step.storage('channel'));
    const channelTxs = step.on('channel');
    expect(channelTxs).toHaveLength(1);
    const [channelTx] = channelTxs;
    const payouts = [...channelTx.outMessages.values()].filter((m) => m.info.type === 'internal');
    expect(payouts).toHaveLength(1);
    const info = payouts[0].info;
    if (info.type !== 'internal') throw new Error('no payout');
    const computeAndActions = channelTx.totalFees.coins - step.storage('channel');
    expect(info.value.coins).toBe(net + value - computeAndActions - info.forwardFee);
    expect(info.dest.equals(step.address('owner'))).toBe(true);
    expect(info.bounce).toBe(false);
    expect(step.received('owner', 'channel')).toBe(info.value.coins);
    return info.value.coins;
}

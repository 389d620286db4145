// Test fixtures for Channels: open a channel between a client and a registered worker, sign
// vouchers and receipts, drive on-chain jobs, and read money and fees off transactions.
import { SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano, Transaction } from '@ton/core';
import { randomBytes } from 'node:crypto';
import {
    Channel,
    channelFor,
    ChannelState,
    CHANNEL_OPEN,
    ONCHAIN_SEQ_BASE,
    OPEN_FEE,
    OperationValues,
    ReceiptFields,
    signReceipt,
    signVoucher,
} from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { ed25519FromSeed, Ed25519KeyPair } from '../../agents/core/ed25519';
import { MODEL_A, Network, nowOf, RegisteredWorker } from './cocoon';

export interface OpenedChannel {
    channel: SandboxContract<Channel>;
    client: SandboxContract<TreasuryContract>;
    clientKey: Ed25519KeyPair;
    worker: RegisteredWorker;
    result: SendMessageResult;
}

export interface OpenOptions {
    deposit?: bigint;
    clientKey?: Ed25519KeyPair;
    queryId?: bigint;
}

/** Deploys Channel(root, client, worker) with Open; value = deposit + OPEN_FEE. */
export async function openChannel(
    net: Network,
    client: SandboxContract<TreasuryContract>,
    worker: RegisteredWorker,
    options: OpenOptions = {},
): Promise<OpenedChannel> {
    const clientKey = options.clientKey ?? ed25519FromSeed(randomBytes(32));
    const channel = net.blockchain.openContract(await channelFor(net.root.address, client.address, worker.worker.address));
    const deposit = options.deposit ?? toNano('10');
    const result = await channel.send(
        client.getSender(),
        { value: deposit + OPEN_FEE },
        { $$type: 'Open', queryId: options.queryId ?? 1n, clientKey: publicKeyToInt(clientKey.publicKey) },
    );
    return { channel, client, clientKey, worker, result };
}

/** Opens and checks that the channel is Open. */
export async function openedChannel(
    net: Network,
    client: SandboxContract<TreasuryContract>,
    worker: RegisteredWorker,
    options: OpenOptions = {},
): Promise<OpenedChannel> {
    const opened = await openChannel(net, client, worker, options);
    const state = await opened.channel.getState();
    if (state.status !== CHANNEL_OPEN) {
        throw new Error(`openedChannel: status ${state.status} after Open, expected Open`);
    }
    return opened;
}

let cachedValues: OperationValues | null = null;

/**
 * The least value per operation (getter operationValues of a deployed channel). The sandbox's
 * prices never change within a run, so one read serves every test.
 */
export async function operationValuesOf(channel: SandboxContract<Channel>): Promise<OperationValues> {
    if (!cachedValues) cachedValues = await channel.getOperationValues();
    return cachedValues;
}

/** A voucher for `cumulative` on `channel`, signed by the client's key. */
export function voucher(channel: Address, cumulative: bigint, key: Ed25519KeyPair) {
    return signVoucher({ channel, cumulative }, key.seed);
}

export interface SettleOptions {
    batchRoot?: bigint;
    count?: bigint;
    final?: boolean;
    value?: bigint;
    queryId?: bigint;
    signer?: Ed25519KeyPair;
    voucherChannel?: Address;
}

/** Sends Settle for a voucher of `cumulative` from `via`. */
export async function settle(
    opened: OpenedChannel,
    via: SandboxContract<TreasuryContract>,
    cumulative: bigint,
    options: SettleOptions = {},
): Promise<SendMessageResult> {
    const signed = voucher(options.voucherChannel ?? opened.channel.address, cumulative, options.signer ?? opened.clientKey);
    const values = await operationValuesOf(opened.channel);
    const value =
        options.value ??
        (options.final ? values.settleFinal : values.settle);
    return opened.channel.send(
        via.getSender(),
        { value },
        {
            $$type: 'Settle',
            queryId: options.queryId ?? 0n,
            voucher: signed.cell,
            signature: signed.signature,
            batchRoot: options.batchRoot ?? 0n,
            count: options.count ?? 1n,
            final: options.final ?? false,
        },
    );
}

export interface PostOptions {
    seq?: bigint;
    model?: bigint;
    maxPayment?: bigint;
    inputHash?: bigint;
    deadline?: bigint;
    input?: Cell | null;
    value?: bigint;
    extra?: bigint;
    queryId?: bigint;
}

export function now(net: Network): bigint {
    return nowOf(net);
}

/** What the channel owes: the client's deposit not yet settled, plus the fees owed to Root. */
export function owed(state: ChannelState): bigint {
    return state.deposit - state.settled + state.fees;
}

/** The channel's balance covers everything it owes (the books), with `slack` unbooked at most. */
export async function expectBooksCovered(net: Network, channel: SandboxContract<Channel>): Promise<bigint> {
    const state = await channel.getState();
    const balance = (await net.blockchain.getContract(channel.address)).balance;
    expect(balance).toBeGreaterThanOrEqual(owed(state));
    expect(state.deposit).toBeGreaterThanOrEqual(state.settled + state.locked);
    return balance - owed(state);
}

/** PostJob from the client with the next seq (unless given) and the least value. */
export async function postJob(net: Network, opened: OpenedChannel, options: PostOptions = {}): Promise<{ seq: bigint; result: SendMessageResult }> {
    const state = await opened.channel.getState();
    const seq = options.seq ?? state.nextSeq;
    const values = await operationValuesOf(opened.channel);
    const result = await opened.channel.send(
        opened.client.getSender(),
        { value: options.value ?? values.postJob + (options.extra ?? 0n) },
        {
            $$type: 'PostJob',
            queryId: options.queryId ?? 0n,
            seq,
            model: options.model ?? MODEL_A,
            maxPayment: options.maxPayment ?? toNano('1'),
            inputHash: options.inputHash ?? 0x1234n,
            deadline: options.deadline ?? now(net) + 600n,
            input: options.input ?? null,
        },
    );
    return { seq, result };
}

export function receiptFor(opened: OpenedChannel, seq: bigint, fields: Partial<ReceiptFields> = {}): ReceiptFields {
    return {
        channel: opened.channel.address,
        seq,
        model: MODEL_A,
        inputHash: 0x1234n,
        resultHash: 0xabcdn,
        promptTokens: 100n,
        completionTokens: 200n,
        ...fields,
    };
}

export interface CommitOptions {
    fields?: Partial<ReceiptFields>;
    signer?: Ed25519KeyPair;
    output?: Cell | null;
    value?: bigint;
    seq?: bigint;
}

/** CommitResult from `via` with a receipt signed by the worker's enclave key (unless `signer`). */
export async function commitResult(
    opened: OpenedChannel,
    via: SandboxContract<TreasuryContract>,
    seq: bigint,
    options: CommitOptions = {},
): Promise<SendMessageResult> {
    const signed = signReceipt(receiptFor(opened, seq, options.fields), (options.signer ?? opened.worker.keys.signing).seed);
    const values = await operationValuesOf(opened.channel);
    return opened.channel.send(
        via.getSender(),
        { value: options.value ?? values.commitResult },
        {
            $$type: 'CommitResult',
            queryId: 0n,
            seq: options.seq ?? seq,
            receipt: signed.cell,
            signature: signed.signature,
            output: options.output ?? null,
        },
    );
}

export function firstOnchainSeq(): bigint {
    return ONCHAIN_SEQ_BASE;
}

/** Sum of totalFees of every transaction but the first (the submitting wallet's own). */
export function feesAfterSender(result: SendMessageResult): bigint {
    return result.transactions.slice(1).reduce((sum, tx) => sum + tx.totalFees.coins, 0n);
}

/**
 * Forward fees of internal messages created in the trace that the sum of totalFees leaves out
 * (totalFees counts only the sender's action-fee share; the rest goes to validators in transit).
 */
export function transitFeesAfterSender(result: SendMessageResult): bigint {
    let sum = 0n;
    for (const tx of result.transactions.slice(1)) {
        for (const message of tx.outMessages.values()) {
            if (message.info.type === 'internal') sum += message.info.forwardFee;
        }
    }
    return sum;
}

/** Compute gas of the transaction that ran on `address` (the first one in the trace). */
export function gasOn(result: SendMessageResult, address: Address): bigint {
    const tx = txOn(result, address);
    if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') {
        throw new Error('gasOn: no compute phase');
    }
    return tx.description.computePhase.gasUsed;
}

export function txOn(result: SendMessageResult, address: Address): Transaction {
    const tx = result.transactions.find(
        (t) => t.inMessage?.info.dest instanceof Address && (t.inMessage.info.dest as Address).equals(address),
    );
    if (!tx) throw new Error(`no transaction on ${address.toString()}`);
    return tx;
}

/** Value received by `address` over every internal message of the trace. */
export function receivedBy(result: SendMessageResult, address: Address): bigint {
    let sum = 0n;
    for (const tx of result.transactions) {
        const info = tx.inMessage?.info;
        if (info?.type === 'internal' && info.dest.equals(address)) sum += info.value.coins;
    }
    return sum;
}

/** Value sent by `from` to `to` over the trace. */
export function sentTo(result: SendMessageResult, from: Address, to: Address): bigint {
    let sum = 0n;
    for (const tx of result.transactions) {
        const info = tx.inMessage?.info;
        if (info?.type === 'internal' && info.src.equals(from) && info.dest.equals(to)) sum += info.value.coins;
    }
    return sum;
}

import { Address, beginCell, Builder, Cell, internal, StateInit, Transaction } from '@ton/core';
import { transactionSucceeded } from '../chain/decoders';
import { sleep } from '../chain/retry';
import { IdempotentSender, newQueryId } from '../chain/sender';
import { Chain } from '../chain/types';
import { byInternalMessage, TransactionWaitTimeoutError, waitForTransaction } from '../chain/wait';
import { Wallet } from '../chain/wallet';
import {
    Channel,
    channelFor,
    ChannelState,
    ChannelTerms,
    CHANNEL_CLOSED,
    CHANNEL_CLOSING,
    CHANNEL_OPEN,
    CHANNEL_OPENING,
    Job,
    parseChannelTerms,
    OPEN_FEE,
    OperationValues,
    storeExpireJob,
    storeFinalizeClose,
    storeFinalizeJob,
    storeOpen,
    storePostJob,
    storeRequestClose,
    storeTopUp,
} from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { openReadOnly } from './chain-provider';
import { ChainTransactionError, ChannelError, InsufficientDepositError } from './errors';
import { ChannelRecord, ClientLedger, VoucherKeySource } from './ledger';
import { ModelPrices } from './receipts';
import { bufferOf256, hex256 } from './registry';

/** Channel exit codes (contracts/errors.tact, docs/exit-codes.md) a client can cause, with what to do. */
const CHANNEL_EXIT_HINTS: Record<number, string> = {
    258: 'ERR_LOW_VALUE: the attached value is below what the operation needs (the gas price may have risen); retry',
    259: 'ERR_PAUSED: the network is paused by governance',
    400: 'ERR_NOT_CLIENT: only the channel client (this wallet) may do this',
    402: 'ERR_CHANNEL_STATE: the channel is not in a state that allows this (opening, closing or closed?)',
    404: 'ERR_INSUFFICIENT_DEPOSIT: not enough free deposit; top up',
    406: 'ERR_CHANNEL_OPEN_JOBS: on-chain jobs are still open; finalize or expire them first',
    407: "ERR_WRONG_SEQ: the job's seq is not the channel's next on-chain seq",
    408: 'ERR_TOO_MANY_JOBS: maxOpenJobs jobs are already open on this channel',
    409: 'ERR_BAD_DEADLINE: the deadline is not in the future or beyond maxJobDeadline',
    410: 'ERR_MODEL_NOT_PRICED: the worker has no price for this model on this channel',
    411: 'ERR_NO_SUCH_JOB: no open job with this seq',
    412: 'ERR_JOB_STATE: the job is not in the state this needs',
    415: 'ERR_WINDOW_NOT_OVER: the challenge window is not over yet',
    417: 'ERR_DEADLINE_NOT_PASSED: the job deadline has not passed yet',
    418: 'ERR_CLOSE_NOT_DUE: the close delay has not passed yet',
    421: 'ERR_ZERO_KEY: the voucher key is zero',
    423: 'ERR_PAYLOAD_TOO_BIG: the inline input is larger than the contract accepts (32 cells)',
};

function exitCodeOf(tx: Transaction): number | undefined {
    const d = tx.description;
    if (d.type !== 'generic') return undefined;
    if (d.computePhase.type === 'vm' && !d.computePhase.success) return d.computePhase.exitCode;
    if (d.actionPhase && !d.actionPhase.success) return d.actionPhase.resultCode;
    return undefined;
}

export function statusName(status: bigint | number): ChannelRecord['status'] {
    switch (BigInt(status)) {
        case CHANNEL_OPENING:
            return 'opening';
        case CHANNEL_OPEN:
            return 'open';
        case CHANNEL_CLOSING:
            return 'closing';
        default:
            return 'closed';
    }
}

/**
 * An on-chain payload (encrypted input or output of a job) as bytes in a snake of cells: each
 * cell holds up to 127 bytes, the rest continues in its first reference (docs/worker-api.md).
 */
export function bytesToSnakeCell(bytes: Buffer): Cell {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 127) chunks.push(bytes.subarray(i, i + 127));
    let cell: Cell | null = null;
    for (let i = chunks.length - 1; i >= 0; i--) {
        const b: Builder = beginCell().storeBuffer(chunks[i]);
        if (cell) b.storeRef(cell);
        cell = b.endCell();
    }
    return cell ?? beginCell().endCell();
}

export function snakeCellToBytes(cell: Cell): Buffer {
    const parts: Buffer[] = [];
    let current: Cell | undefined = cell;
    let guard = 0;
    while (current) {
        if (++guard > 1024) throw new RangeError('payload snake is too long');
        const s = current.beginParse();
        if (s.remainingBits % 8 !== 0) throw new RangeError('payload cell holds a partial byte');
        parts.push(s.loadBuffer(s.remainingBits / 8));
        current = s.remainingRefs > 0 ? s.loadRef() : undefined;
    }
    return Buffer.concat(parts);
}

export interface ChannelView {
    address: Address;
    state: ChannelState;
    terms: ChannelTerms | null;
}

export interface ChannelManagerOptions {
    chain: Chain;
    wallet: Wallet;
    sender: IdempotentSender;
    root: Address;
    ledger: ClientLedger;
    voucherKeys: VoucherKeySource;
    /** How long to wait for a message's effect on a channel (default 120 s). */
    confirmTimeoutMs?: number;
    /** Polling interval while waiting (default 1000 ms; the sandbox answers at once). */
    pollIntervalMs?: number;
    /**
     * How long a channel's state read for a fast-path request may be reused (default 2000 ms; 0 =
     * read the chain every time). Safe to reuse: while a channel is open only this client's own
     * messages raise its lock or lower its deposit, and they drop the reused view; the worker
     * checks the chain itself and refuses (402, 409) what a stale view would let through.
     */
    viewCacheMs?: number;
    log?: (entry: Record<string, unknown>) => void;
}

/**
 * Opens, tops up, uses and closes the client's channels. Every message leaves through the
 * wallet's idempotent sender with a fresh query id; its effect is confirmed by finding the
 * channel's transaction for that query id and checking that it succeeded, so a refusal (and its
 * bounce) surfaces as a `ChainTransactionError` naming the exit code.
 */
export class ChannelManager {
    private values: OperationValues | undefined;
    private readonly views = new Map<string, { at: number; view: ChannelView | undefined }>();
    /** Background reads of views that `readRecent` served while they aged. */
    private readonly rereading = new Map<string, Promise<void>>();

    constructor(private readonly options: ChannelManagerOptions) {}

    get client(): Address {
        return this.options.wallet.address;
    }

    async channelAddress(worker: Address): Promise<Address> {
        return (await channelFor(this.options.root, this.client, worker)).address;
    }

    /** The channel's state and terms, or undefined while it is not deployed. */
    async read(channel: Address): Promise<ChannelView | undefined> {
        const account = await this.options.chain.getAccount(channel);
        let view: ChannelView | undefined;
        if (account.status === 'active') {
            const contract = openReadOnly(this.options.chain, Channel.fromAddress(channel));
            const [state, terms] = await Promise.all([contract.getState(), this.readTerms(channel)]);
            view = { address: channel, state, terms };
        }
        this.views.set(channel.toRawString(), { at: Date.now(), view });
        return view;
    }

    /**
     * Like `read`, reusing a view read less than `viewCacheMs` ago (the fast path's check of free
     * deposit). A view up to five times that old is still used while it is read again in the
     * background: a request then never waits for the chain because the view aged (three calls; on a
     * public endpoint hundreds of ms), and the reasons a reused view is safe (see `viewCacheMs`) hold.
     */
    async readRecent(channel: Address): Promise<ChannelView | undefined> {
        const key = channel.toRawString();
        const cached = this.views.get(key);
        const reuseMs = this.options.viewCacheMs ?? 2000;
        const age = cached ? Date.now() - cached.at : Infinity;
        if (cached && age < reuseMs) return cached.view;
        if (cached && age < reuseMs * 5) {
            if (!this.rereading.has(key)) {
                const reread = this.read(channel)
                    .then(
                        () => undefined,
                        (error: unknown) => this.options.log?.({ event: 'client-channel-reread-failed', channel: channel.toString(), error: (error as Error).message }),
                    )
                    .finally(() => this.rereading.delete(key));
                this.rereading.set(key, reread);
            }
            return cached.view;
        }
        return this.read(channel);
    }

    /** Drops the reused view of a channel (after a worker refused credit, or the channel's state changed). */
    forget(channel: Address): void {
        this.views.delete(channel.toRawString());
    }

    private async readTerms(channel: Address): Promise<ChannelTerms | null> {
        return parseChannelTerms(await openReadOnly(this.options.chain, Channel.fromAddress(channel)).getTerms());
    }

    async operationValues(channel: Address): Promise<OperationValues> {
        if (!this.values) this.values = await openReadOnly(this.options.chain, Channel.fromAddress(channel)).getOperationValues();
        return this.values;
    }

    async job(channel: Address, seq: bigint): Promise<Job | null> {
        return openReadOnly(this.options.chain, Channel.fromAddress(channel)).getJob(seq);
    }

    /**
     * Sends one message from the wallet and returns the target's transaction for it, after
     * checking that the transaction succeeded.
     */
    private async send(args: { to: Address; value: bigint; body: Cell; init?: StateInit; what: string }): Promise<Transaction> {
        const queryId = args.body.beginParse().skip(32).loadUintBig(64);
        const op = args.body.beginParse().loadUint(32);
        const before = await this.options.chain.getAccount(args.to);
        this.forget(args.to);
        const outcome = await this.options.sender.send({
            queryId,
            messages: [internal({ to: args.to, value: args.value, bounce: true, body: args.body, init: args.init })],
        });
        if (!outcome.succeeded) {
            throw new ChainTransactionError(undefined, `${args.what}: the wallet ${this.client.toString()} could not send ${args.value} nanoTON (balance too low?)`);
        }
        let tx: Transaction;
        try {
            tx = await waitForTransaction(this.options.chain, args.to, byInternalMessage({ from: this.client, op, queryId }), {
                sinceLt: before.lastTransaction?.lt,
                timeoutMs: this.options.confirmTimeoutMs ?? 120_000,
                pollIntervalMs: this.options.pollIntervalMs ?? 1000,
            });
        } catch (error) {
            if (error instanceof TransactionWaitTimeoutError) {
                throw new ChainTransactionError(undefined, `${args.what}: sent (query id ${queryId}) but the channel has not processed it yet: ${error.message}`);
            }
            throw error;
        }
        if (!transactionSucceeded(tx)) {
            const code = exitCodeOf(tx);
            const hint = code !== undefined ? CHANNEL_EXIT_HINTS[code] : undefined;
            throw new ChainTransactionError(code, `${args.what} was refused by ${args.to.toString()} (exit code ${code ?? '?'}${hint ? `, ${hint}` : ''}); the value came back to the wallet`);
        }
        this.forget(args.to);
        this.options.log?.({ event: 'client-tx', what: args.what, to: args.to.toString(), queryId: queryId.toString(), lt: tx.lt.toString() });
        return tx;
    }

    private async waitForStatus(channel: Address, done: (state: ChannelState) => boolean, what: string): Promise<ChannelView> {
        const started = Date.now();
        for (;;) {
            const view = await this.read(channel);
            if (view && done(view.state)) return view;
            if (Date.now() - started > (this.options.confirmTimeoutMs ?? 120_000)) {
                throw new ChannelError(`${what}: channel ${channel.toString()} did not reach the expected state in time (status ${view ? statusName(view.state.status) : 'not deployed'})`);
            }
            await sleep(this.options.pollIntervalMs ?? 1000);
        }
    }

    /**
     * Opens a channel with `worker` (already verified: genuine address, attestation) holding
     * `deposit`, with the voucher key derived for it. An open channel with the same key is adopted
     * instead. The terms the Worker answered (keys, prices) must equal the attested ones.
     */
    async open(worker: { address: Address; signingKey: Buffer; encryptionKey: Buffer }, deposit: bigint, minDeposit = 0n): Promise<ChannelRecord> {
        const address = await this.channelAddress(worker.address);
        const key = this.options.voucherKeys.keyFor(address);
        let view = await this.read(address);
        if (view && view.state.status === CHANNEL_OPENING) {
            view = await this.waitForStatus(address, (s) => s.status !== CHANNEL_OPENING, 'open');
        }
        if (view && view.state.status === CHANNEL_CLOSING) {
            throw new ChannelError(`channel ${address.toString()} with this worker is closing (from ${view.state.closeAt}); finalize its close, then open again`);
        }
        if (!view || view.state.status !== CHANNEL_OPEN) {
            if (deposit < minDeposit) {
                throw new InsufficientDepositError(minDeposit, deposit, `a channel needs a deposit of at least ${minDeposit} nanoTON (Root's minChannelDeposit), got ${deposit}`);
            }
            const init = view ? undefined : (await channelFor(this.options.root, this.client, worker.address)).init!;
            const body = beginCell().store(storeOpen({ $$type: 'Open', queryId: newQueryId(), clientKey: publicKeyToInt(key.publicKey) })).endCell();
            await this.send({ to: address, value: deposit + OPEN_FEE, body, init, what: 'open channel' });
            view = await this.waitForStatus(address, (s) => s.status !== CHANNEL_OPENING, 'open');
            if (view.state.status !== CHANNEL_OPEN) {
                throw new ChannelError(
                    `worker ${worker.address.toString()} refused to open channel ${address.toString()} (not serving, attestation expired, or the network is paused); the deposit was refunded`,
                );
            }
        }
        if (view.state.clientKey !== publicKeyToInt(key.publicKey)) {
            throw new ChannelError(`channel ${address.toString()} is open with another voucher key than this wallet derives; close it and open again`);
        }
        const terms = view.terms!;
        if (!bufferOf256(terms.signingKey).equals(worker.signingKey) || !bufferOf256(terms.encryptionKey).equals(worker.encryptionKey)) {
            throw new ChannelError(
                `channel ${address.toString()} snapshotted other worker keys than the attested ones (the worker renewed its keys); close it and open a new one`,
            );
        }
        const prices = new Map<string, ModelPrices>();
        for (const [model, price] of terms.prices) prices.set(hex256(model), { prompt: price.prompt, completion: price.completion });
        return this.options.ledger.saveChannel({
            address,
            root: this.options.root,
            worker: worker.address,
            status: 'open',
            signingKey: bufferOf256(terms.signingKey),
            encryptionKey: bufferOf256(terms.encryptionKey),
            prices,
            voucherKey: key.publicKey,
            nextSeq: 1n,
            owed: 0n,
            deliveredCumulative: 0n,
            openedAt: Math.floor(Date.now() / 1000),
        });
    }

    /** Adds `amount` to an open channel's deposit (the operation's gas on top). */
    async topUp(channel: Address, amount: bigint): Promise<ChannelState> {
        if (amount <= 0n) throw new ChannelError(`a top-up must be positive, got ${amount}`);
        const view = await this.read(channel);
        if (!view || view.state.status !== CHANNEL_OPEN) throw new ChannelError(`channel ${channel.toString()} is not open; top-ups are refused while opening, closing or closed`);
        const values = await this.operationValues(channel);
        const body = beginCell().store(storeTopUp({ $$type: 'TopUp', queryId: newQueryId() })).endCell();
        // operationValues.topUp is the least value that credits 1 nanoTON: the fee is topUp - 1.
        await this.send({ to: channel, value: amount + values.topUp - 1n, body, what: 'top up' });
        return (await this.read(channel))!.state;
    }

    /** RequestClose: the worker gets clientCloseDelay to settle; then `finalizeClose`. */
    async requestClose(channel: Address): Promise<ChannelState> {
        const view = await this.read(channel);
        if (!view || view.state.status === CHANNEL_CLOSED) throw new ChannelError(`channel ${channel.toString()} is not open`);
        if (view.state.status === CHANNEL_CLOSING) return view.state;
        const values = await this.operationValues(channel);
        const body = beginCell().store(storeRequestClose({ $$type: 'RequestClose', queryId: newQueryId() })).endCell();
        await this.send({ to: channel, value: values.requestClose, body, what: 'request close' });
        const state = (await this.read(channel))!.state;
        if (this.options.ledger.channel(channel)) this.options.ledger.setStatus(channel, statusName(state.status));
        return state;
    }

    /** FinalizeClose after closeAt: the free deposit comes back to the wallet. */
    async finalizeClose(channel: Address): Promise<ChannelState> {
        const view = await this.read(channel);
        if (!view) throw new ChannelError(`channel ${channel.toString()} is not deployed`);
        if (view.state.status === CHANNEL_CLOSED) {
            if (this.options.ledger.channel(channel)) this.options.ledger.setStatus(channel, 'closed');
            return view.state;
        }
        if (view.state.status !== CHANNEL_CLOSING) throw new ChannelError(`channel ${channel.toString()} is ${statusName(view.state.status)}; request the close first`);
        const now = await this.options.chain.now();
        if (BigInt(now) < view.state.closeAt) {
            throw new ChannelError(`channel ${channel.toString()} can be finalized from ${view.state.closeAt} (in ${view.state.closeAt - BigInt(now)} s): the worker has until then to settle`);
        }
        const values = await this.operationValues(channel);
        const body = beginCell().store(storeFinalizeClose({ $$type: 'FinalizeClose', queryId: newQueryId() })).endCell();
        await this.send({ to: channel, value: values.finalizeClose, body, what: 'finalize close' });
        if (this.options.ledger.channel(channel)) this.options.ledger.setStatus(channel, 'closed');
        return (await this.read(channel))!.state;
    }

    /**
     * Posts an on-chain job: locks `maxPayment`, carries the encrypted input inline. The seq is the
     * channel's next on-chain seq (2^63 + jobs posted so far).
     */
    async postJob(channel: Address, job: { seq: bigint; model: bigint; maxPayment: bigint; inputHash: bigint; deadline: number; input: Cell; extra?: bigint }): Promise<Transaction> {
        const values = await this.operationValues(channel);
        const body = beginCell()
            .store(
                storePostJob({
                    $$type: 'PostJob',
                    queryId: newQueryId(),
                    seq: job.seq,
                    model: job.model,
                    maxPayment: job.maxPayment,
                    inputHash: job.inputHash,
                    deadline: BigInt(job.deadline),
                    input: job.input,
                }),
            )
            .endCell();
        // The inline input's forwarding and per-cell gas (at most 32 cells: about 0.02 TON) is paid from the value
        // too; whatever is left of this allowance is credited to the client's deposit, not lost.
        const inputAllowance = 50_000_000n;
        return this.send({ to: channel, value: values.postJob + inputAllowance + (job.extra ?? 0n), body, what: `post job ${job.seq}` });
    }

    async finalizeJob(channel: Address, seq: bigint): Promise<Transaction> {
        const values = await this.operationValues(channel);
        const body = beginCell().store(storeFinalizeJob({ $$type: 'FinalizeJob', queryId: newQueryId(), seq })).endCell();
        // operationValues.finalizeJob covers the compute and the payout's forwarding; what is left
        // of the value goes to the payee with the payment, so send exactly that.
        return this.send({ to: channel, value: values.finalizeJob, body, what: `finalize job ${seq}` });
    }

    async expireJob(channel: Address, seq: bigint): Promise<Transaction> {
        const values = await this.operationValues(channel);
        const body = beginCell().store(storeExpireJob({ $$type: 'ExpireJob', queryId: newQueryId(), seq })).endCell();
        return this.send({ to: channel, value: values.expireJob, body, what: `expire job ${seq}` });
    }
}


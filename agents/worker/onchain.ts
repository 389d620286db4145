import { Address, beginCell, Cell, Transaction } from '@ton/core';
import { readBodyHead, transactionSucceeded } from '../chain/decoders';
import { backoffDelay, RetryAbortedError, sleep } from '../chain/retry';
import { IdempotentSender } from '../chain/sender';
import { Chain } from '../chain/types';
import { CursorMismatchError, Decoder, WatchedEvent, Watcher } from '../chain/watcher';
import { ReceiptBatch } from '../core/merkle';
import { JournalStore, StoredValue, WriteBatch } from '../store/store';
import {
    Channel,
    CHANNEL_CLOSING,
    CHANNEL_OPEN,
    decodeEvent,
    Job,
    JOB_COMMITTED,
    JOB_DISPUTED,
    OperationValues,
    storeCommitResult,
    storeFinalizeJob,
    storeSettle,
} from '../../wrappers';
import { voucherCell } from '../../wrappers/signed';
import { deterministicQueryId, openOnChain, sendFromWallet } from './chain-access';
import { ChannelDirectory } from './channels';
import { ApiError, WorkerFatalError } from './errors';
import { JobHandedBackError, JobRunner, sha256 } from './job-runner';
import { Logger } from './logger';
import { WorkerMetrics } from './metrics';
import { bytesToCell, cellToBytes } from './payload-cell';
import { JobScheduler } from './scheduler';
import { jobKey, JobRecord, SettlementBatch, SigningJournal } from './signing-journal';

/**
 * The chain-driven half of the agent: a watcher (agents/chain/watcher.ts, cursors committed
 * together with their effects in the agent's store) follows the Worker contract, where channels
 * announce themselves (OpenChannel), and every channel of this worker, decoding their
 * events with wrappers/events.ts. After each poll a maintenance pass:
 *   - runs posted on-chain jobs (the encrypted input travels inline in JobPosted) and commits
 *     their signed Receipts (CommitResult), the sealed answer inline when small;
 *   - finalizes committed jobs once the challenge window is over (or a dispute window without a
 *     verdict);
 *   - settles a channel's best voucher, with the Merkle root of the receipts it pays, when it is
 *     worth it (settlement.minAmount) or when the channel is closing.
 * Every send has a query id derived from what it is for, so a restart resends rather than
 * duplicates.
 */
const OP_OPEN_CHANNEL = 0x57000020;
const OP_CHANNEL_SETTLED = 0xe0430005;
const OP_JOB_FINALIZED = 0xe0430009;
/** Extra value for CommitResult with an inline output (its forwarding fee); the channel returns what is unused. */
const INLINE_OUTPUT_MARGIN = 100_000_000n;
const SEND_MARGIN = 20_000_000n;

export type WatchedItem =
    | { kind: 'channel-found'; channel: Address }
    | { kind: 'event'; channel: Address; event: NonNullable<ReturnType<typeof decodeEvent>> }
    | { kind: 'payout'; channel: Address; op: number; body: Cell };

/** Decodes the Worker's incoming channel messages and the channels' events and payouts. */
export function workerDecoder(worker: Address): Decoder<WatchedItem> {
    return (tx: Transaction, account: Address) => {
        if (account.equals(worker)) {
            const msg = tx.inMessage;
            if (!msg || msg.info.type !== 'internal' || msg.info.bounced || !transactionSucceeded(tx)) return [];
            const op = readBodyHead(msg.body).op;
            return op === OP_OPEN_CHANNEL ? [{ kind: 'channel-found', channel: msg.info.src }] : [];
        }
        const items: WatchedItem[] = [];
        for (const message of tx.outMessages.values()) {
            if (message.info.type === 'external-out') {
                let event;
                try {
                    event = decodeEvent(message.body);
                } catch {
                    continue;
                }
                if (event) items.push({ kind: 'event', channel: account, event });
            } else if (message.info.type === 'internal') {
                const op = readBodyHead(message.body).op;
                if (op === OP_CHANNEL_SETTLED || op === OP_JOB_FINALIZED) items.push({ kind: 'payout', channel: account, op, body: message.body });
            }
        }
        return items;
    };
}

const knownKey = (raw: string) => `channels/known/${raw}`;
const closingKey = (raw: string) => `channels/closing/${raw}`;

export interface OnchainDeps {
    chain: Chain;
    store: JournalStore;
    sender: IdempotentSender;
    journal: SigningJournal;
    channels: ChannelDirectory;
    runner: JobRunner;
    scheduler: JobScheduler;
    worker: Address;
    root: Address;
    model: bigint;
    inlineOutputMaxBytes: number;
    settlementMin: bigint;
    /** Settle when this many receipts wait, even below `settlementMin` (bounds the journal's memory). */
    settlementMaxPendingReceipts?: number;
    pollIntervalMs: number;
    metrics: WorkerMetrics;
    log: Logger;
    onFatal: (error: WorkerFatalError) => void;
}

export class OnchainService {
    readonly watcher: Watcher<WatchedItem>;
    private loop: Promise<void> | undefined;
    private readonly controller = new AbortController();
    private readonly executing = new Map<string, Promise<unknown>>();
    private readonly operationValues = new Map<string, OperationValues>();
    private ticking: Promise<void> | undefined;
    private wake: (() => void) | undefined;
    /** Chain time of the last completed maintenance pass (health). */
    lastPassAt = 0;

    constructor(private readonly deps: OnchainDeps) {
        this.watcher = new Watcher<WatchedItem>({
            chain: deps.chain,
            store: deps.store,
            accounts: [deps.worker],
            decoder: workerDecoder(deps.worker),
            handler: (event, batch) => this.handle(event, batch),
            name: 'worker-watcher',
            pollIntervalMs: deps.pollIntervalMs,
            log: (entry) => deps.log.debug('watcher', entry),
        });
        for (const key of deps.store.keys('channels/known/')) this.watcher.addAccount(Address.parseRaw(key.slice('channels/known/'.length)));
    }

    /** Follows a channel (learnt from a fast-path job or voucher); remembered across restarts. */
    follow(channel: Address): void {
        const raw = channel.toRawString();
        if (this.deps.store.has(knownKey(raw))) return;
        this.deps.journal.put(knownKey(raw), { since: Date.now() });
        this.watcher.addAccount(channel);
    }

    start(): void {
        if (this.loop) return;
        const signal = this.controller.signal;
        this.loop = (async () => {
            let failures = 0;
            while (!signal.aborted) {
                try {
                    await this.watcher.pollOnce(signal);
                    await this.pass();
                    failures = 0;
                    await new Promise<void>((resolve) => {
                        // One listener per pause, removed when the pause ends: the signal lives as
                        // long as the agent, so listeners left behind would pile up every poll.
                        const done = () => {
                            clearTimeout(timer);
                            signal.removeEventListener('abort', done);
                            this.wake = undefined;
                            resolve();
                        };
                        const timer = setTimeout(done, this.deps.pollIntervalMs);
                        this.wake = done;
                        signal.addEventListener('abort', done, { once: true });
                    });
                } catch (error) {
                    if (error instanceof RetryAbortedError || signal.aborted) break;
                    if (error instanceof CursorMismatchError || error instanceof WorkerFatalError) {
                        this.deps.onFatal(error instanceof WorkerFatalError ? error : new WorkerFatalError(error.message, { cause: error }));
                        break;
                    }
                    failures += 1;
                    this.deps.metrics.chainErrors.inc({ operation: 'poll' });
                    const delay = backoffDelay(failures, { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: Infinity });
                    this.deps.log.warn('onchain-pass-failed', { error, retryInMs: delay });
                    await sleep(delay, signal).catch(() => undefined);
                }
            }
        })();
    }

    /** Runs a poll and a maintenance pass now (tests, and after a fast-path job on a new channel). */
    poke(): void {
        this.wake?.();
    }

    /** One watcher poll plus one maintenance pass, awaited (tests drive time travel with it). */
    async runOnce(): Promise<void> {
        await this.watcher.pollOnce();
        await this.pass();
    }

    async stop(): Promise<void> {
        this.controller.abort();
        await this.loop;
        await this.ticking;
        this.loop = undefined;
    }

    /** Waits for on-chain jobs being run (shutdown). */
    async settleExecutions(): Promise<void> {
        await Promise.all([...this.executing.values()].map((p) => p.catch(() => undefined)));
    }

    // ------------------------------------------------------------------ watcher handler

    private handle(watched: WatchedEvent<WatchedItem>, batch: WriteBatch): void {
        const item = watched.event;
        const log = this.deps.log;
        if (item.kind === 'channel-found') {
            const raw = item.channel.toRawString();
            if (!batch.get(knownKey(raw))) {
                batch.put(knownKey(raw), { since: watched.utime });
                log.info('channel-followed', { channel: item.channel.toString() });
            }
            this.watcher.addAccount(item.channel);
            return;
        }
        const raw = item.channel.toRawString();
        if (item.kind === 'payout') {
            const s = item.body.beginParse();
            s.skip(32);
            if (item.op === OP_CHANNEL_SETTLED) {
                const cumulative = s.loadUintBig(64);
                this.deps.journal.noteSettled(raw, cumulative, batch);
            } else {
                const seq = s.loadUintBig(64);
                this.setStage(raw, seq, batch, (job) => ({ ...job, stage: 'finalized' }));
            }
            return;
        }
        const event = item.event;
        switch (event.$$type) {
            case 'JobPosted': {
                const key = jobKey(raw, event.seq);
                if (batch.get(key) || this.deps.journal.isRetired(raw, event.seq)) return;
                let requestEnvelope: Buffer = Buffer.alloc(0);
                let inputError: string | undefined;
                if (event.model !== this.deps.model) inputError = 'the job names a model this worker does not serve';
                else if (!event.input) inputError = 'the job carries no inline input';
                else {
                    try {
                        requestEnvelope = cellToBytes(event.input);
                    } catch (error) {
                        inputError = `the inline input is not a byte string: ${(error as Error).message}`;
                    }
                }
                const record: JobRecord = {
                    kind: 'onchain',
                    state: 'intent',
                    channel: raw,
                    seq: event.seq,
                    model: event.model,
                    inputHash: Buffer.from(event.inputHash.toString(16).padStart(64, '0'), 'hex'),
                    requestEnvelope,
                    maxCost: event.maxPayment,
                    createdAt: Date.now(),
                    onchain: { maxPayment: event.maxPayment, deadline: Number(event.deadline), postedAt: watched.utime, stage: 'posted', inputError },
                };
                batch.put(key, record as unknown as StoredValue);
                log.info('onchain-job-posted', { channel: item.channel.toString(), seq: event.seq, deadline: Number(event.deadline) });
                return;
            }
            case 'ResultCommitted':
                return this.setStage(raw, event.seq, batch, (job) => ({ ...job, stage: job.stage === 'posted' ? 'committed' : job.stage, committedAt: watched.utime }));
            case 'JobDisputed':
                log.warn('onchain-job-disputed', { channel: item.channel.toString(), seq: event.seq });
                return this.setStage(raw, event.seq, batch, (job) => ({ ...job, stage: 'disputed', disputedAt: watched.utime }));
            case 'DisputeResolved':
                return this.setStage(raw, event.seq, batch, (job) => ({ ...job, stage: 'resolved' }));
            case 'JobTimedOut':
                log.warn('onchain-job-expired', { channel: item.channel.toString(), seq: event.seq });
                return this.setStage(raw, event.seq, batch, (job) => ({ ...job, stage: 'expired' }));
            case 'CloseRequested':
                batch.put(closingKey(raw), { closeAt: Number(event.closeAt) });
                log.info('channel-closing', { channel: item.channel.toString(), closeAt: Number(event.closeAt) });
                return;
            case 'ChannelClosed':
                batch.delete(closingKey(raw));
                batch.put(`channels/closed/${raw}`, { at: watched.utime });
                return;
            default:
                return;
        }
    }

    private setStage(raw: string, seq: bigint, batch: WriteBatch, change: (job: NonNullable<JobRecord['onchain']>) => NonNullable<JobRecord['onchain']>): void {
        this.deps.journal.updateJob(raw, seq, (record) => (record.onchain ? { ...record, onchain: change(record.onchain) } : record), batch);
    }

    // ------------------------------------------------------------------ maintenance

    /** One maintenance pass (never two at once). */
    pass(): Promise<void> {
        if (!this.ticking) {
            this.ticking = this.passBody().finally(() => (this.ticking = undefined));
        }
        return this.ticking;
    }

    private async passBody(): Promise<void> {
        const now = await this.deps.chain.now();
        // What settled or ended since the last pass leaves memory (and, at the next compaction, the disk).
        this.deps.journal.prune();
        for (const record of this.deps.journal.openOnchainJobs()) {
            if (record.kind !== 'onchain' || !record.onchain) continue;
            try {
                await this.advanceJob(record, now);
            } catch (error) {
                if (error instanceof WorkerFatalError) throw error;
                this.deps.metrics.chainErrors.inc({ operation: 'onchain-job' });
                this.deps.log.warn('onchain-job-step-failed', { channel: record.channel, seq: record.seq, error });
            }
        }
        for (const raw of this.settlementCandidates()) {
            try {
                await this.settleChannel(raw, now);
            } catch (error) {
                if (error instanceof WorkerFatalError) throw error;
                this.deps.metrics.chainErrors.inc({ operation: 'settle' });
                this.deps.log.warn('settlement-failed', { channel: raw, error });
            }
        }
        this.lastPassAt = now;
    }

    private async values(channel: Address): Promise<OperationValues> {
        const raw = channel.toRawString();
        let values = this.operationValues.get(raw);
        if (!values) {
            values = await openOnChain(this.deps.chain, Channel.fromAddress(channel)).getOperationValues();
            this.operationValues.set(raw, values);
        }
        return values;
    }

    private async readJob(channel: Address, seq: bigint): Promise<Job | null> {
        return openOnChain(this.deps.chain, Channel.fromAddress(channel)).getJob(seq);
    }

    private async advanceJob(record: JobRecord, now: number): Promise<void> {
        const on = record.onchain!;
        const channel = Address.parseRaw(record.channel);
        const key = jobKey(record.channel, record.seq);
        if (on.stage === 'posted') {
            if (now > on.deadline) {
                if (record.state !== 'signed') this.deps.log.warn('onchain-job-missed-deadline', { channel: channel.toString(), seq: record.seq });
                return;
            }
            if (record.state === 'intent' || record.state === 'result' || record.state === 'failed') {
                if (this.executing.has(key) || this.deps.scheduler.draining) return;
                const running = this.execute(record, channel).finally(() => {
                    this.executing.delete(key);
                    this.poke();
                });
                this.executing.set(key, running);
                return;
            }
            if (record.state === 'signed') await this.commit(record, channel);
            return;
        }
        if (on.stage === 'committed' || on.stage === 'disputed') {
            const since = on.stage === 'committed' ? on.committedAt : on.disputedAt;
            const snapshot = await this.deps.channels.get(channel).catch(() => undefined);
            const window = on.stage === 'committed' ? snapshot?.params?.challengeWindow : snapshot?.params?.disputeWindow;
            if (since !== undefined && window !== undefined && now < since + Number(window)) return;
            await this.finalize(record, channel, now);
        }
    }

    private async execute(record: JobRecord, channel: Address): Promise<void> {
        const snapshot = await this.deps.channels.get(channel, { fresh: true });
        const price = snapshot.prices.get(record.model);
        const prices = price ? { prompt: price.prompt, completion: price.completion } : { prompt: 0n, completion: 0n };
        let inputError = record.onchain!.inputError;
        let current = record;
        if (inputError === undefined && (record.state === 'intent' || record.state === 'failed')) {
            // The input must open with this enclave's key and hash to the posted inputHash.
            try {
                const opened = this.deps.runner.open(record.requestEnvelope, channel, record.seq);
                if (!opened.inputHash.equals(record.inputHash)) inputError = 'the inline input does not hash to the posted inputHash';
            } catch (error) {
                inputError = (error as Error).message;
            }
            if (record.state === 'failed') current = this.deps.journal.updateJob(record.channel, record.seq, (r) => ({ ...r, state: 'intent', error: undefined }))!;
        }
        const maxCost = record.onchain!.maxPayment;
        try {
            await this.deps.scheduler.run(
                async (signal) => {
                    try {
                        return await this.deps.runner.execute(current, { prices, maxCost, signal, inputError });
                    } catch (error) {
                        // A request the model cannot run (bad JSON, over the limits) still gets a committed answer: an error.
                        if (error instanceof ApiError && (error.code === 'bad_request' || error.code === 'too_large')) {
                            const again = this.deps.journal.job(record.channel, record.seq)!;
                            const retry = again.state === 'failed' ? this.deps.journal.updateJob(record.channel, record.seq, (r) => ({ ...r, state: 'intent' }))! : again;
                            return this.deps.runner.execute(retry, { prices, maxCost, signal, inputError: error.message });
                        }
                        throw error;
                    }
                },
                { mustRun: true },
            );
            this.deps.metrics.jobs.inc({ path: 'onchain', outcome: 'signed' });
        } catch (error) {
            if (error instanceof JobHandedBackError) return;
            this.deps.metrics.jobs.inc({ path: 'onchain', outcome: 'failed' });
            throw error;
        }
    }

    private async commit(record: JobRecord, channel: Address): Promise<void> {
        const on = record.onchain!;
        const inline = record.responseEnvelope !== undefined && record.responseEnvelope.length > 0 && record.responseEnvelope.length <= this.deps.inlineOutputMaxBytes;
        const output = inline ? bytesToCell(record.responseEnvelope!) : null;
        const body = beginCell()
            .store(
                storeCommitResult({
                    $$type: 'CommitResult',
                    queryId: 0n,
                    seq: record.seq,
                    receipt: Cell.fromBoc(record.receipt!)[0],
                    signature: record.signature!,
                    output,
                }),
            )
            .endCell();
        const values = await this.values(channel);
        const attempt = on.commitQueryId === undefined ? 0 : 1;
        const queryId = on.commitQueryId ?? deterministicQueryId('commit', record.channel, record.seq);
        if (on.commitQueryId === undefined) {
            this.deps.journal.updateJob(record.channel, record.seq, (r) => ({ ...r, onchain: { ...r.onchain!, commitQueryId: queryId, outputInline: inline } }));
        }
        this.deps.log.info('onchain-commit', { channel: channel.toString(), seq: record.seq, inline, attempt });
        await sendFromWallet(this.deps.sender, { queryId, to: channel, value: values.commitResult + (inline ? INLINE_OUTPUT_MARGIN : 0n) + SEND_MARGIN, body });
        this.deps.metrics.onchain.inc({ action: 'commit' });
        const job = await this.readJob(channel, record.seq);
        if (job && (job.status === JOB_COMMITTED || job.status === JOB_DISPUTED)) {
            this.deps.journal.updateJob(record.channel, record.seq, (r) => ({
                ...r,
                onchain: { ...r.onchain!, stage: job.status === JOB_COMMITTED ? 'committed' : 'disputed', committedAt: r.onchain!.committedAt ?? Number(job.at) },
            }));
        } else if (job) {
            // Still posted: the commit did not land as a CommitResult (e.g. too little value); a new query id retries it.
            this.deps.journal.updateJob(record.channel, record.seq, (r) => ({
                ...r,
                onchain: { ...r.onchain!, commitQueryId: deterministicQueryId('commit', record.channel, record.seq, Date.now()) },
            }));
        }
    }

    private async finalize(record: JobRecord, channel: Address, now: number): Promise<void> {
        const job = await this.readJob(channel, record.seq);
        if (!job) {
            // Gone from the channel: finalized (by us or anyone), resolved or expired; the watcher records which.
            if (record.onchain!.stage === 'committed' || record.onchain!.stage === 'disputed') {
                this.deps.journal.updateJob(record.channel, record.seq, (r) => ({ ...r, onchain: { ...r.onchain!, stage: 'finalized' } }));
            }
            return;
        }
        const snapshot = await this.deps.channels.get(channel);
        const params = snapshot.params;
        if (!params) return;
        const window = job.status === JOB_COMMITTED ? params.challengeWindow : params.disputeWindow;
        if (now < Number(job.at) + Number(window)) {
            // Our record of the window start was missing or early: keep the chain's.
            this.deps.journal.updateJob(record.channel, record.seq, (r) => ({
                ...r,
                onchain: { ...r.onchain!, ...(job.status === JOB_COMMITTED ? { committedAt: Number(job.at) } : { stage: 'disputed' as const, disputedAt: Number(job.at) }) },
            }));
            return;
        }
        const values = await this.values(channel);
        const queryId = deterministicQueryId('finalize', record.channel, record.seq, job.status, job.at);
        this.deps.log.info('onchain-finalize', { channel: channel.toString(), seq: record.seq });
        const body = beginCell().store(storeFinalizeJob({ $$type: 'FinalizeJob', queryId, seq: record.seq })).endCell();
        await sendFromWallet(this.deps.sender, { queryId, to: channel, value: values.finalizeJob + SEND_MARGIN, body });
        this.deps.metrics.onchain.inc({ action: 'finalize' });
        if (!(await this.readJob(channel, record.seq))) {
            this.deps.journal.updateJob(record.channel, record.seq, (r) => ({ ...r, onchain: { ...r.onchain!, stage: 'finalized' } }));
        }
    }

    // ------------------------------------------------------------------ settlement

    private settlementCandidates(): string[] {
        return this.deps.journal.channelsWithBooks().filter((raw) => {
            const books = this.deps.journal.books(raw);
            return books.voucher !== undefined && books.voucher.cumulative > books.settled;
        });
    }

    /** Settles the best voucher of a channel when worth it or when the channel is closing. */
    async settleChannel(raw: string, now: number): Promise<SettlementBatch | undefined> {
        const { journal, channels, log } = this.deps;
        const channel = Address.parseRaw(raw);
        for (const pending of journal.batches(raw).filter((b) => b.state === 'pending')) await this.sendBatch(pending, channel);
        const books = journal.books(raw);
        const voucher = books.voucher;
        if (!voucher) return undefined;
        const last = journal.batches(raw).at(-1);
        // A settlement that did not apply is retried, but not on every pass.
        if (last?.state === 'failed' && Date.now() - last.createdAt < 60_000) return undefined;
        const snapshot = await channels.get(channel, { fresh: true });
        journal.noteSettled(raw, snapshot.settled);
        const amount = voucher.cumulative - snapshot.settled;
        if (amount <= 0n) return undefined;
        const closing = snapshot.status === CHANNEL_CLOSING;
        if (snapshot.status !== CHANNEL_OPEN && !closing) return undefined;
        const pendingReceipts = journal.unbatchedCount(raw);
        if (!closing && amount < this.deps.settlementMin && pendingReceipts < (this.deps.settlementMaxPendingReceipts ?? Infinity)) return undefined;
        if (amount > snapshot.free) {
            log.warn('voucher-exceeds-channel', { channel: channel.toString(), amount, free: snapshot.free });
            return undefined;
        }
        // Receipts this voucher pays for: the unbatched ones, by seq, while their costs fit under it.
        let paid = journal.batchedCost(raw);
        const included: JobRecord[] = [];
        for (const job of journal.unbatchedReceipts(raw)) {
            if (paid + (job.cost ?? 0n) > voucher.cumulative) break;
            paid += job.cost ?? 0n;
            included.push(job);
        }
        const tree = new ReceiptBatch(included.map((j) => Cell.fromBoc(j.receipt!)[0].hash()));
        const inFlight = journal.reserved(raw) > 0n;
        const final = closing && snapshot.openJobs === 0n && !inFlight;
        const index = books.batches;
        const batch = journal.recordBatch({
            channel: raw,
            cumulative: voucher.cumulative,
            voucherSignature: voucher.signature,
            root: tree.root,
            count: tree.count,
            seqs: included.map((j) => j.seq),
            final,
            queryId: deterministicQueryId('settle', raw, index, voucher.cumulative),
        });
        log.info('settling', { channel: channel.toString(), amount, receipts: tree.count, final, closing });
        await this.sendBatch(batch, channel);
        return journal.batches(raw).find((b) => b.index === batch.index);
    }

    private async sendBatch(batch: SettlementBatch, channel: Address): Promise<void> {
        const values = await this.values(channel);
        const body = beginCell()
            .store(
                storeSettle({
                    $$type: 'Settle',
                    queryId: batch.queryId,
                    voucher: voucherCell({ channel, cumulative: batch.cumulative }),
                    signature: batch.voucherSignature,
                    batchRoot: BigInt('0x' + batch.root.toString('hex')),
                    count: BigInt(batch.count),
                    final: batch.final,
                }),
            )
            .endCell();
        await sendFromWallet(this.deps.sender, { queryId: batch.queryId, to: channel, value: (batch.final ? values.settleFinal : values.settle) + SEND_MARGIN, body });
        const after = await this.deps.channels.get(channel, { fresh: true });
        if (after.settled >= batch.cumulative) {
            this.deps.journal.updateBatch(batch.channel, batch.index, 'confirmed');
            this.deps.journal.noteSettled(batch.channel, after.settled);
            this.deps.metrics.settlements.inc({ outcome: 'confirmed' });
        } else {
            this.deps.journal.updateBatch(batch.channel, batch.index, 'failed');
            this.deps.metrics.settlements.inc({ outcome: 'failed' });
            this.deps.log.warn('settlement-not-applied', { channel: channel.toString(), cumulative: batch.cumulative, settled: after.settled });
        }
    }

    /** The channels of this worker being closed, with their close time. */
    closingChannels(): { channel: string; closeAt: number }[] {
        return this.deps.store.keys('channels/closing/').map((k) => ({ channel: k.slice('channels/closing/'.length), ...(this.deps.store.get<{ closeAt: number }>(k) ?? { closeAt: 0 }) }));
    }
}

export { sha256 };

import { Address, Cell } from '@ton/core';
import { decodeValue, JournalStore, StoredValue, WriteBatch } from '../store/store';
import { ONCHAIN_SEQ_BASE } from '../core/channel-objects';
import { ApiError, JournalUnwritableError, WorkerFatalError } from './errors';

/**
 * The worker's signing journal (design §7: never two different Receipts for one (channel, seq),
 * never a lost receipt or voucher). Every record lives in the agent's crash-safe store
 * (agents/store: each commit is one fsynced, checksummed journal record).
 *
 * A job goes through these states, each committed before the next step starts:
 *
 *   intent   (channel, seq, inputHash, the request envelope: ciphertext only) — before inference
 *   result   the exact Receipt cell to be signed, the sealed answer, tokens and cost — before signing
 *   signed   the signature (Ed25519 is deterministic: re-signing the journalled cell after a crash
 *            gives the same bytes) — before the answer leaves the process
 *   failed   inference failed; nothing was signed, the same input may be retried
 *
 * The only way to a signature is from a journalled `result` cell, and a (channel, seq) holds one
 * record whose input can never change: so one (channel, seq) can never get two different signed
 * Receipts, whatever crashes happen. Plaintext never reaches the journal (only envelopes and hashes).
 *
 * Bounded memory (docs/agents.md, "The worker's signing journal"): the store holds every live
 * record in memory, so finished jobs leave it. A signed record drops its request envelope (only
 * an unsigned job needs it, to run again). Fast-path jobs whose receipts a confirmed settlement
 * paid, and on-chain jobs in a final stage, are pruned by `prune()`; the channel's `retired/`
 * record keeps the highest pruned seq of each seq space, and any seq at or below it that is not
 * live is refused (`SeqRetiredError`): a pruned (channel, seq) is never signed again. Per-request
 * work uses an in-memory index (reservations, unbatched receipts, batches, open on-chain jobs),
 * never a scan of past jobs.
 */
export type JobState = 'intent' | 'result' | 'signed' | 'failed';
export type JobKind = 'fast' | 'onchain';

export type OnchainStage = 'posted' | 'committed' | 'disputed' | 'finalized' | 'expired' | 'resolved' | 'refused';

export interface OnchainJob {
    maxPayment: bigint;
    deadline: number;
    /** Chain time of the JobPosted event. */
    postedAt: number;
    stage: OnchainStage;
    /** Chain time the result was committed (the challenge window starts there). */
    committedAt?: number;
    disputedAt?: number;
    /** The query id of the CommitResult / FinalizeJob sends (fixed once, so resends are idempotent). */
    commitQueryId?: bigint;
    finalizeQueryId?: bigint;
    /** Whether the sealed answer went inline in CommitResult. */
    outputInline?: boolean;
    /** Why the job cannot be run (undecryptable input...): its receipt commits to an error answer. */
    inputError?: string;
}

export interface JobRecord {
    kind: JobKind;
    state: JobState;
    channel: string;
    seq: bigint;
    model: bigint;
    inputHash: Buffer;
    /** The request envelope (ciphertext), so a restart can finish the job. */
    requestEnvelope: Buffer;
    maxCost: bigint;
    createdAt: number;
    receipt?: Buffer;
    resultHash?: Buffer;
    responseEnvelope?: Buffer;
    promptTokens?: number;
    completionTokens?: number;
    cost?: bigint;
    signature?: Buffer;
    error?: string;
    /** Index of the settlement batch that included this receipt (fast path). */
    batch?: number;
    onchain?: OnchainJob;
}

export interface Voucher {
    cumulative: bigint;
    signature: Buffer;
}

/** What the worker knows about a channel's money, fast path. */
export interface ChannelBooks {
    /** Sum of the costs of every fast-path Receipt signed on this channel. */
    served: bigint;
    /** Cost of the most recent fast-path Receipt (the client may owe it without a voucher). */
    lastCost: bigint;
    /** Fast-path receipts signed. */
    receipts: number;
    /** The highest Voucher the client signed (never lowered). */
    voucher?: Voucher;
    /** Voucher cumulative already paid on-chain (the channel's `settled`, as last seen). */
    settled: bigint;
    /** Settlement batches created so far. */
    batches: number;
    /** Sum of the costs of the receipts pruned after their settlement was confirmed. */
    prunedCost?: bigint;
}

export interface SettlementBatch {
    index: number;
    channel: string;
    cumulative: bigint;
    voucherSignature: Buffer;
    root: Buffer;
    count: number;
    seqs: bigint[];
    final: boolean;
    queryId: bigint;
    state: 'pending' | 'confirmed' | 'failed';
    createdAt: number;
}

/** The highest pruned seq of a channel, per seq space (fast path below 2^63, on-chain from 2^63). */
export interface RetiredSeqs {
    fast?: bigint;
    onchain?: bigint;
}

/** On-chain stages after which the job needs nothing more from the worker. */
const FINAL_STAGES: ReadonlySet<OnchainStage> = new Set(['finalized', 'expired', 'resolved', 'refused']);

/** What the index keeps of a job: a few numbers, never its envelopes. */
interface JobSummary {
    kind: JobKind;
    state: JobState;
    maxCost: bigint;
    cost: bigint;
    batch?: number;
    stage?: OnchainStage;
}

interface ChannelIndex {
    jobs: Map<bigint, JobSummary>;
    /** Sum of maxCost of fast-path jobs in intent or result. */
    reserved: bigint;
    /** Seqs of signed fast-path receipts in no batch. */
    unbatched: Set<bigint>;
    /** Sum of the costs of live signed fast-path receipts in a batch. */
    batchedCost: bigint;
    /** Indexes of the live batch records. */
    batches: Set<number>;
}

const pad = (seq: bigint) => seq.toString().padStart(20, '0');
export const jobKey = (channel: Address | string, seq: bigint) => `job/${typeof channel === 'string' ? channel : channel.toRawString()}/${pad(seq)}`;
const booksKey = (channel: string) => `books/${channel}`;
const batchKey = (channel: string, index: number) => `batch/${channel}/${String(index).padStart(10, '0')}`;
const retiredKey = (channel: string) => `retired/${channel}`;
const rawOf = (channel: Address | string) => (typeof channel === 'string' ? channel : channel.toRawString());

function parseJobKey(key: string): { channel: string; seq: bigint } {
    const cut = key.lastIndexOf('/');
    return { channel: key.slice('job/'.length, cut), seq: BigInt(key.slice(cut + 1)) };
}

function parseBatchKey(key: string): { channel: string; index: number } {
    const cut = key.lastIndexOf('/');
    return { channel: key.slice('batch/'.length, cut), index: Number(key.slice(cut + 1)) };
}

function summarize(record: JobRecord): JobSummary {
    return { kind: record.kind, state: record.state, maxCost: record.maxCost, cost: record.cost ?? 0n, batch: record.batch, stage: record.onchain?.stage };
}

/** A signed record no longer needs its request envelope (only an unsigned job runs again). */
function slim(record: JobRecord): JobRecord {
    return record.state === 'signed' && record.requestEnvelope.length > 0 ? { ...record, requestEnvelope: Buffer.alloc(0) } : record;
}

export class SeqUsedError extends ApiError {
    constructor(channel: string, seq: bigint) {
        super('seq_used', `seq ${seq} of channel ${channel} was already used for a different input; use a new seq (one sequence space per channel)`);
    }
}

/** A seq the worker pruned after it was settled (or its on-chain job ended): it is never signed again. */
export class SeqRetiredError extends ApiError {
    constructor(channel: string, seq: bigint, floor: bigint) {
        super(
            'seq_used',
            `seq ${seq} of channel ${channel} is at or below ${floor}, the highest seq this worker settled and pruned on it; ` +
                'seqs are used once and in increasing order: use a new, higher seq',
        );
        this.name = 'SeqRetiredError';
    }
}

export class SigningJournal {
    private readonly index = new Map<string, ChannelIndex>();
    private readonly bookChannels = new Set<string>();
    private readonly retiredSeqs = new Map<string, RetiredSeqs>();
    /** Keys of on-chain jobs not yet in a final stage (the maintenance pass walks these only). */
    private readonly onchainOpen = new Set<string>();
    /** Keys of fast-path jobs in intent or result (resumed after a restart). */
    private readonly fastOpen = new Set<string>();
    /** Channels with something to prune (a confirmed batch, an on-chain job in a final stage). */
    private readonly prunable = new Set<string>();
    /** The Receipt cell recordResult journalled last, for sign to use without parsing its BOC again. */
    private lastResult: { key: string; boc: Buffer; cell: Cell } | undefined;

    constructor(
        readonly store: JournalStore,
        /** Called once when a write fails: the agent must stop taking work. */
        private readonly onFatal: (error: WorkerFatalError) => void,
    ) {
        // Built once at open; from then on every commit (also the watcher's) keeps it current.
        for (const key of store.keys('job/')) this.indexJob(key, store.get<JobRecord>(key));
        for (const key of store.keys('batch/')) this.indexBatch(key, store.get<SettlementBatch>(key));
        for (const key of store.keys('books/')) this.bookChannels.add(key.slice('books/'.length));
        for (const key of store.keys('retired/')) this.retiredSeqs.set(key.slice('retired/'.length), store.get<RetiredSeqs>(key)!);
        store.onCommit((ops) => {
            for (const [key, encoded] of ops) {
                if (key.startsWith('job/')) this.indexJob(key, encoded === null ? undefined : decodeValue<JobRecord>(encoded));
                else if (key.startsWith('batch/')) this.indexBatch(key, encoded === null ? undefined : decodeValue<SettlementBatch>(encoded));
                else if (key.startsWith('books/')) {
                    if (encoded === null) this.bookChannels.delete(key.slice('books/'.length));
                    else this.bookChannels.add(key.slice('books/'.length));
                } else if (key.startsWith('retired/')) {
                    if (encoded === null) this.retiredSeqs.delete(key.slice('retired/'.length));
                    else this.retiredSeqs.set(key.slice('retired/'.length), decodeValue<RetiredSeqs>(encoded));
                }
            }
        });
    }

    private channelIndex(channel: string): ChannelIndex {
        let entry = this.index.get(channel);
        if (!entry) {
            entry = { jobs: new Map(), reserved: 0n, unbatched: new Set(), batchedCost: 0n, batches: new Set() };
            this.index.set(channel, entry);
        }
        return entry;
    }

    private indexJob(key: string, record: JobRecord | undefined): void {
        const { channel, seq } = parseJobKey(key);
        const entry = this.channelIndex(channel);
        const old = entry.jobs.get(seq);
        if (old) {
            if (old.kind === 'fast' && (old.state === 'intent' || old.state === 'result')) entry.reserved -= old.maxCost;
            if (old.kind === 'fast' && old.state === 'signed') {
                if (old.batch === undefined) entry.unbatched.delete(seq);
                else entry.batchedCost -= old.cost;
            }
        }
        this.onchainOpen.delete(key);
        this.fastOpen.delete(key);
        if (!record) {
            entry.jobs.delete(seq);
            return;
        }
        const next = summarize(record);
        entry.jobs.set(seq, next);
        if (next.kind === 'fast') {
            if (next.state === 'intent' || next.state === 'result') {
                entry.reserved += next.maxCost;
                this.fastOpen.add(key);
            }
            if (next.state === 'signed') {
                if (next.batch === undefined) entry.unbatched.add(seq);
                else entry.batchedCost += next.cost;
            }
        } else if (next.stage !== undefined) {
            if (FINAL_STAGES.has(next.stage)) this.prunable.add(channel);
            else this.onchainOpen.add(key);
        }
    }

    private indexBatch(key: string, record: SettlementBatch | undefined): void {
        const { channel, index } = parseBatchKey(key);
        const entry = this.channelIndex(channel);
        if (!record) entry.batches.delete(index);
        else {
            entry.batches.add(index);
            if (record.state === 'confirmed') this.prunable.add(channel);
        }
    }

    /**
     * Commits a batch; a failed write is fatal (nothing may be signed or answered without its
     * record). `later`: written now, made durable in the background and at the latest by the next
     * commit (which `sign` always is) or `flush()`: for records nothing leaves the agent on before that.
     */
    commit(fill: (batch: WriteBatch) => void, options: { later?: boolean } = {}): void {
        const batch = this.store.batch();
        fill(batch);
        this.commitBatch(batch, options);
    }

    /** Resolves once every commit so far is on disk (a failure is fatal, as for `commit`). */
    async flush(): Promise<void> {
        try {
            await this.store.flush();
        } catch (error) {
            throw this.fatal(error);
        }
    }

    commitBatch(batch: WriteBatch, options: { later?: boolean } = {}): void {
        try {
            if (options.later) this.store.commitLater(batch);
            else this.store.commit(batch);
        } catch (error) {
            throw this.fatal(error);
        }
    }

    private fatal(error: unknown): JournalUnwritableError {
        const fatal = new JournalUnwritableError(`the signing journal ${this.store.path} cannot be written (${(error as Error).message}); stopping: nothing is signed without a record`, {
            cause: error,
        });
        this.onFatal(fatal);
        return fatal;
    }

    job(channel: Address | string, seq: bigint): JobRecord | undefined {
        return this.store.get<JobRecord>(jobKey(channel, seq));
    }

    /** Every job record, optionally of one channel, in (channel, seq) order. */
    jobs(channel?: Address | string): JobRecord[] {
        const prefix = channel === undefined ? 'job/' : `job/${typeof channel === 'string' ? channel : channel.toRawString()}/`;
        return this.store.keys(prefix).map((k) => this.store.get<JobRecord>(k)!);
    }

    /** Jobs held in memory (live: open, unsettled, or settled but not yet pruned). */
    get liveJobs(): number {
        let n = 0;
        for (const entry of this.index.values()) n += entry.jobs.size;
        return n;
    }

    /** Fast-path jobs journalled but not signed (intent or result): what a restart must finish. */
    openFastJobs(): JobRecord[] {
        return [...this.fastOpen].map((k) => this.store.get<JobRecord>(k)!);
    }

    /** On-chain jobs not yet in a final stage (finalized, expired, resolved, refused). */
    openOnchainJobs(): JobRecord[] {
        return [...this.onchainOpen].sort().map((k) => this.store.get<JobRecord>(k)!);
    }

    books(channel: Address | string): ChannelBooks {
        const raw = rawOf(channel);
        return this.store.get<ChannelBooks>(booksKey(raw)) ?? { served: 0n, lastCost: 0n, receipts: 0, settled: 0n, batches: 0 };
    }

    /** Channels with books (every channel a fast-path job or voucher touched). */
    channelsWithBooks(): string[] {
        return [...this.bookChannels].sort();
    }

    /** Money held for fast-path jobs of this channel that are running (intent or result, not yet signed). */
    reserved(channel: Address | string): bigint {
        return this.index.get(rawOf(channel))?.reserved ?? 0n;
    }

    /** The highest pruned seqs of a channel. */
    retired(channel: Address | string): RetiredSeqs {
        return this.retiredSeqs.get(rawOf(channel)) ?? {};
    }

    /** Whether (channel, seq) was pruned, or lies below a pruned seq of its seq space, and is not live: it may never be signed. */
    isRetired(channel: Address | string, seq: bigint): boolean {
        return this.retiredFloor(rawOf(channel), seq) !== undefined;
    }

    private retiredFloor(raw: string, seq: bigint): bigint | undefined {
        const retired = this.retiredSeqs.get(raw);
        if (!retired) return undefined;
        const floor = seq >= ONCHAIN_SEQ_BASE ? retired.onchain : retired.fast;
        if (floor === undefined || seq > floor) return undefined;
        if (this.index.get(raw)?.jobs.has(seq)) return undefined;
        return floor;
    }

    /** Throws `SeqRetiredError` for a retired (channel, seq). */
    assertNotRetired(channel: Address | string, seq: bigint): void {
        const raw = rawOf(channel);
        const floor = this.retiredFloor(raw, seq);
        if (floor !== undefined) throw new SeqRetiredError(raw, seq, floor);
    }

    /** Costs of the fast-path receipts already in a batch (pending or confirmed, pruned included). */
    batchedCost(channel: Address | string): bigint {
        const raw = rawOf(channel);
        return (this.books(raw).prunedCost ?? 0n) + (this.index.get(raw)?.batchedCost ?? 0n);
    }

    /**
     * Journals the intent to run a job. Returns the existing record when this (channel, seq) is
     * already known with the same input (a repeat), and refuses a different input (409).
     */
    recordIntent(record: Omit<JobRecord, 'state'>, extra?: (batch: WriteBatch) => void): { record: JobRecord; existing: boolean } {
        const key = jobKey(record.channel, record.seq);
        const existing = this.store.get<JobRecord>(key);
        if (existing) {
            if (!existing.inputHash.equals(record.inputHash)) throw new SeqUsedError(record.channel, record.seq);
            if (existing.state === 'failed') {
                // Nothing was signed: the same input may run again.
                const retried: JobRecord = { ...existing, state: 'intent', error: undefined, requestEnvelope: record.requestEnvelope, maxCost: record.maxCost };
                this.commit((b) => b.put(key, retried as unknown as StoredValue), { later: true });
                return { record: retried, existing: false };
            }
            return { record: existing, existing: true };
        }
        this.assertNotRetired(record.channel, record.seq);
        const fresh: JobRecord = { ...record, state: 'intent' };
        // Nothing leaves the agent on an intent alone: the signature's commit (or the failure's) makes it durable.
        this.commit(
            (b) => {
                b.put(key, fresh as unknown as StoredValue);
                extra?.(b);
            },
            { later: true },
        );
        return { record: fresh, existing: false };
    }

    /** Journals the exact Receipt cell about to be signed, with the sealed answer. */
    recordResult(
        channel: string,
        seq: bigint,
        result: { receipt: Cell; resultHash: Buffer; responseEnvelope: Buffer; promptTokens: number; completionTokens: number; cost: bigint },
        extra?: (record: JobRecord) => Partial<JobRecord>,
    ): JobRecord {
        const key = jobKey(channel, seq);
        const record = this.store.get<JobRecord>(key);
        if (!record) throw new Error(`no intent journalled for ${channel} seq ${seq}`);
        if (record.state !== 'intent') return record;
        const next: JobRecord = {
            ...record,
            state: 'result',
            receipt: result.receipt.toBoc(),
            resultHash: result.resultHash,
            responseEnvelope: result.responseEnvelope,
            promptTokens: result.promptTokens,
            completionTokens: result.completionTokens,
            cost: result.cost,
            ...(extra ? extra(record) : {}),
        };
        this.commit((b) => b.put(key, next as unknown as StoredValue), { later: true });
        this.lastResult = { key, boc: next.receipt!, cell: result.receipt };
        return next;
    }

    /**
     * Signs the journalled Receipt cell and journals the signature (and, fast path, the channel's
     * books) before returning it. A signed record is returned as it is. `later`: the caller awaits
     * `flush()` before the signature leaves the agent (the job runner does).
     */
    sign(channel: string, seq: bigint, signer: (hash: Buffer) => Buffer, options: { later?: boolean } = {}): JobRecord {
        const key = jobKey(channel, seq);
        const record = this.store.get<JobRecord>(key);
        if (!record) throw new Error(`no job journalled for ${channel} seq ${seq}`);
        if (record.state === 'signed') return record;
        if (record.state !== 'result' || !record.receipt) throw new Error(`job ${channel} seq ${seq} has no journalled receipt to sign (state ${record.state})`);
        // The cell recordResult just journalled for this job, if it was the last one (saves parsing and hashing it again).
        const cell = this.lastResult?.key === key && this.lastResult.boc.equals(record.receipt) ? this.lastResult.cell : Cell.fromBoc(record.receipt)[0];
        this.lastResult = undefined;
        const signature = signer(cell.hash());
        const signed: JobRecord = slim({ ...record, state: 'signed', signature });
        this.commit((b) => {
            b.put(key, signed as unknown as StoredValue);
            if (record.kind === 'fast') {
                const books = this.books(channel);
                b.put(booksKey(channel), {
                    ...books,
                    served: books.served + (record.cost ?? 0n),
                    lastCost: record.cost ?? 0n,
                    receipts: books.receipts + 1,
                } as unknown as StoredValue);
            }
        }, options);
        return signed;
    }

    fail(channel: string, seq: bigint, error: string): void {
        const key = jobKey(channel, seq);
        const record = this.store.get<JobRecord>(key);
        if (!record || record.state !== 'intent') return;
        this.commit((b) => b.put(key, { ...record, state: 'failed', error } as unknown as StoredValue));
    }

    /** Replaces fields of a job record (on-chain progress). */
    updateJob(channel: string, seq: bigint, change: (record: JobRecord) => JobRecord, batch?: WriteBatch): JobRecord | undefined {
        const key = jobKey(channel, seq);
        const record = (batch ?? this.store).get<JobRecord>(key);
        if (!record) return undefined;
        const next = slim(change(record));
        if (batch) batch.put(key, next as unknown as StoredValue);
        else this.commit((b) => b.put(key, next as unknown as StoredValue));
        return next;
    }

    /**
     * Keeps the client's voucher if it is higher than the one held. Returns the voucher now held;
     * throws 409 `voucher_stale` for a lower one (the held one is kept, never lowered).
     */
    acceptVoucher(channel: string, voucher: Voucher): Voucher {
        const books = this.books(channel);
        const held = books.voucher;
        if (held && voucher.cumulative < held.cumulative) {
            throw new ApiError('voucher_stale', `a voucher for ${held.cumulative} nanoTON is already held on this channel; vouchers are cumulative and never lowered`);
        }
        if (held && voucher.cumulative === held.cumulative) return held;
        // Durable before POST /v1/vouchers answers (it awaits flush()) or with the job that carried it.
        this.commit((b) => b.put(booksKey(channel), { ...books, voucher } as unknown as StoredValue), { later: true });
        return voucher;
    }

    /** Records the channel's on-chain `settled` (what vouchers have been paid). */
    noteSettled(channel: string, settled: bigint, batch?: WriteBatch): void {
        const books = (batch ?? this.store).get<ChannelBooks>(booksKey(channel)) ?? this.books(channel);
        if (books.settled >= settled) return;
        const next = { ...books, settled } as unknown as StoredValue;
        if (batch) batch.put(booksKey(channel), next);
        else this.commit((b) => b.put(booksKey(channel), next));
    }

    /** Number of signed fast-path receipts of a channel not yet in a settlement batch. */
    unbatchedCount(channel: string): number {
        return this.index.get(channel)?.unbatched.size ?? 0;
    }

    /** Signed fast-path receipts of a channel not yet in a settlement batch, by seq. */
    unbatchedReceipts(channel: string): JobRecord[] {
        const seqs = [...(this.index.get(channel)?.unbatched ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return seqs.map((seq) => this.job(channel, seq)!);
    }

    /** Journals a settlement batch (before it is sent) and marks its receipts. */
    recordBatch(batch: Omit<SettlementBatch, 'index' | 'state' | 'createdAt'>): SettlementBatch {
        const books = this.books(batch.channel);
        const record: SettlementBatch = { ...batch, index: books.batches, state: 'pending', createdAt: Date.now() };
        this.commit((b) => {
            b.put(batchKey(batch.channel, record.index), record as unknown as StoredValue);
            b.put(booksKey(batch.channel), { ...books, batches: books.batches + 1 } as unknown as StoredValue);
            for (const seq of batch.seqs) {
                const job = this.job(batch.channel, seq);
                if (job) b.put(jobKey(batch.channel, seq), { ...job, batch: record.index } as unknown as StoredValue);
            }
        });
        return record;
    }

    /** The live settlement batches of a channel, by index (pruning keeps the last one). */
    batches(channel: string): SettlementBatch[] {
        const indexes = [...(this.index.get(channel)?.batches ?? [])].sort((a, b) => a - b);
        return indexes.map((i) => this.store.get<SettlementBatch>(batchKey(channel, i))!);
    }

    /**
     * Forgets what no longer needs memory, in one commit per channel: the fast-path receipts of
     * confirmed settlement batches (and those batches, but the channel's last one), and on-chain
     * jobs in a final stage. The channel's `retired/` record keeps the highest pruned seq of each
     * seq space, so none of them can be signed again; `books.prunedCost` keeps what the pruned
     * receipts were worth. Returns the number of jobs pruned.
     */
    prune(): number {
        let pruned = 0;
        for (const channel of [...this.prunable]) {
            this.prunable.delete(channel);
            const entry = this.index.get(channel);
            if (!entry) continue;
            const batches = this.batches(channel);
            const last = batches.at(-1);
            const jobKeys: string[] = [];
            let fastFloor: bigint | undefined;
            let onchainFloor: bigint | undefined;
            let cost = 0n;
            const confirmed = new Set(batches.filter((b) => b.state === 'confirmed').map((b) => b.index));
            for (const [seq, job] of entry.jobs) {
                if (job.kind === 'fast' && job.state === 'signed' && job.batch !== undefined && confirmed.has(job.batch)) {
                    cost += job.cost;
                    if (fastFloor === undefined || seq > fastFloor) fastFloor = seq;
                } else if (job.kind === 'onchain' && job.stage !== undefined && FINAL_STAGES.has(job.stage)) {
                    if (onchainFloor === undefined || seq > onchainFloor) onchainFloor = seq;
                } else continue;
                jobKeys.push(jobKey(channel, seq));
            }
            const doneBatches = batches.filter((b) => b.state === 'confirmed' && b !== last);
            if (jobKeys.length === 0 && doneBatches.length === 0) continue;
            const retired = this.retired(channel);
            this.commit((b) => {
                for (const key of jobKeys) b.delete(key);
                for (const batch of doneBatches) b.delete(batchKey(channel, batch.index));
                if (fastFloor !== undefined || onchainFloor !== undefined) {
                    const next: RetiredSeqs = { ...retired };
                    if (fastFloor !== undefined && (next.fast === undefined || fastFloor > next.fast)) next.fast = fastFloor;
                    if (onchainFloor !== undefined && (next.onchain === undefined || onchainFloor > next.onchain)) next.onchain = onchainFloor;
                    b.put(retiredKey(channel), next as unknown as StoredValue);
                }
                if (cost > 0n) {
                    const books = this.books(channel);
                    b.put(booksKey(channel), { ...books, prunedCost: (books.prunedCost ?? 0n) + cost } as unknown as StoredValue);
                }
            });
            pruned += jobKeys.length;
        }
        return pruned;
    }

    updateBatch(channel: string, index: number, state: SettlementBatch['state']): void {
        const key = batchKey(channel, index);
        const record = this.store.get<SettlementBatch>(key);
        if (!record || record.state === state) return;
        this.commit((b) => {
            b.put(key, { ...record, state } as unknown as StoredValue);
            if (state === 'failed') {
                // The receipts go back to the pool of the next batch.
                for (const seq of record.seqs) {
                    const job = this.job(channel, seq);
                    if (job && job.batch === index) b.put(jobKey(channel, seq), { ...job, batch: undefined } as unknown as StoredValue);
                }
            }
        });
    }

    get<T = StoredValue>(key: string): T | undefined {
        return this.store.get<T>(key);
    }

    put(key: string, value: StoredValue): void {
        this.commit((b) => b.put(key, value));
    }
}

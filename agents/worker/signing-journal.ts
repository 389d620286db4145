import { Address, Cell } from '@ton/core';
import { JournalStore, StoredValue, WriteBatch } from '../store/store';
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

const pad = (seq: bigint) => seq.toString().padStart(20, '0');
export const jobKey = (channel: Address | string, seq: bigint) => `job/${typeof channel === 'string' ? channel : channel.toRawString()}/${pad(seq)}`;
const booksKey = (channel: string) => `books/${channel}`;
const batchKey = (channel: string, index: number) => `batch/${channel}/${String(index).padStart(10, '0')}`;

export class SeqUsedError extends ApiError {
    constructor(channel: string, seq: bigint) {
        super('seq_used', `seq ${seq} of channel ${channel} was already used for a different input; use a new seq (one sequence space per channel)`);
    }
}

export class SigningJournal {
    constructor(
        readonly store: JournalStore,
        /** Called once when a write fails: the agent must stop taking work. */
        private readonly onFatal: (error: WorkerFatalError) => void,
    ) {}

    /** Commits a batch; a failed write is fatal (nothing may be signed or answered without its record). */
    commit(fill: (batch: WriteBatch) => void): void {
        const batch = this.store.batch();
        fill(batch);
        this.commitBatch(batch);
    }

    commitBatch(batch: WriteBatch): void {
        try {
            this.store.commit(batch);
        } catch (error) {
            const fatal = new JournalUnwritableError(`the signing journal ${this.store.path} cannot be written (${(error as Error).message}); stopping: nothing is signed without a record`, {
                cause: error,
            });
            this.onFatal(fatal);
            throw fatal;
        }
    }

    job(channel: Address | string, seq: bigint): JobRecord | undefined {
        return this.store.get<JobRecord>(jobKey(channel, seq));
    }

    /** Every job record, optionally of one channel, in (channel, seq) order. */
    jobs(channel?: Address | string): JobRecord[] {
        const prefix = channel === undefined ? 'job/' : `job/${typeof channel === 'string' ? channel : channel.toRawString()}/`;
        return this.store.keys(prefix).map((k) => this.store.get<JobRecord>(k)!);
    }

    books(channel: Address | string): ChannelBooks {
        const raw = typeof channel === 'string' ? channel : channel.toRawString();
        return this.store.get<ChannelBooks>(booksKey(raw)) ?? { served: 0n, lastCost: 0n, receipts: 0, settled: 0n, batches: 0 };
    }

    /** Channels with books (every channel a fast-path job or voucher touched). */
    channelsWithBooks(): string[] {
        return this.store.keys('books/').map((k) => k.slice('books/'.length));
    }

    /** Money held for fast-path jobs of this channel that are running (intent or result, not yet signed). */
    reserved(channel: Address | string): bigint {
        let sum = 0n;
        for (const job of this.jobs(channel)) if (job.kind === 'fast' && (job.state === 'intent' || job.state === 'result')) sum += job.maxCost;
        return sum;
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
                this.commit((b) => b.put(key, retried as unknown as StoredValue));
                return { record: retried, existing: false };
            }
            return { record: existing, existing: true };
        }
        const fresh: JobRecord = { ...record, state: 'intent' };
        this.commit((b) => {
            b.put(key, fresh as unknown as StoredValue);
            extra?.(b);
        });
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
        this.commit((b) => b.put(key, next as unknown as StoredValue));
        return next;
    }

    /**
     * Signs the journalled Receipt cell and journals the signature (and, fast path, the channel's
     * books) before returning it. A signed record is returned as it is.
     */
    sign(channel: string, seq: bigint, signer: (hash: Buffer) => Buffer): JobRecord {
        const key = jobKey(channel, seq);
        const record = this.store.get<JobRecord>(key);
        if (!record) throw new Error(`no job journalled for ${channel} seq ${seq}`);
        if (record.state === 'signed') return record;
        if (record.state !== 'result' || !record.receipt) throw new Error(`job ${channel} seq ${seq} has no journalled receipt to sign (state ${record.state})`);
        const cell = Cell.fromBoc(record.receipt)[0];
        const signature = signer(cell.hash());
        const signed: JobRecord = { ...record, state: 'signed', signature };
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
        });
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
        const next = change(record);
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
        this.commit((b) => b.put(booksKey(channel), { ...books, voucher } as unknown as StoredValue));
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

    /** Signed fast-path receipts of a channel not yet in a settlement batch, by seq. */
    unbatchedReceipts(channel: string): JobRecord[] {
        return this.jobs(channel).filter((j) => j.kind === 'fast' && j.state === 'signed' && j.batch === undefined);
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

    batches(channel: string): SettlementBatch[] {
        return this.store.keys(`batch/${channel}/`).map((k) => this.store.get<SettlementBatch>(k)!);
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

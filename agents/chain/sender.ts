import { createHash, randomBytes } from 'node:crypto';
import { Address, beginCell, Cell, loadMessage, loadMessageRelaxed, MessageRelaxed, SendMode, storeMessageRelaxed, Transaction } from '@ton/core';
import { JournalStore, StoredValue } from '../store/store';
import { ExternalMessageRejectedError, isRetryable } from './errors';
import { normalizedExternalHash } from './messages';
import { RetryPolicy, sleep, withRetry } from './retry';
import { Chain, TxId, txIdOf } from './types';
import { byNormalizedHash, findTransaction } from './wait';
import { Wallet } from './wallet';

/**
 * Sends from a seqno wallet so that a send is never applied twice, whatever crashes or timeouts
 * happen, and is tracked by the caller's query id.
 *
 * 1. The intent (query id, digest of the messages, seqno, valid-until, the signed bytes and
 *    their normalized hash) is journalled durably before anything is broadcast.
 * 2. Before every (re)broadcast the sender looks for the message's transaction on the wallet:
 *    "sent but outcome unknown" is resolved by the chain, not by guessing.
 * 3. A rebroadcast resends the exact stored bytes: the wallet's seqno lets at most one of them
 *    land. A message is re-signed only once it provably can never land: chain time is past its
 *    valid-until (plus a margin) and the wallet's seqno has not moved, or the seqno was spent by
 *    a message that is not ours.
 * 4. The same query id with the same messages returns the recorded outcome; with different
 *    messages it is refused (`IdempotencyConflictError`).
 *
 * One sender per wallet: sends are serialized, since each needs the wallet's next seqno.
 */
export interface SendRequest {
    /** The caller's id for this send (also carried in the protocol message bodies). */
    queryId: bigint;
    messages: MessageRelaxed[];
    sendMode?: SendMode;
}

export interface SendOutcome {
    queryId: bigint;
    wallet: Address;
    seqno: number;
    transaction: TxId;
    normalizedHash: Buffer;
    /** The wallet transaction's compute and action phases succeeded (its messages went out). */
    succeeded: boolean;
    outMessages: number;
    broadcasts: number;
    resigned: number;
}

export class IdempotencyConflictError extends Error {
    constructor(queryId: bigint) {
        super(`query id ${queryId} was already used for different messages on this wallet; pick a new query id`);
        this.name = 'IdempotencyConflictError';
    }
}

export class SendOutcomeUnknownError extends Error {
    constructor(queryId: bigint, waitedMs: number) {
        super(
            `send ${queryId}: no transaction yet after ${Math.round(waitedMs / 1000)} s; the intent stays journalled, ` +
                'calling send() again with the same query id (or resume()) continues it without a double spend',
        );
        this.name = 'SendOutcomeUnknownError';
    }
}

export interface SenderOptions {
    chain: Chain;
    wallet: Wallet;
    store: JournalStore;
    /** valid-until = chain time + this (default 60 s). */
    ttlSeconds?: number;
    /** Extra chain time past valid-until before an unlanded message counts as dead (default 15 s). */
    expiryMarginSeconds?: number;
    /** How often to look for the transaction (default 1000 ms). */
    pollIntervalMs?: number;
    /** How often to rebroadcast the same bytes while waiting (default 10 000 ms). */
    rebroadcastIntervalMs?: number;
    /** How long one `send` call waits before `SendOutcomeUnknownError` (default 5 min). */
    timeoutMs?: number;
    retry?: RetryPolicy;
    log?: (entry: Record<string, unknown>) => void;
}

interface IntentRecord {
    queryId: bigint;
    digest: string;
    /** The messages and send mode, kept so the intent can be re-signed after a restart. */
    messages: Buffer[];
    sendMode: number | null;
    status: 'pending' | 'confirmed';
    seqno: number;
    validUntil: number;
    boc: Buffer;
    normalizedHash: Buffer;
    /** Every normalized hash ever signed for this intent (only one of them can land). */
    hashes: Buffer[];
    /** The wallet's last transaction lt before the first broadcast: the lookup stops there. */
    sinceLt: bigint;
    broadcasts: number;
    resigned: number;
    outcome?: { transaction: { lt: bigint; hash: Buffer }; succeeded: boolean; outMessages: number };
}

let queryIdCounter = randomBytes(4).readUInt32BE(0);

/**
 * A fresh 64-bit query id: unix seconds in the high 32 bits, a per-process counter (started at a
 * random value) in the low 32 — unique within a process, and unlikely to meet another process's.
 */
export function newQueryId(): bigint {
    queryIdCounter = (queryIdCounter + 1) >>> 0;
    return (BigInt(Math.floor(Date.now() / 1000)) << 32n) | BigInt(queryIdCounter);
}

function digestOf(messages: MessageRelaxed[], sendMode: SendMode | undefined): string {
    const hash = createHash('sha256').update(`mode:${sendMode ?? 'default'};`);
    for (const m of messages) hash.update(beginCell().store(storeMessageRelaxed(m)).endCell().hash());
    return hash.digest('hex');
}

function walletTxSucceeded(tx: Transaction): { succeeded: boolean; outMessages: number } {
    const d = tx.description;
    if (d.type !== 'generic') return { succeeded: false, outMessages: 0 };
    const computeOk = d.computePhase.type === 'vm' && d.computePhase.success;
    const actionOk = d.actionPhase ? d.actionPhase.success && d.actionPhase.skippedActions === 0 : true;
    return { succeeded: computeOk && actionOk && !d.aborted, outMessages: tx.outMessagesCount };
}

export class IdempotentSender {
    private queue: Promise<unknown> = Promise.resolve();
    private readonly prefix: string;

    constructor(private readonly options: SenderOptions) {
        this.prefix = `sender/${options.wallet.address.toRawString()}`;
    }

    private intentKey(queryId: bigint): string {
        return `${this.prefix}/intent/${queryId}`;
    }

    private get pendingKey(): string {
        return `${this.prefix}/pending`;
    }

    /** Sends (or resumes, or returns the recorded outcome of) the send with this query id. */
    send(request: SendRequest): Promise<SendOutcome> {
        return this.exclusive(async () => {
            if (request.queryId < 0n || request.queryId >= 1n << 64n) throw new RangeError('query id must fit in uint64');
            if (request.messages.length === 0) throw new RangeError('a send needs at least one message');
            const digest = digestOf(request.messages, request.sendMode);
            const existing = this.options.store.get<IntentRecord>(this.intentKey(request.queryId));
            if (existing) {
                if (existing.digest !== digest) throw new IdempotencyConflictError(request.queryId);
                if (existing.status === 'confirmed') return this.outcomeOf(existing);
                return this.drive(existing);
            }
            await this.finishPending();
            const record = await this.prepare(request, digest);
            return this.drive(record);
        });
    }

    /** After a restart: settles the intent that was in flight, if any. */
    resume(): Promise<SendOutcome | undefined> {
        return this.exclusive(() => this.finishPending());
    }

    /** The recorded state of a query id (for status pages and tests). */
    status(queryId: bigint): 'unknown' | 'pending' | 'confirmed' {
        return this.options.store.get<IntentRecord>(this.intentKey(queryId))?.status ?? 'unknown';
    }

    private exclusive<T>(operation: () => Promise<T>): Promise<T> {
        const run = this.queue.then(operation);
        this.queue = run.catch(() => undefined);
        return run;
    }

    private call<T>(operation: () => Promise<T>): Promise<T> {
        return withRetry(operation, {
            policy: this.options.retry ?? { baseDelayMs: 200, maxDelayMs: 5000, maxAttempts: 6 },
            onRetry: (error, attempt) => this.options.log?.({ event: 'sender-chain-retry', attempt, error: (error as Error).message }),
        });
    }

    private async finishPending(): Promise<SendOutcome | undefined> {
        const pending = this.options.store.get<string>(this.pendingKey);
        if (pending === undefined) return undefined;
        const record = this.options.store.get<IntentRecord>(this.intentKey(BigInt(pending)));
        if (!record || record.status === 'confirmed') {
            this.options.store.update((b) => b.delete(this.pendingKey));
            return record ? this.outcomeOf(record) : undefined;
        }
        this.options.log?.({ event: 'sender-resume', queryId: record.queryId.toString(), seqno: record.seqno });
        return this.drive(record);
    }

    private async prepare(request: SendRequest, digest: string): Promise<IntentRecord> {
        const { chain, wallet } = this.options;
        const account = await this.call(() => chain.getAccount(wallet.address));
        const seqno = account.status === 'active' ? await this.call(() => wallet.getSeqno(chain)) : 0;
        const validUntil = (await this.call(() => chain.now())) + (this.options.ttlSeconds ?? 60);
        const boc = await wallet.createTransfer({ seqno, validUntil, messages: request.messages, deploy: account.status !== 'active', sendMode: request.sendMode });
        const hash = this.hashOf(boc);
        const record: IntentRecord = {
            queryId: request.queryId,
            digest,
            messages: request.messages.map((m) => beginCell().store(storeMessageRelaxed(m)).endCell().toBoc()),
            sendMode: request.sendMode ?? null,
            status: 'pending',
            seqno,
            validUntil,
            boc,
            normalizedHash: hash,
            hashes: [hash],
            sinceLt: account.lastTransaction?.lt ?? 0n,
            broadcasts: 0,
            resigned: 0,
        };
        // Durable before the first broadcast: a crash from here on is resolved by looking it up.
        this.options.store.update((b) => b.put(this.intentKey(request.queryId), record as unknown as StoredValue).put(this.pendingKey, request.queryId.toString()));
        return record;
    }

    private hashOf(boc: Buffer): Buffer {
        return normalizedExternalHash(loadMessage(Cell.fromBoc(boc)[0].beginParse()));
    }

    private save(record: IntentRecord, pendingDone = false): void {
        this.options.store.update((b) => {
            b.put(this.intentKey(record.queryId), record as unknown as StoredValue);
            if (pendingDone) b.delete(this.pendingKey);
        });
    }

    private async drive(record: IntentRecord): Promise<SendOutcome> {
        const { chain, wallet } = this.options;
        const started = Date.now();
        const timeoutMs = this.options.timeoutMs ?? 5 * 60_000;
        const margin = this.options.expiryMarginSeconds ?? 15;
        let lastBroadcast = 0;
        let spentByOthers = 0;
        for (;;) {
            const landed = await this.findTransaction(record);
            if (landed) {
                const result = walletTxSucceeded(landed);
                record.status = 'confirmed';
                record.outcome = { transaction: txIdOf(landed), ...result };
                this.save(record, true);
                this.options.log?.({ event: 'sender-confirmed', queryId: record.queryId.toString(), lt: landed.lt.toString(), succeeded: result.succeeded });
                return this.outcomeOf(record);
            }
            // Not on chain. Read time first, then the seqno: a state at least that recent.
            const now = await this.call(() => chain.now());
            const seqno = await this.call(() => wallet.getSeqno(chain));
            let resign: number | undefined;
            if (seqno > record.seqno) {
                // Our seqno was spent by a message that is not ours (another sender on this wallet):
                // ours can never land. Confirm twice in case the history lags the state.
                if (++spentByOthers >= 2) resign = seqno;
            } else if (now > record.validUntil + margin) {
                resign = seqno;
            }
            if (resign !== undefined) {
                const messages = record.messages.map((m) => loadMessageRelaxed(Cell.fromBoc(m)[0].beginParse()));
                const validUntil = now + (this.options.ttlSeconds ?? 60);
                const boc = await wallet.createTransfer({ seqno: resign, validUntil, messages, deploy: resign === 0, sendMode: record.sendMode ?? undefined });
                const hash = this.hashOf(boc);
                Object.assign(record, { seqno: resign, validUntil, boc, normalizedHash: hash, hashes: [...record.hashes, hash], resigned: record.resigned + 1 });
                this.save(record);
                this.options.log?.({ event: 'sender-resigned', queryId: record.queryId.toString(), seqno: resign, validUntil });
                spentByOthers = 0;
                lastBroadcast = 0;
            }
            if (Date.now() - lastBroadcast >= (this.options.rebroadcastIntervalMs ?? 10_000) && seqno <= record.seqno) {
                lastBroadcast = Date.now();
                record.broadcasts += 1;
                this.save(record);
                try {
                    await chain.sendExternal(record.boc);
                } catch (error) {
                    // Rejected (perhaps it already landed and the seqno moved) or unreachable: the lookup decides.
                    if (!(error instanceof ExternalMessageRejectedError) && !isRetryable(error)) throw error;
                    this.options.log?.({ event: 'sender-broadcast-failed', queryId: record.queryId.toString(), error: (error as Error).message });
                }
            }
            if (Date.now() - started > timeoutMs) throw new SendOutcomeUnknownError(record.queryId, Date.now() - started);
            await sleep(this.options.pollIntervalMs ?? 1000);
        }
    }

    /** Looks for a wallet transaction whose external message is one this intent signed. */
    private findTransaction(record: IntentRecord): Promise<Transaction | undefined> {
        return this.call(() => findTransaction(this.options.chain, this.options.wallet.address, byNormalizedHash(...record.hashes), { sinceLt: record.sinceLt }));
    }

    private outcomeOf(record: IntentRecord): SendOutcome {
        const outcome = record.outcome!;
        return {
            queryId: record.queryId,
            wallet: this.options.wallet.address,
            seqno: record.seqno,
            transaction: outcome.transaction,
            normalizedHash: record.normalizedHash,
            succeeded: outcome.succeeded,
            outMessages: outcome.outMessages,
            broadcasts: record.broadcasts,
            resigned: record.resigned,
        };
    }
}

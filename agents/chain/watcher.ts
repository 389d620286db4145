import { Address, Transaction } from '@ton/core';
import { JournalStore, WriteBatch } from '../store/store';
import { ChainError } from './errors';
import { backoffDelay, RetryPolicy, sleep, withRetry, RetryAbortedError } from './retry';
import { Chain, sameTx, TxId, txIdOf } from './types';

/**
 * Follows a set of accounts and hands every decoded item of every new transaction to a handler,
 * exactly once, in lt order per account.
 *
 * - Paging: newest first by (lt, hash) down to the account's cursor. The cursor item comes back
 *   on the next page (toncenter's inclusive paging) and providers may repeat items, so items are
 *   deduplicated by hash and everything at or below the cursor is skipped.
 * - Exactly once: the handler stages its effects in a `WriteBatch` of the watcher's crash-safe
 *   store; the watcher adds the account's new cursor to the same batch and commits it as one
 *   journal record. After a crash (even `kill -9` mid-commit) either both are on disk or neither,
 *   so an event is never lost and never applied twice. Effects outside the store must be
 *   idempotent on the event id (account, lt, hash, index).
 * - Faults: every chain call is retried with exponential backoff and full jitter on 429, 5xx and
 *   timeouts; a failed poll backs off and tries again from the durable cursor.
 *
 * Decoding is pluggable: the protocol's decoder (`wrappers/events.ts`) turns contract events and
 * messages into typed items; `decoders.ts` has generic ones.
 */
export type Decoder<E> = (tx: Transaction, account: Address) => E[];

export interface WatchedEvent<E> {
    account: Address;
    tx: TxId;
    /** Position of this item among the items decoded from its transaction. */
    index: number;
    utime: number;
    event: E;
    transaction: Transaction;
}

export type EventHandler<E> = (event: WatchedEvent<E>, effects: WriteBatch) => void | Promise<void>;

export interface WatcherOptions<E> {
    chain: Chain;
    store: JournalStore;
    accounts: Address[];
    decoder: Decoder<E>;
    handler: EventHandler<E>;
    /** Namespace of this watcher's cursors in the store (default "watcher"). */
    name?: string;
    /** Transactions per page, 2..100 (default 50). */
    pageSize?: number;
    /** Pause between polls (default 2000 ms). */
    pollIntervalMs?: number;
    /** Backoff for chain calls and failed polls. */
    retry?: RetryPolicy;
    /** Where to start an account with no cursor: its first transaction (default) or its latest. */
    startFrom?: 'genesis' | 'latest';
    log?: (entry: Record<string, unknown>) => void;
    /**
     * Called once when the watcher stops on an error retrying cannot fix (its cursor does not
     * match the chain). The agent should exit non-zero so its supervisor and operator notice.
     */
    onFatal?: (error: Error) => void;
}

/** The chain's history for an account disagrees with the saved cursor (another network, or a reset devnet). */
export class CursorMismatchError extends ChainError {
    constructor(account: Address, cursor: TxId, found: TxId) {
        super(
            `watcher cursor ${cursor.lt}:${cursor.hash.toString('hex')} for ${account.toString()} does not match the chain ` +
                `(found ${found.lt}:${found.hash.toString('hex')} at that lt): the endpoint serves another chain than the one this store followed`,
            false,
        );
        this.name = 'CursorMismatchError';
    }
}

const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 200, maxDelayMs: 10_000, maxAttempts: 6 };

interface StoredCursor {
    lt: bigint;
    hash: Buffer;
}

export class Watcher<E> {
    private readonly accounts = new Map<string, Address>();
    private readonly name: string;
    private readonly pageSize: number;
    private readonly retry: RetryPolicy;
    private controller: AbortController | undefined;
    private loop: Promise<void> | undefined;
    private failure: Error | undefined;

    constructor(private readonly options: WatcherOptions<E>) {
        this.name = options.name ?? 'watcher';
        this.pageSize = options.pageSize ?? 50;
        if (!Number.isInteger(this.pageSize) || this.pageSize < 2 || this.pageSize > 100) throw new RangeError('watcher pageSize must be 2..100');
        this.retry = options.retry ?? DEFAULT_RETRY;
        for (const account of options.accounts) this.addAccount(account);
    }

    /** Follows one more account (e.g. a channel that just opened). */
    addAccount(address: Address): void {
        this.accounts.set(address.toRawString(), address);
    }

    cursor(address: Address): TxId | undefined {
        return this.options.store.get<StoredCursor>(this.cursorKey(address));
    }

    /** One pass over every account; returns how many events were delivered. */
    async pollOnce(signal?: AbortSignal): Promise<number> {
        let delivered = 0;
        for (const account of this.accounts.values()) delivered += await this.pollAccount(account, signal);
        return delivered;
    }

    /** Polls until `stop()`; a failing poll is logged and retried with backoff, never skipped. */
    start(): void {
        if (this.loop) return;
        const controller = new AbortController();
        this.controller = controller;
        this.loop = (async () => {
            let failures = 0;
            while (!controller.signal.aborted) {
                try {
                    await this.pollOnce(controller.signal);
                    failures = 0;
                    await sleep(this.options.pollIntervalMs ?? 2000, controller.signal);
                } catch (error) {
                    if (error instanceof RetryAbortedError || controller.signal.aborted) break;
                    if (error instanceof CursorMismatchError) {
                        this.failure = error;
                        this.options.log?.({ event: 'watcher-stopped', watcher: this.name, error: error.message });
                        this.options.onFatal?.(error);
                        break;
                    }
                    failures += 1;
                    const delay = backoffDelay(failures, this.retry);
                    this.options.log?.({ event: 'watcher-poll-failed', watcher: this.name, error: (error as Error).message, retryInMs: delay });
                    await sleep(delay, controller.signal).catch(() => undefined);
                }
            }
        })();
    }

    /** The error that stopped the polling loop, if any. */
    get fatalError(): Error | undefined {
        return this.failure;
    }

    async stop(): Promise<void> {
        this.controller?.abort();
        await this.loop;
        this.loop = undefined;
        this.controller = undefined;
    }

    private cursorKey(address: Address): string {
        return `${this.name}/cursor/${address.toRawString()}`;
    }

    private call<T>(operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
        return withRetry(operation, {
            policy: this.retry,
            signal,
            onRetry: (error, attempt, delayMs) =>
                this.options.log?.({ event: 'chain-retry', watcher: this.name, attempt, delayMs, error: (error as Error).message }),
        });
    }

    private async pollAccount(account: Address, signal?: AbortSignal): Promise<number> {
        const store = this.options.store;
        const key = this.cursorKey(account);
        const cursor = store.get<StoredCursor>(key);
        if (!cursor && this.options.startFrom === 'latest') {
            const [latest] = await this.call(() => this.options.chain.getTransactions(account, { limit: 1 }), signal);
            // An account with no history yet starts from its beginning (lt 0), so its first event is not skipped.
            store.update((b) => b.put(key, latest ? { lt: latest.lt, hash: latest.hash() } : { lt: 0n, hash: Buffer.alloc(32) }));
            return 0;
        }
        if (cursor) {
            // An account with nothing new costs one light call (its last transaction id), not a page of transactions to fetch and parse.
            const { lastTransaction } = await this.call(() => this.options.chain.getAccount(account), signal);
            if (lastTransaction ? sameTx(lastTransaction, cursor) : cursor.lt === 0n) return 0;
        }
        const fresh = await this.collectNewer(account, cursor, signal);
        let delivered = 0;
        let pendingCursor: StoredCursor | undefined;
        for (const tx of fresh) {
            const id = txIdOf(tx);
            const events = this.options.decoder(tx, account);
            if (events.length === 0) {
                // Nothing to apply: the cursor may move lazily (re-skipping after a crash is harmless).
                pendingCursor = id;
                continue;
            }
            const batch = store.batch();
            for (let index = 0; index < events.length; index++) {
                await this.options.handler({ account, tx: id, index, utime: tx.now, event: events[index], transaction: tx }, batch);
            }
            batch.put(key, { lt: id.lt, hash: id.hash });
            store.commit(batch);
            pendingCursor = undefined;
            delivered += events.length;
        }
        if (pendingCursor) {
            const last = pendingCursor;
            store.update((b) => b.put(key, { lt: last.lt, hash: last.hash }));
        }
        return delivered;
    }

    /** Every transaction of `account` above `cursor`, oldest first, each once. */
    private async collectNewer(account: Address, cursor: StoredCursor | undefined, signal?: AbortSignal): Promise<Transaction[]> {
        const byHash = new Map<string, Transaction>();
        let from: TxId | undefined;
        let stalls = 0;
        for (;;) {
            const page = await this.call(() => this.options.chain.getTransactions(account, { limit: this.pageSize, from }), signal);
            let reachedCursor = false;
            let oldest: Transaction | undefined;
            for (const tx of page) {
                if (!oldest || tx.lt < oldest.lt) oldest = tx;
                if (cursor && tx.lt <= cursor.lt) {
                    if (tx.lt === cursor.lt && !tx.hash().equals(cursor.hash)) throw new CursorMismatchError(account, cursor, txIdOf(tx));
                    reachedCursor = true;
                    continue;
                }
                byHash.set(tx.hash().toString('hex'), tx);
            }
            if (reachedCursor || page.length < this.pageSize || !oldest) break;
            const next = txIdOf(oldest);
            if (from && next.lt === from.lt && next.hash.equals(from.hash)) {
                // A page of nothing but repeats of the cursor item: ask again rather than loop forever.
                if (++stalls > 5) throw new ChainError(`paging ${account.toString()} makes no progress at lt ${from.lt} (the endpoint repeats one item)`, true);
                await sleep(backoffDelay(stalls, this.retry), signal);
                continue;
            }
            stalls = 0;
            from = next;
        }
        return [...byHash.values()].sort((a, b) => (a.lt < b.lt ? -1 : a.lt > b.lt ? 1 : 0));
    }
}

import { dirname } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from './atomic';
import { Journal, encodeRecord } from './journal';

/**
 * A crash-safe key-value store: every `commit` is one checksummed journal record, fsynced before
 * `commit` returns, so a batch (for example a watcher cursor together with the effects of the
 * events it covers) is either entirely on disk or entirely absent after a crash. The state is the
 * replay of the journal; `compact()` rewrites it as one snapshot record (temp file + fsync +
 * rename), so the file does not grow without bound.
 *
 * Values are JSON plus `bigint` and `Buffer`, which round-trip exactly.
 */
export type StoredValue =
    | null
    | boolean
    | number
    | string
    | bigint
    | Buffer
    | StoredValue[]
    | { [key: string]: StoredValue | undefined };

type Op = [key: string, encoded: string | null];
type JournalEntry = { t: 'b'; ops: Op[] } | { t: 's'; entries: [string, string][] };

export function encodeValue(value: StoredValue): string {
    return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
        const raw = this[key];
        if (typeof raw === 'bigint') return { $bigint: raw.toString() };
        if (Buffer.isBuffer(raw)) return { $bytes: raw.toString('base64') };
        return v;
    });
}

export function decodeValue<T = StoredValue>(text: string): T {
    return JSON.parse(text, (_key, v) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
            const keys = Object.keys(v);
            if (keys.length === 1 && keys[0] === '$bigint' && typeof v.$bigint === 'string') return BigInt(v.$bigint);
            if (keys.length === 1 && keys[0] === '$bytes' && typeof v.$bytes === 'string') return Buffer.from(v.$bytes, 'base64');
        }
        return v;
    }) as T;
}

/** Changes staged for one atomic commit; reads see the staged changes first. */
export class WriteBatch {
    private readonly staged = new Map<string, string | null>();

    constructor(private readonly store: JournalStore) {}

    put(key: string, value: StoredValue): this {
        if (value === undefined) throw new TypeError(`value for ${key} is undefined; use delete()`);
        this.staged.set(key, encodeValue(value));
        return this;
    }

    delete(key: string): this {
        this.staged.set(key, null);
        return this;
    }

    get<T = StoredValue>(key: string): T | undefined {
        if (this.staged.has(key)) {
            const staged = this.staged.get(key);
            return staged === null || staged === undefined ? undefined : decodeValue<T>(staged);
        }
        return this.store.get<T>(key);
    }

    get size(): number {
        return this.staged.size;
    }

    /** @internal */
    ops(): Op[] {
        return [...this.staged.entries()];
    }
}

export interface JournalStoreOptions {
    /** Compact when the journal exceeds this many bytes and at least half of it is history (default 8 MiB). */
    compactAtBytes?: number;
}

/** Called after a commit is applied, with its operations (`null`: the key was deleted). */
export type CommitListener = (ops: ReadonlyArray<readonly [key: string, encoded: string | null]>) => void;

export class JournalStore {
    private readonly state = new Map<string, string>();
    private liveBytes = 0;
    private readonly listeners: CommitListener[] = [];

    private constructor(
        private readonly journal: Journal,
        private readonly compactAtBytes: number,
    ) {
        for (const record of journal.recordsAtOpen) this.apply(JSON.parse(record.toString('utf8')) as JournalEntry);
        journal.releaseRecordsAtOpen();
    }

    static open(path: string, options: JournalStoreOptions = {}): JournalStore {
        return new JournalStore(Journal.open(path), options.compactAtBytes ?? 8 * 1024 * 1024);
    }

    get path(): string {
        return this.journal.path;
    }

    /** Bytes of a torn last record dropped at open (a crash interrupted that commit; it never happened). */
    get repairedBytes(): number {
        return this.journal.repairedBytes;
    }

    get<T = StoredValue>(key: string): T | undefined {
        const encoded = this.state.get(key);
        return encoded === undefined ? undefined : decodeValue<T>(encoded);
    }

    has(key: string): boolean {
        return this.state.has(key);
    }

    keys(prefix = ''): string[] {
        return [...this.state.keys()].filter((k) => k.startsWith(prefix)).sort();
    }

    batch(): WriteBatch {
        return new WriteBatch(this);
    }

    /** Applies the batch atomically and durably. An empty batch writes nothing. */
    commit(batch: WriteBatch): void {
        this.write(batch, false);
    }

    /**
     * Applies the batch atomically now; it becomes durable in the background (group commit), at
     * the latest with the next `commit` or `flush()`. For records whose effects wait for one of those.
     */
    commitLater(batch: WriteBatch): void {
        this.write(batch, true);
    }

    /** Resolves once every commit so far is on disk. */
    flush(): Promise<void> {
        return this.journal.flush();
    }

    private write(batch: WriteBatch, later: boolean): void {
        const ops = batch.ops();
        if (ops.length === 0) return;
        const entry: JournalEntry = { t: 'b', ops };
        const record = Buffer.from(JSON.stringify(entry));
        if (later) this.journal.appendLater(record);
        else this.journal.append(record);
        this.apply(entry);
        for (const listener of this.listeners) listener(ops);
        if (this.journal.byteLength > this.compactAtBytes && this.liveBytes * 2 < this.journal.byteLength) this.compact();
    }

    /**
     * Calls `listener` after every commit (whoever made it), so a reader can keep its own index of
     * the keys it cares about instead of scanning `keys()`.
     */
    onCommit(listener: CommitListener): void {
        this.listeners.push(listener);
    }

    /** Number of keys held (all of them are in memory). */
    get size(): number {
        return this.state.size;
    }

    /** Bytes of the live state (keys and encoded values): what a compaction would write. */
    get liveStateBytes(): number {
        return this.liveBytes;
    }

    /** Convenience: stage with `fill`, then commit (`later`: commitLater). */
    update(fill: (batch: WriteBatch) => void, options: { later?: boolean } = {}): void {
        const batch = this.batch();
        fill(batch);
        this.write(batch, options.later === true);
    }

    /** Rewrites the journal as a single snapshot record, atomically. */
    compact(): void {
        const entry: JournalEntry = { t: 's', entries: [...this.state.entries()] };
        writeFileAtomic(this.journal.path, encodeRecord(Buffer.from(JSON.stringify(entry))));
        fsyncDirectory(dirname(this.journal.path));
        this.journal.reopenAfterReplace();
    }

    get journalBytes(): number {
        return this.journal.byteLength;
    }

    close(): void {
        this.journal.close();
    }

    private apply(entry: JournalEntry): void {
        if (entry.t === 's') {
            this.state.clear();
            this.liveBytes = 0;
            for (const [key, value] of entry.entries) this.set(key, value);
            return;
        }
        for (const [key, value] of entry.ops) this.set(key, value);
    }

    private set(key: string, value: string | null): void {
        const old = this.state.get(key);
        if (old !== undefined) this.liveBytes -= key.length + old.length;
        if (value === null) {
            this.state.delete(key);
        } else {
            this.state.set(key, value);
            this.liveBytes += key.length + value.length;
        }
    }
}

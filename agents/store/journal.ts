import { createHash } from 'node:crypto';
import {
    closeSync,
    existsSync,
    fdatasync,
    fdatasyncSync,
    fstatSync,
    ftruncateSync,
    mkdirSync,
    openSync,
    readFileSync,
    readSync,
    unlinkSync,
    writeFileSync,
    writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDirectory } from './atomic';

/**
 * An append-only journal of checksummed records, each made durable (fdatasync) before `append`
 * returns; `appendLater` writes a record at once and leaves the fdatasync to the thread pool, shared
 * by the records written meanwhile (group commit): `flush()` resolves once they are on disk, and the
 * next `append` covers them too. After a crash the last record may be torn (partly written); opening the journal drops
 * such a tail and keeps every record that was completely written. Damage anywhere else is not a
 * crash artefact, so it stops the open with `JournalCorruptedError` instead of silently losing data.
 *
 * Record: magic "CCJ1" (4) ‖ payload length u32 LE (4) ‖ first 8 bytes of
 * SHA-256(length ‖ payload) (8) ‖ payload.
 */
const MAGIC = Buffer.from('CCJ1');
const HEADER_BYTES = 16;
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export class JournalCorruptedError extends Error {
    constructor(
        readonly path: string,
        readonly offset: number,
        reason: string,
    ) {
        super(
            `journal ${path} is damaged at byte ${offset} (${reason}), before its last record; this is not a torn ` +
                `write from a crash. Restore the file from a backup, or move it aside to start from an empty journal.`,
        );
        this.name = 'JournalCorruptedError';
    }
}

export class JournalLockedError extends Error {
    constructor(
        readonly path: string,
        readonly pid: number,
    ) {
        super(`journal ${path} is in use by process ${pid}; stop that process first (one writer per journal).`);
        this.name = 'JournalLockedError';
    }
}

export class JournalClosedError extends Error {
    constructor(readonly path: string) {
        super(`journal ${path} is closed`);
        this.name = 'JournalClosedError';
    }
}

function checksum(lengthField: Buffer, payload: Buffer): Buffer {
    return createHash('sha256').update(lengthField).update(payload).digest().subarray(0, 8);
}

export function encodeRecord(payload: Buffer): Buffer {
    if (payload.length > MAX_RECORD_BYTES) throw new RangeError(`journal record of ${payload.length} bytes is too large`);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(payload.length, 4);
    checksum(header.subarray(4, 8), payload).copy(header, 8);
    return Buffer.concat([header, payload]);
}

export interface DecodedJournal {
    records: Buffer[];
    /** Byte length of the valid prefix; anything after it is a torn tail to be cut off. */
    validBytes: number;
}

/** Parses journal bytes; throws `JournalCorruptedError` for damage that is not a torn tail. */
export function decodeJournal(bytes: Buffer, path = '<memory>'): DecodedJournal {
    const records: Buffer[] = [];
    let offset = 0;
    while (offset < bytes.length) {
        const rest = bytes.length - offset;
        const tornTail = (): DecodedJournal => ({ records, validBytes: offset });
        if (rest < HEADER_BYTES) {
            if (isPrefixOfHeader(bytes.subarray(offset)) || isAllZero(bytes.subarray(offset))) return tornTail();
            throw new JournalCorruptedError(path, offset, 'short garbage where a record header should be');
        }
        if (!bytes.subarray(offset, offset + 4).equals(MAGIC)) {
            // A power cut can leave the file longer than what was written, padded with zeros.
            if (isAllZero(bytes.subarray(offset))) return tornTail();
            throw new JournalCorruptedError(path, offset, 'bad record magic');
        }
        const length = bytes.readUInt32LE(offset + 4);
        const end = offset + HEADER_BYTES + length;
        if (length > MAX_RECORD_BYTES) {
            throw new JournalCorruptedError(path, offset, `record length ${length} is impossible`);
        }
        if (end > bytes.length) return tornTail();
        const payload = bytes.subarray(offset + HEADER_BYTES, end);
        if (!checksum(bytes.subarray(offset + 4, offset + 8), payload).equals(bytes.subarray(offset + 8, offset + 16))) {
            // The last record may have been written partly before its payload reached the disk.
            if (end === bytes.length || isAllZero(bytes.subarray(end))) return tornTail();
            throw new JournalCorruptedError(path, offset, 'checksum mismatch');
        }
        records.push(Buffer.from(payload));
        offset = end;
    }
    return { records, validBytes: offset };
}

function isAllZero(bytes: Buffer): boolean {
    for (const b of bytes) if (b !== 0) return false;
    return true;
}

function isPrefixOfHeader(bytes: Buffer): boolean {
    const n = Math.min(bytes.length, 4);
    return bytes.subarray(0, n).equals(MAGIC.subarray(0, n));
}

const openInThisProcess = new Set<string>();

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** One writer per journal: a lock file holding the writer's pid; a lock left by a dead process is taken over. */
function acquireLock(path: string): string {
    const lockPath = `${path}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            writeFileSync(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
            openInThisProcess.add(path);
            return lockPath;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
            let pid = NaN;
            try {
                pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
            } catch {
                /* vanished between the two calls: retry */
            }
            const heldHere = pid === process.pid && openInThisProcess.has(path);
            if (Number.isInteger(pid) && pid > 0 && (heldHere || (pid !== process.pid && processAlive(pid)))) {
                throw new JournalLockedError(path, pid);
            }
            try {
                unlinkSync(lockPath);
            } catch {
                /* someone else removed it */
            }
        }
    }
    throw new JournalLockedError(path, NaN);
}

export interface JournalOptions {
    /** Take the single-writer lock (default true). */
    lock?: boolean;
}

export class Journal {
    private fd: number | undefined;
    private size: number;
    private lockPath: string | undefined;
    /** Bytes of a torn tail cut off when this journal was opened (0 after a clean shutdown). */
    readonly repairedBytes: number;
    /** Records written so far, and how many of them are known to be on disk (group commit). */
    private written = 0;
    private synced = 0;
    private syncing = false;
    /** Bumped when the file is closed or replaced: a sync of the old descriptor that ends later is ignored. */
    private generation = 0;
    private waiters: { upTo: number; resolve: () => void; reject: (error: Error) => void }[] = [];
    /** A background fdatasync that failed with nobody waiting: the next append or flush throws it. */
    private syncError: Error | undefined;

    private constructor(
        readonly path: string,
        fd: number,
        size: number,
        repairedBytes: number,
        lockPath: string | undefined,
        private loaded: Buffer[],
    ) {
        this.fd = fd;
        this.size = size;
        this.repairedBytes = repairedBytes;
        this.lockPath = lockPath;
    }

    /** Opens (creating if needed) the journal at `path`, repairing a torn last record. */
    static open(path: string, options: JournalOptions = {}): Journal {
        mkdirSync(dirname(path), { recursive: true });
        const lockPath = options.lock === false ? undefined : acquireLock(path);
        try {
            const created = !existsSync(path);
            const fd = openSync(path, created ? 'w+' : 'r+', 0o600);
            if (created) fsyncDirectory(dirname(path));
            const bytes = readAll(fd);
            const decoded = decodeJournal(bytes, path);
            let repaired = 0;
            if (decoded.validBytes < bytes.length) {
                repaired = bytes.length - decoded.validBytes;
                ftruncateSync(fd, decoded.validBytes);
                fdatasyncSync(fd);
            }
            return new Journal(path, fd, decoded.validBytes, repaired, lockPath, decoded.records);
        } catch (error) {
            if (lockPath) releaseLock(path, lockPath);
            throw error;
        }
    }

    /** The records present when the journal was opened (later appends are not added here). */
    get recordsAtOpen(): readonly Buffer[] {
        return this.loaded;
    }

    /** Lets go of the records read at open (the store replays them once; keeping them would hold the whole file in memory). */
    releaseRecordsAtOpen(): void {
        this.loaded = [];
    }

    get byteLength(): number {
        return this.size;
    }

    /** Appends one record and makes it (and every record before it) durable before returning. */
    append(payload: Buffer): void {
        const fd = this.write(payload);
        fdatasyncSync(fd);
        this.markSynced(this.written);
    }

    /**
     * Appends one record now and starts making it durable in the background (one fdatasync for
     * all records written meanwhile). A crash of the process loses nothing written; a power cut
     * may lose what was not yet synced: use it for records whose effects wait on `flush()` or on
     * a later `append`.
     */
    appendLater(payload: Buffer): void {
        this.write(payload);
        this.startSync();
    }

    /** Resolves once every record appended so far is on disk. */
    flush(): Promise<void> {
        this.throwSyncError();
        const upTo = this.written;
        if (this.synced >= upTo) return Promise.resolve();
        return new Promise((resolve, reject) => {
            this.waiters.push({ upTo, resolve, reject });
            this.startSync();
        });
    }

    private write(payload: Buffer): number {
        const fd = this.requireOpen();
        this.throwSyncError();
        const record = encodeRecord(payload);
        let written = 0;
        try {
            while (written < record.length) {
                written += writeSync(fd, record, written, record.length - written, this.size + written);
            }
        } catch (error) {
            // Leave no partial record behind for the next append to be glued onto.
            try {
                ftruncateSync(fd, this.size);
            } catch {
                /* the reopen will cut the torn tail */
            }
            throw error;
        }
        this.size += record.length;
        this.written++;
        return fd;
    }

    private startSync(): void {
        if (this.syncing || this.fd === undefined || this.synced >= this.written) return;
        this.syncing = true;
        const upTo = this.written;
        const generation = this.generation;
        fdatasync(this.fd, (error) => {
            this.syncing = false;
            if (generation !== this.generation) return; // closed or replaced meanwhile: that path synced and settled the waiters
            if (error) {
                const waiting = this.waiters;
                this.waiters = [];
                if (waiting.length === 0) this.syncError = error;
                for (const w of waiting) w.reject(error);
                return;
            }
            this.markSynced(upTo);
            this.startSync();
        });
    }

    private markSynced(upTo: number): void {
        if (upTo > this.synced) this.synced = upTo;
        const ready = this.waiters.filter((w) => w.upTo <= this.synced);
        if (ready.length === 0) return;
        this.waiters = this.waiters.filter((w) => w.upTo > this.synced);
        for (const w of ready) w.resolve();
    }

    private throwSyncError(): void {
        if (this.syncError) throw this.syncError;
    }

    /** Cuts the journal back to its first `count` records (used to undo records a crash left unconfirmed). */
    truncateToRecords(count: number): void {
        const fd = this.requireOpen();
        const decoded = decodeJournal(readAll(fd), this.path);
        if (count > decoded.records.length) throw new RangeError(`journal has ${decoded.records.length} records, not ${count}`);
        let offset = 0;
        for (let i = 0; i < count; i++) offset += HEADER_BYTES + decoded.records[i].length;
        ftruncateSync(fd, offset);
        fdatasyncSync(fd);
        this.size = offset;
        this.generation++;
        this.markSynced(this.written);
    }

    close(): void {
        if (this.fd === undefined) return;
        if (this.synced < this.written) {
            try {
                fdatasyncSync(this.fd);
                this.markSynced(this.written);
            } catch (error) {
                for (const w of this.waiters) w.reject(error as Error);
                this.waiters = [];
            }
        }
        this.generation++;
        closeSync(this.fd);
        this.fd = undefined;
        if (this.lockPath) releaseLock(this.path, this.lockPath);
        this.lockPath = undefined;
    }

    /** Reopens the file after it was replaced on disk (compaction renames a new file over it). */
    reopenAfterReplace(): void {
        const fd = this.requireOpen();
        closeSync(fd);
        this.fd = openSync(this.path, 'r+');
        this.size = fstatSync(this.fd).size;
        // The new file was written and synced whole (temp file + fsync + rename): every record is durable.
        this.generation++;
        this.syncing = false;
        this.markSynced(this.written);
    }

    private requireOpen(): number {
        if (this.fd === undefined) throw new JournalClosedError(this.path);
        return this.fd;
    }
}

function releaseLock(path: string, lockPath: string): void {
    openInThisProcess.delete(path);
    try {
        unlinkSync(lockPath);
    } catch {
        /* already gone */
    }
}

function readAll(fd: number): Buffer {
    const size = fstatSync(fd).size;
    const bytes = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
        const n = readSync(fd, bytes, read, size - read, read);
        if (n === 0) break;
        read += n;
    }
    return bytes.subarray(0, read);
}

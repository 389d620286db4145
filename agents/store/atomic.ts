import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsyncs a directory so a rename or a new file inside it survives a power cut. */
export function fsyncDirectory(dir: string): void {
    let fd: number | undefined;
    try {
        fd = openSync(dir, 'r');
        fsyncSync(fd);
    } catch (error) {
        // Some file systems refuse fsync on a directory (EISDIR/EINVAL/EPERM); the rename is still atomic there.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw error;
    } finally {
        if (fd !== undefined) closeSync(fd);
    }
}

/**
 * Replaces `path` with `data` atomically: a reader (or a restart after a crash) sees either the
 * old file or the new one, never a mix. Temp file in the same directory + fsync + rename + fsync
 * of the directory.
 */
export function writeFileAtomic(path: string, data: Buffer | string): void {
    const dir = dirname(path);
    const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const fd = openSync(temp, 'w', 0o600);
    try {
        let written = 0;
        while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
        fsyncSync(fd);
    } catch (error) {
        closeSync(fd);
        unlinkSync(temp);
        throw error;
    }
    closeSync(fd);
    renameSync(temp, path);
    fsyncDirectory(dir);
}

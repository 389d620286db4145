import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Journal, JournalCorruptedError, JournalLockedError, decodeJournal, encodeRecord } from './journal';
import { JournalStore, decodeValue, encodeValue } from './store';

const REPO_ROOT = resolve(__dirname, '..', '..');

describe('journal store', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-store-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('round-trips bigint, Buffer and nested JSON values exactly', () => {
        const value = { n: 2n ** 200n, neg: -5n, bytes: Buffer.from('00ff10', 'hex'), list: [1, 'x', null, true], nested: { $bigint: 1 } };
        expect(decodeValue(encodeValue(value))).toEqual(value);
    });

    it('keeps every committed batch across a reopen, and applies a batch as a whole', () => {
        const path = join(dir, 'state.journal');
        const store = JournalStore.open(path);
        store.update((b) => b.put('cursor', { lt: 10n }).put('effect/1', 'done'));
        store.update((b) => b.put('cursor', { lt: 20n }).put('effect/2', 'done').delete('effect/1'));
        store.close();

        const again = JournalStore.open(path);
        expect(again.get('cursor')).toEqual({ lt: 20n });
        expect(again.keys('effect/')).toEqual(['effect/2']);
        expect(again.repairedBytes).toBe(0);
        again.close();
    });

    it('reads its own staged writes inside a batch before they are committed', () => {
        const store = JournalStore.open(join(dir, 'j'));
        store.update((b) => b.put('a', 1));
        const batch = store.batch().put('a', 2).delete('b');
        expect(batch.get('a')).toBe(2);
        expect(store.get('a')).toBe(1);
        store.commit(batch);
        expect(store.get('a')).toBe(2);
        store.close();
    });

    it('drops a torn last record at every possible cut point and keeps the records before it', () => {
        const path = join(dir, 'torn.journal');
        const store = JournalStore.open(path);
        store.update((b) => b.put('k', 1));
        store.update((b) => b.put('k', 2));
        store.close();
        const full = readFileSync(path);
        const lastRecord = encodeRecord(Buffer.from(JSON.stringify({ t: 'b', ops: [['k', '3']] })));
        for (let cut = 1; cut < lastRecord.length; cut++) {
            writeFileSync(path, Buffer.concat([full, lastRecord.subarray(0, cut)]));
            const reopened = JournalStore.open(path);
            expect(reopened.get('k')).toBe(2);
            expect(reopened.repairedBytes).toBe(cut);
            reopened.close();
            expect(statSync(path).size).toBe(full.length);
        }
        // A record whose bytes all arrived is kept.
        writeFileSync(path, Buffer.concat([full, lastRecord]));
        const complete = JournalStore.open(path);
        expect(complete.get('k')).toBe(3);
        complete.update((b) => b.put('k', 4));
        complete.close();
        expect(JournalStore.open(path).get('k')).toBe(4);
    });

    it('drops a zero-filled tail left by a power cut, and a tail whose payload never reached the disk', () => {
        const path = join(dir, 'zeros.journal');
        const store = JournalStore.open(path);
        store.update((b) => b.put('k', 'kept'));
        store.close();
        appendFileSync(path, Buffer.alloc(100));
        let reopened = JournalStore.open(path);
        expect(reopened.get('k')).toBe('kept');
        expect(reopened.repairedBytes).toBe(100);
        reopened.close();

        const record = encodeRecord(Buffer.from(JSON.stringify({ t: 'b', ops: [['k', '"lost"']] })));
        record.fill(0, 16); // header written, payload not
        appendFileSync(path, record);
        reopened = JournalStore.open(path);
        expect(reopened.get('k')).toBe('kept');
        reopened.close();
    });

    it('refuses to open a journal damaged before its last record instead of silently losing data', () => {
        const path = join(dir, 'bad.journal');
        const store = JournalStore.open(path);
        store.update((b) => b.put('a', 'first'));
        store.update((b) => b.put('b', 'second'));
        store.close();
        const bytes = readFileSync(path);
        bytes[20] ^= 0xff; // inside the first record's payload
        writeFileSync(path, bytes);
        expect(() => JournalStore.open(path)).toThrow(JournalCorruptedError);
        expect(() => decodeJournal(bytes)).toThrow(/not a torn write/);
    });

    it('allows one writer: a second open fails while the first holds the journal, a dead holder is taken over', () => {
        const path = join(dir, 'locked.journal');
        const first = JournalStore.open(path);
        expect(() => JournalStore.open(path)).toThrow(JournalLockedError);
        first.close();
        const second = JournalStore.open(path);
        second.close();

        const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
        writeFileSync(`${path}.lock`, dead.stdout.toString());
        const third = JournalStore.open(path);
        third.close();
    });

    it('compacts history into one snapshot record without changing the state', () => {
        const path = join(dir, 'compact.journal');
        const store = JournalStore.open(path, { compactAtBytes: 4096 });
        for (let i = 0; i < 200; i++) store.update((b) => b.put('counter', i).put(`item/${i % 3}`, Buffer.alloc(8, i)));
        expect(store.journalBytes).toBeLessThan(4096);
        store.close();
        const reopened = JournalStore.open(path);
        expect(reopened.get('counter')).toBe(199);
        expect(reopened.get('item/1')).toEqual(Buffer.alloc(8, 199));
        expect(reopened.keys('item/')).toHaveLength(3);
        reopened.close();
    });

    it('survives kill -9 in the middle of a stream of commits: every batch is all or nothing', async () => {
        const path = join(dir, 'killed.journal');
        const script = `
            require('tsx/cjs');
            const { JournalStore } = require(${JSON.stringify(join(REPO_ROOT, 'agents/store/store.ts'))});
            const store = JournalStore.open(${JSON.stringify(path)});
            let i = store.get('a') ?? 0;
            process.stdout.write('ready\\n');
            for (;;) { i++; store.update((b) => b.put('a', i).put('effect/' + i, 'x'.repeat(i % 500)).put('b', i)); }
        `;
        for (let round = 0; round < 3; round++) {
            const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
            await new Promise<void>((ok) => child.stdout!.once('data', () => ok()));
            await new Promise((ok) => setTimeout(ok, 150 + round * 50));
            child.kill('SIGKILL');
            await new Promise((ok) => child.once('exit', ok));
            const store = JournalStore.open(path);
            const a = store.get<number>('a')!;
            expect(a).toBeGreaterThan(0);
            expect(store.get('b')).toBe(a);
            expect(store.keys('effect/')).toHaveLength(a);
            store.close();
        }
    });

    describe('commitLater (group commit)', () => {
        it('applies at once, and flush() resolves once every commit so far is on disk', async () => {
            const path = join(dir, 'later.journal');
            const store = JournalStore.open(path);
            for (let i = 0; i < 50; i++) store.update((b) => b.put(`k/${i}`, i), { later: true });
            expect(store.get('k/49')).toBe(49);
            await store.flush();
            await store.flush(); // nothing pending: resolves at once
            // Read back by another reader (no lock) while the store is still open: all of it was written.
            const copy = join(dir, 'copy.journal');
            writeFileSync(copy, readFileSync(path));
            const reader = JournalStore.open(copy);
            expect(reader.keys('k/')).toHaveLength(50);
            reader.close();
            store.close();
        });

        it('is covered by the next plain commit, by close() and by a compaction', async () => {
            const path = join(dir, 'covered.journal');
            let store = JournalStore.open(path, { compactAtBytes: 2048 });
            store.update((b) => b.put('lazy', 1), { later: true });
            store.update((b) => b.put('plain', 2));
            const flushed = store.flush();
            store.update((b) => b.put('atClose', 3), { later: true });
            store.close();
            await flushed;
            store = JournalStore.open(path, { compactAtBytes: 2048 });
            expect([store.get('lazy'), store.get('plain'), store.get('atClose')]).toEqual([1, 2, 3]);
            // Enough lazy commits to compact several times: waiting on a flush across them still resolves.
            const waits: Promise<void>[] = [];
            for (let i = 0; i < 200; i++) {
                store.update((b) => b.put('counter', i).put('pad', 'x'.repeat(100)), { later: true });
                if (i % 40 === 0) waits.push(store.flush());
            }
            await Promise.all(waits);
            await store.flush();
            expect(store.journalBytes).toBeLessThan(2048 + 400);
            store.close();
            const reopened = JournalStore.open(path);
            expect(reopened.get('counter')).toBe(199);
            reopened.close();
        });

        it('loses nothing written when the process is killed (kill -9) before the background sync', async () => {
            const path = join(dir, 'killed-later.journal');
            const script = `
                require('tsx/cjs');
                const { JournalStore } = require(${JSON.stringify(join(REPO_ROOT, 'agents/store/store.ts'))});
                const store = JournalStore.open(${JSON.stringify(path)});
                for (let i = 1; i <= 500; i++) store.update((b) => b.put('n', i).put('effect/' + i, i), { later: true });
                process.stdout.write('written\\n');
                setInterval(() => {}, 1000);
            `;
            const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
            await new Promise<void>((ok) => child.stdout!.once('data', () => ok()));
            child.kill('SIGKILL');
            await new Promise((ok) => child.once('exit', ok));
            const store = JournalStore.open(path);
            expect(store.get('n')).toBe(500);
            expect(store.keys('effect/')).toHaveLength(500);
            store.close();
        });
    });

    it('keeps its records through Journal.truncateToRecords', () => {
        const path = join(dir, 'raw.journal');
        const journal = Journal.open(path);
        for (let i = 0; i < 5; i++) journal.append(Buffer.from(`r${i}`));
        journal.truncateToRecords(3);
        journal.append(Buffer.from('r3b'));
        journal.close();
        const reopened = Journal.open(path);
        expect(reopened.recordsAtOpen.map((r) => r.toString())).toEqual(['r0', 'r1', 'r2', 'r3b']);
        reopened.close();
        truncateSync(path, 0);
        expect(Journal.open(path, { lock: false }).recordsAtOpen).toHaveLength(0);
    });
});

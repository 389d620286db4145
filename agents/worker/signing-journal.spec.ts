import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, Cell } from '@ton/core';
import { ed25519FromSeed, ed25519Sign } from '../core/ed25519';
import { JournalStore } from '../store/store';
import { receiptCell, verifyCell } from '../../wrappers/signed';
import { ApiError, WorkerFatalError } from './errors';
import { jobKey, JobRecord, SeqUsedError, SigningJournal } from './signing-journal';

const CHANNEL = new Address(0, Buffer.alloc(32, 3));
const RAW = CHANNEL.toRawString();
const KEY = ed25519FromSeed(Buffer.alloc(32, 4));
const signer = (hash: Buffer) => ed25519Sign(hash, KEY.seed);
const hash = (n: number) => Buffer.alloc(32, n);

function receipt(seq: bigint, result: number): Cell {
    return receiptCell({ channel: CHANNEL, seq, model: 1n, inputHash: 2n, resultHash: BigInt(result), promptTokens: 3n, completionTokens: 4n });
}

const intent = (seq: bigint, input = 1) => ({
    kind: 'fast' as const,
    channel: RAW,
    seq,
    model: 1n,
    inputHash: hash(input),
    requestEnvelope: Buffer.from('ciphertext'),
    maxCost: 100n,
    createdAt: 0,
});

const result = (seq: bigint, value: number) => ({ receipt: receipt(seq, value), resultHash: hash(value), responseEnvelope: Buffer.from('sealed'), promptTokens: 3, completionTokens: 4, cost: 70n });

describe('signing journal', () => {
    let dir: string;
    let store: JournalStore;
    let journal: SigningJournal;
    const fatal: Error[] = [];
    const reopen = () => {
        store.close();
        store = JournalStore.open(join(dir, 'worker.journal'));
        journal = new SigningJournal(store, (e) => fatal.push(e));
    };
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-signing-'));
        store = JournalStore.open(join(dir, 'worker.journal'));
        journal = new SigningJournal(store, (e) => fatal.push(e));
    });
    afterEach(() => {
        store.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('journals intent, result and signature before each next step, and survives a reopen at every stage', () => {
        journal.recordIntent(intent(1n));
        reopen();
        expect(journal.job(RAW, 1n)?.state).toBe('intent');
        journal.recordResult(RAW, 1n, result(1n, 7));
        reopen();
        expect(journal.job(RAW, 1n)?.state).toBe('result');
        const signed = journal.sign(RAW, 1n, signer);
        reopen();
        const record = journal.job(RAW, 1n)!;
        expect(record.state).toBe('signed');
        expect(record.signature).toEqual(signed.signature);
        expect(verifyCell(Cell.fromBoc(record.receipt!)[0], record.signature!, KEY.publicKey)).toBe(true);
        expect(journal.books(RAW)).toMatchObject({ served: 70n, lastCost: 70n, receipts: 1 });
    });

    it('never signs a second, different receipt for one (channel, seq): after a crash it signs only the journalled cell', () => {
        journal.recordIntent(intent(1n));
        journal.recordResult(RAW, 1n, result(1n, 7));
        reopen(); // crash between journalling the result and signing it
        // A re-run that produced another answer cannot replace the journalled one...
        journal.recordResult(RAW, 1n, result(1n, 8));
        const signed = journal.sign(RAW, 1n, signer);
        expect(Cell.fromBoc(signed.receipt!)[0].equals(receipt(1n, 7))).toBe(true);
        // ...and signing again returns the same record, never a new signature.
        let calls = 0;
        const again = journal.sign(RAW, 1n, (h) => {
            calls++;
            return signer(h);
        });
        expect(calls).toBe(0);
        expect(again.signature).toEqual(signed.signature);
        expect(journal.books(RAW).receipts).toBe(1);
    });

    it('refuses another input for a used seq (409 seq_used), returns the record for the same input, and lets a failed job run again', () => {
        journal.recordIntent(intent(5n, 1));
        expect(() => journal.recordIntent(intent(5n, 2))).toThrow(SeqUsedError);
        try {
            journal.recordIntent(intent(5n, 2));
        } catch (error) {
            expect((error as ApiError).status).toBe(409);
            expect((error as ApiError).code).toBe('seq_used');
        }
        expect(journal.recordIntent(intent(5n, 1))).toMatchObject({ existing: true });
        journal.fail(RAW, 5n, 'model crashed');
        expect(journal.job(RAW, 5n)?.state).toBe('failed');
        expect(journal.reserved(RAW)).toBe(0n);
        expect(journal.recordIntent(intent(5n, 1))).toMatchObject({ existing: false, record: { state: 'intent' } });
        expect(journal.reserved(RAW)).toBe(100n);
        expect(() => journal.recordIntent(intent(5n, 3))).toThrow(SeqUsedError);
    });

    it('keeps the highest voucher across restarts and never lowers it', () => {
        journal.acceptVoucher(RAW, { cumulative: 50n, signature: Buffer.alloc(64, 1) });
        journal.acceptVoucher(RAW, { cumulative: 80n, signature: Buffer.alloc(64, 2) });
        expect(() => journal.acceptVoucher(RAW, { cumulative: 60n, signature: Buffer.alloc(64, 3) })).toThrow(/never lowered/);
        reopen();
        expect(journal.books(RAW).voucher).toEqual({ cumulative: 80n, signature: Buffer.alloc(64, 2) });
    });

    it('reports a journal that cannot be written as fatal: no signature leaves without its record', () => {
        journal.recordIntent(intent(1n));
        journal.recordResult(RAW, 1n, result(1n, 7));
        store.close();
        let signedSomething = false;
        expect(() =>
            journal.sign(RAW, 1n, (h) => {
                signedSomething = true;
                return signer(h);
            }),
        ).toThrow(/cannot be written/);
        // The signature was computed in memory but never left: sign() throws before returning it.
        expect(signedSomething).toBe(true);
        // Fatal (the agent stops), and named for what failed so the 503 says journal_unwritable.
        expect(fatal.at(-1)).toBeInstanceOf(WorkerFatalError);
        expect(fatal.at(-1)?.name).toBe('JournalUnwritableError');
        store = JournalStore.open(join(dir, 'worker.journal'));
        journal = new SigningJournal(store, () => undefined);
        expect(journal.job(RAW, 1n)?.state).toBe('result');
    });

    it('after kill -9 in the middle of signing, every record is whole and every signature matches its one receipt', async () => {
        const path = join(dir, 'killed.journal');
        const root = resolve(__dirname, '..', '..');
        const script = `
            require('tsx/cjs');
            const { JournalStore } = require(${JSON.stringify(join(root, 'agents/store/store.ts'))});
            const { SigningJournal } = require(${JSON.stringify(join(root, 'agents/worker/signing-journal.ts'))});
            const { receiptCell } = require(${JSON.stringify(join(root, 'wrappers/signed.ts'))});
            const { ed25519FromSeed, ed25519Sign } = require(${JSON.stringify(join(root, 'agents/core/ed25519.ts'))});
            const { Address } = require('@ton/core');
            const channel = new Address(0, Buffer.alloc(32, 3));
            const raw = channel.toRawString();
            const key = ed25519FromSeed(Buffer.alloc(32, 4));
            const store = JournalStore.open(${JSON.stringify(path)});
            const journal = new SigningJournal(store, (e) => { throw e; });
            let seq = BigInt(store.keys('job/').length);
            process.stdout.write('ready\\n');
            for (;;) {
                seq++;
                journal.recordIntent({ kind: 'fast', channel: raw, seq, model: 1n, inputHash: Buffer.alloc(32, 1), requestEnvelope: Buffer.alloc(200, 9), maxCost: 10n, createdAt: 0 });
                const cell = receiptCell({ channel, seq, model: 1n, inputHash: 2n, resultHash: BigInt(Date.now()), promptTokens: 1n, completionTokens: 1n });
                journal.recordResult(raw, seq, { receipt: cell, resultHash: Buffer.alloc(32), responseEnvelope: Buffer.alloc(100), promptTokens: 1, completionTokens: 1, cost: 10n });
                journal.sign(raw, seq, (h) => ed25519Sign(h, key.seed));
            }
        `;
        for (let round = 0; round < 3; round++) {
            const child = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
            await new Promise<void>((ok) => child.stdout!.once('data', () => ok()));
            await new Promise((ok) => setTimeout(ok, 200 + round * 70));
            child.kill('SIGKILL');
            await new Promise((ok) => child.once('exit', ok));
            const reopened = JournalStore.open(path);
            const j = new SigningJournal(reopened, () => undefined);
            const records = j.jobs(RAW);
            expect(records.length).toBeGreaterThan(0);
            for (const record of records) {
                if (record.state === 'signed') expect(verifyCell(Cell.fromBoc(record.receipt!)[0], record.signature!, KEY.publicKey)).toBe(true);
                // A job the kill interrupted is finished from its journalled cell, never from a new one.
                if (record.state === 'result') {
                    const cell = Cell.fromBoc(record.receipt!)[0];
                    const finished = j.sign(RAW, record.seq, signer);
                    expect(Cell.fromBoc(finished.receipt!)[0].equals(cell)).toBe(true);
                    expect(verifyCell(cell, finished.signature!, KEY.publicKey)).toBe(true);
                }
                if (record.state === 'intent') expect(record.signature).toBeUndefined();
            }
            const signedCount = j.jobs(RAW).filter((r: JobRecord) => r.state === 'signed').length;
            expect(j.books(RAW).receipts).toBe(signedCount);
            expect(store.get(jobKey(RAW, 999_999n))).toBeUndefined();
            reopened.close();
        }
    });
});

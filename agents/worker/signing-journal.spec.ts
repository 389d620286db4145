import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, Cell } from '@ton/core';
import { ed25519FromSeed, ed25519Sign } from '../core/ed25519';
import { JournalStore } from '../store/store';
import { receiptCell, verifyCell } from '../../wrappers/signed';
import { ApiError, WorkerFatalError } from './errors';
import { jobKey, JobRecord, SeqRetiredError, SeqUsedError, SigningJournal } from './signing-journal';

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

    /** One fast-path request as the agent journals it: intent, result, signature. */
    const serve = (seq: bigint, input = 1) => {
        journal.recordIntent(intent(seq, input));
        journal.recordResult(RAW, seq, result(seq, Number(seq % 200n) + 1));
        return journal.sign(RAW, seq, signer);
    };
    /** What the settlement does: batch the unbatched receipts under the voucher, confirm, prune. */
    const settle = () => {
        const receipts = journal.unbatchedReceipts(RAW);
        const cumulative = journal.books(RAW).served;
        journal.acceptVoucher(RAW, { cumulative, signature: Buffer.alloc(64, 1) });
        const batch = journal.recordBatch({
            channel: RAW,
            cumulative,
            voucherSignature: Buffer.alloc(64, 1),
            root: Buffer.alloc(32),
            count: receipts.length,
            seqs: receipts.map((r) => r.seq),
            final: false,
            queryId: 1n,
        });
        journal.updateBatch(RAW, batch.index, 'confirmed');
        journal.noteSettled(RAW, cumulative);
        return journal.prune();
    };

    it('holds only unsettled jobs in memory: settled receipts are pruned, their seqs are never signed again, and the journal file stays small', () => {
        store.close();
        store = JournalStore.open(join(dir, 'worker.journal'), { compactAtBytes: 256 * 1024 });
        journal = new SigningJournal(store, (e) => fatal.push(e));
        let seq = 0n;
        for (let round = 0; round < 40; round++) {
            for (let i = 0; i < 50; i++) serve(++seq);
            expect(journal.liveJobs).toBe(50);
            expect(settle()).toBe(50);
            // Nothing of the 50 settled jobs is left but the channel's books, its last batch and its retired seq.
            expect(journal.liveJobs).toBe(0);
            expect(store.size).toBeLessThanOrEqual(3);
        }
        // 2,000 jobs served: the books still count them all, and the receipts paid.
        expect(journal.books(RAW)).toMatchObject({ receipts: 2000, served: 2000n * 70n, prunedCost: 2000n * 70n });
        expect(journal.batchedCost(RAW)).toBe(2000n * 70n);
        expect(journal.batches(RAW).map((b) => [b.index, b.state])).toEqual([[39, 'confirmed']]);
        // The file was compacted as it went: far below the 2,000 jobs' history.
        expect(store.journalBytes).toBeLessThan(2 * 256 * 1024);
        // A pruned seq is refused whatever its input, also after a restart; a new one works.
        reopen();
        expect(journal.liveJobs).toBe(0);
        expect(journal.retired(RAW).fast).toBe(2000n);
        expect(() => journal.recordIntent(intent(1234n, 1))).toThrow(SeqRetiredError);
        expect(() => journal.recordIntent(intent(2000n, 9))).toThrow(SeqRetiredError);
        expect(() => journal.recordIntent(intent(1234n, 1))).toThrow(/use a new, higher seq/);
        expect(journal.isRetired(RAW, 2001n)).toBe(false);
        expect(serve(2001n).state).toBe('signed');
    });

    it('keeps a job below the retired seq that is still live, and drops the request envelope once a job is signed', () => {
        journal.recordIntent(intent(1n));
        serve(2n);
        settle(); // batches seq 2 only: seq 1 is still running
        expect(journal.retired(RAW).fast).toBe(2n);
        expect(journal.isRetired(RAW, 1n)).toBe(false);
        expect(journal.reserved(RAW)).toBe(100n);
        journal.recordResult(RAW, 1n, result(1n, 3));
        const signed = journal.sign(RAW, 1n, signer);
        expect(signed.requestEnvelope).toHaveLength(0);
        reopen();
        expect(journal.job(RAW, 1n)).toMatchObject({ state: 'signed', requestEnvelope: Buffer.alloc(0) });
        expect(journal.unbatchedReceipts(RAW).map((r) => r.seq)).toEqual([1n]);
        expect(journal.openFastJobs()).toHaveLength(0);
    });

    it("does a request's journal work without touching past jobs: the records read per request do not grow with the jobs held", () => {
        // Count every record the store decodes (get) or lists (keys) during one request's journal work.
        let reads = 0;
        const get = store.get.bind(store);
        const keys = store.keys.bind(store);
        store.get = ((key: string) => {
            reads++;
            return get(key);
        }) as typeof store.get;
        store.keys = ((prefix?: string) => {
            const found = keys(prefix);
            reads += found.length;
            return found;
        }) as typeof store.keys;
        const oneRequest = (seq: bigint) => {
            reads = 0;
            // What the fast path asks of the journal per request: the money check, then the three records.
            journal.books(RAW);
            journal.reserved(RAW);
            journal.isRetired(RAW, seq);
            journal.job(RAW, seq);
            serve(seq);
            journal.unbatchedCount(RAW);
            journal.acceptVoucher(RAW, { cumulative: journal.books(RAW).served, signature: Buffer.alloc(64, 2) });
            return reads;
        };
        let seq = 0n;
        const early = oneRequest(++seq);
        for (let i = 0; i < 300; i++) serve(++seq); // unsettled: all of them stay live
        const late = oneRequest(++seq);
        expect(journal.liveJobs).toBe(302);
        expect(late).toBe(early);
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

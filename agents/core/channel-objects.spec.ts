import { Address } from '@ton/core';
import { ed25519FromSeed } from './ed25519';
import {
    batchOfReceipts,
    checkReceipt,
    isOffchainSeq,
    leafOfReceipt,
    nextVoucher,
    ONCHAIN_SEQ_BASE,
    parseVoucher,
    signWorkerReceipt,
    verifySigned,
} from './channel-objects';
import { verifyReceiptInBatch } from './merkle';

const channel = Address.parse('EQD__________________________________________0vo');
const other = Address.parse('EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N');
const worker = ed25519FromSeed(Buffer.alloc(32, 7));
const client = ed25519FromSeed(Buffer.alloc(32, 8));
const fields = (seq: bigint) => ({ channel, seq, model: 1n, inputHash: 2n, resultHash: 3n + seq, promptTokens: 10n, completionTokens: 20n });

describe('agents/core channel objects', () => {
    it('keeps off-chain and on-chain seqs apart', () => {
        expect(isOffchainSeq(0n)).toBe(true);
        expect(isOffchainSeq(ONCHAIN_SEQ_BASE - 1n)).toBe(true);
        expect(isOffchainSeq(ONCHAIN_SEQ_BASE)).toBe(false);
        expect(() => signWorkerReceipt(fields(ONCHAIN_SEQ_BASE), worker.seed)).toThrow('reserved for on-chain jobs');
        expect(() => signWorkerReceipt(fields(5n), worker.seed, true)).toThrow('is not an on-chain job seq');
        expect(signWorkerReceipt(fields(ONCHAIN_SEQ_BASE), worker.seed, true).value.seq).toBe(ONCHAIN_SEQ_BASE);
    });

    it('checks a receipt: its signature, channel and seq, naming what is wrong', () => {
        const r = signWorkerReceipt(fields(4n), worker.seed);
        expect(checkReceipt(r.cell, r.signature, worker.publicKey, channel, 4n).resultHash).toBe(7n);
        expect(() => checkReceipt(r.cell, r.signature, client.publicKey, channel, 4n)).toThrow('does not verify');
        expect(() => checkReceipt(r.cell, r.signature, worker.publicKey, other, 4n)).toThrow('names channel');
        expect(() => checkReceipt(r.cell, r.signature, worker.publicKey, channel, 5n)).toThrow('is for seq 4');
    });

    it('vouchers only raise the cumulative amount, and verify with the client key only', () => {
        const v = nextVoucher(channel, 100n, 50n, client.seed);
        expect(parseVoucher(v.cell).cumulative).toBe(100n);
        expect(verifySigned(v, client.publicKey)).toBe(true);
        expect(verifySigned(v, worker.publicKey)).toBe(false);
        expect(() => nextVoucher(channel, 50n, 50n, client.seed)).toThrow('must raise the cumulative amount');
    });

    it('builds a batch in seq order whose proofs verify every receipt, and refuses a seq twice', () => {
        const receipts = [9n, 2n, 5n].map((seq) => signWorkerReceipt(fields(seq), worker.seed));
        const batch = batchOfReceipts(receipts);
        expect(batch.seqs).toEqual([2n, 5n, 9n]);
        expect(batch.leaves[0].equals(leafOfReceipt(receipts[1].cell))).toBe(true);
        batch.seqs.forEach((seq, i) => {
            const r = receipts.find((x) => x.value.seq === seq)!;
            expect(verifyReceiptInBatch(r.cell.hash(), i, batch.count, batch.proof(i), batch.rootInt)).toBe(true);
        });
        expect(() => batchOfReceipts([receipts[0], receipts[0]])).toThrow('two receipts for seq 9');
    });
});

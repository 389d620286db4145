import { createHash } from 'node:crypto';
import {
    batchRootBytes,
    EMPTY_ROOT,
    hashLeaf,
    hashNode,
    inclusionProof,
    merkleRoot,
    ReceiptBatch,
    receiptLeaf,
    verifyInclusion,
    verifyReceiptInBatch,
} from './merkle';

const hex = (b: Buffer) => b.toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

// RFC 6962's reference inputs and the tree heads every CT implementation publishes for them.
const RFC_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
    unhex,
);
const RFC_ROOTS = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const RFC_LEAVES = RFC_INPUTS.map(hashLeaf);

const fakeReceiptHash = (i: number) => createHash('sha256').update(`receipt-${i}`).digest();

describe('batch Merkle tree (RFC 6962 construction)', () => {
    it('gives the published root for every RFC reference tree of 0 to 8 leaves', () => {
        expect(hex(EMPTY_ROOT)).toBe(RFC_ROOTS[0]);
        for (let n = 0; n <= RFC_LEAVES.length; n++) {
            expect(hex(merkleRoot(RFC_LEAVES.slice(0, n)))).toBe(RFC_ROOTS[n]);
        }
    });

    it('gives the published audit paths for leaves 0 and 5 of the 8-leaf reference tree', () => {
        expect(inclusionProof(RFC_LEAVES, 0).map(hex)).toEqual([
            '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
            '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
            '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
        ]);
        expect(inclusionProof(RFC_LEAVES, 5).map(hex)).toEqual([
            'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
            'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
            'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
        ]);
    });

    it('separates leaves from nodes: a node hash is never the leaf hash of the same bytes', () => {
        const a = fakeReceiptHash(1);
        const b = fakeReceiptHash(2);
        const node = hashNode(receiptLeaf(a), receiptLeaf(b));
        expect(hex(node)).toBe(hex(createHash('sha256').update(Buffer.concat([Buffer.from([1]), receiptLeaf(a), receiptLeaf(b)])).digest()));
        // The bytes of an inner node (left ‖ right) hashed as leaf data give another hash, and an
        // inner node offered as a receipt's cell hash does not verify as a one-leaf batch.
        expect(hex(hashLeaf(Buffer.concat([receiptLeaf(a), receiptLeaf(b)])))).not.toBe(hex(node));
        expect(verifyReceiptInBatch(node, 0, 1, [], BigInt('0x' + hex(node)))).toBe(false);
    });

    it('promotes the odd node instead of duplicating it, so a batch and its padded copy differ', () => {
        const three = [1, 2, 3].map((i) => receiptLeaf(fakeReceiptHash(i)));
        const padded = [...three, three[2]];
        expect(hex(merkleRoot(three))).toBe(hex(hashNode(hashNode(three[0], three[1]), three[2])));
        expect(hex(merkleRoot(three))).not.toBe(hex(merkleRoot(padded)));
    });

    it("verifies every leaf's proof in every batch size from 1 to 40, and refuses every wrong index, leaf or root", () => {
        const all = Array.from({ length: 40 }, (_, i) => fakeReceiptHash(i));
        for (let n = 1; n <= all.length; n++) {
            const batch = new ReceiptBatch(all.slice(0, n));
            expect(batch.count).toBe(n);
            for (let i = 0; i < n; i++) {
                const proof = batch.proof(i);
                expect(verifyReceiptInBatch(all[i], i, n, proof, batch.rootInt)).toBe(true);
                expect(verifyReceiptInBatch(all[(i + 1) % 40], i, n, proof, batch.rootInt)).toBe(false);
                if (n > 1) expect(verifyReceiptInBatch(all[i], (i + 1) % n, n, proof, batch.rootInt)).toBe(false);
                // The size comes from the settlement (Settle.count), next to the root; an index
                // at or past it is refused whatever the path.
                expect(verifyReceiptInBatch(all[i], n, n, proof, batch.rootInt)).toBe(false);
                expect(verifyReceiptInBatch(all[i], i, n, proof, batch.rootInt ^ 1n)).toBe(false);
            }
        }
    });

    it('refuses a proof with a flipped, missing or extra sibling', () => {
        const hashes = Array.from({ length: 13 }, (_, i) => fakeReceiptHash(i));
        const batch = new ReceiptBatch(hashes);
        const proof = batch.proof(6);
        const flipped = proof.map((p, i) => (i === 1 ? Buffer.from(p.map((byte, j) => (j === 0 ? byte ^ 1 : byte))) : p));
        expect(verifyReceiptInBatch(hashes[6], 6, 13, flipped, batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(hashes[6], 6, 13, proof.slice(1), batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(hashes[6], 6, 13, [...proof, proof[0]], batch.rootInt)).toBe(false);
    });

    it('never throws on malformed input from a counterparty: bad lengths, negative or fractional indexes', () => {
        const batch = new ReceiptBatch([fakeReceiptHash(0), fakeReceiptHash(1)]);
        const proof = batch.proof(0);
        expect(verifyReceiptInBatch(Buffer.alloc(31), 0, 2, proof, batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(fakeReceiptHash(0), -1, 2, proof, batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(fakeReceiptHash(0), 0.5, 2, proof, batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(fakeReceiptHash(0), 0, 2, [Buffer.alloc(5)], batch.rootInt)).toBe(false);
        expect(verifyReceiptInBatch(fakeReceiptHash(0), 0, 2, proof, -1n)).toBe(false);
        expect(verifyReceiptInBatch(fakeReceiptHash(0), 0, 2, proof, 1n << 256n)).toBe(false);
    });

    it('names what is wrong when a builder is given bad input', () => {
        expect(() => receiptLeaf(Buffer.alloc(20))).toThrow('a Receipt cell hash must be 32 bytes, got 20');
        expect(() => inclusionProof([receiptLeaf(fakeReceiptHash(0))], 1)).toThrow(
            'leaf index 1 is outside a batch of 1 receipts',
        );
        expect(() => batchRootBytes(-1n)).toThrow('batchRoot must be a uint256');
    });

    it('round-trips the root through the uint256 a Settle carries', () => {
        const batch = new ReceiptBatch([fakeReceiptHash(7)]);
        expect(hex(batchRootBytes(batch.rootInt))).toBe(hex(batch.root));
        // A leading zero byte survives the round trip.
        expect(hex(batchRootBytes(0xabn))).toBe('00'.repeat(31) + 'ab');
    });
});

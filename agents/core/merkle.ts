import { createHash } from 'node:crypto';

/**
 * The batch Merkle tree of a Channel settlement: the Merkle Tree Hash of RFC 6962 (Certificate
 * Transparency, §2.1), over SHA-256, whose leaves are Receipt cell hashes.
 *
 *   leaf hash  = SHA-256(0x00 ‖ receiptCellHash)           (32-byte leaf data)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   MTH([])    = SHA-256("")                                (an empty batch)
 *   MTH([d0])  = leaf hash of d0
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))  with k the largest power of two < n
 *
 * The 0x00/0x01 prefixes separate the domains, so a leaf can never be passed off as an inner
 * node (the second-preimage attack on unprefixed trees), and the RFC's split means an odd node
 * is promoted, never duplicated, so two different batches never share a root. Leaves are the
 * batch's receipts in ascending `seq` order (docs/channel.md). Known-answer tests use the RFC's
 * published vectors.
 */

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

function sha256(...parts: Buffer[]): Buffer {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest();
}

function requireHash(value: Buffer, what: string): void {
    if (value.length !== 32) throw new Error(`${what} must be 32 bytes, got ${value.length}`);
}

/** SHA-256(0x00 ‖ data): the leaf hash of arbitrary leaf data (RFC 6962). */
export function hashLeaf(data: Buffer): Buffer {
    return sha256(LEAF_PREFIX, data);
}

/** SHA-256(0x01 ‖ left ‖ right): an inner node. */
export function hashNode(left: Buffer, right: Buffer): Buffer {
    requireHash(left, 'left child');
    requireHash(right, 'right child');
    return sha256(NODE_PREFIX, left, right);
}

/** The leaf hash of one Receipt: its 32-byte cell hash (`receiptCell.hash()`), prefixed 0x00. */
export function receiptLeaf(receiptCellHash: Buffer): Buffer {
    requireHash(receiptCellHash, 'a Receipt cell hash');
    return hashLeaf(receiptCellHash);
}

/** The root of an empty batch: SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = sha256();

/** Largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
}

function subtreeRoot(leaves: Buffer[], from: number, to: number): Buffer {
    const n = to - from;
    if (n === 1) return leaves[from];
    const k = splitPoint(n);
    return hashNode(subtreeRoot(leaves, from, from + k), subtreeRoot(leaves, from + k, to));
}

/** Merkle Tree Hash over already-hashed leaves (each a `receiptLeaf`/`hashLeaf` output). */
export function merkleRoot(leafHashes: Buffer[]): Buffer {
    leafHashes.forEach((leaf, i) => requireHash(leaf, `leaf ${i}`));
    if (leafHashes.length === 0) return Buffer.from(EMPTY_ROOT);
    return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The inclusion proof (audit path) of leaf `index`: the sibling hashes from the leaf up to the
 * root, in RFC 6962 §2.1.1 order.
 */
export function inclusionProof(leafHashes: Buffer[], index: number): Buffer[] {
    if (!Number.isInteger(index) || index < 0 || index >= leafHashes.length) {
        throw new Error(`leaf index ${index} is outside a batch of ${leafHashes.length} receipts`);
    }
    leafHashes.forEach((leaf, i) => requireHash(leaf, `leaf ${i}`));
    const path: Buffer[] = [];
    const walk = (from: number, to: number, m: number): void => {
        const n = to - from;
        if (n === 1) return;
        const k = splitPoint(n);
        if (m < k) {
            walk(from, from + k, m);
            path.push(subtreeRoot(leafHashes, from + k, to));
        } else {
            walk(from + k, to, m - k);
            path.push(subtreeRoot(leafHashes, from, from + k));
        }
    };
    walk(0, leafHashes.length, index);
    return path;
}

/**
 * Checks that `leafHash` is leaf `index` of a batch of `treeSize` receipts whose root is
 * `root` (RFC 9162 §2.1.3.2). Any other index, size, leaf, path or root gives false; never throws
 * on malformed input, so an auditor can feed it whatever a worker or client hands over.
 */
export function verifyInclusion(
    leafHash: Buffer,
    index: number,
    treeSize: number,
    proof: Buffer[],
    root: Buffer,
): boolean {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize)) return false;
    if (index < 0 || index >= treeSize) return false;
    if (leafHash.length !== 32 || root.length !== 32 || proof.some((p) => p.length !== 32)) return false;
    let fn = index;
    let sn = treeSize - 1;
    let r = leafHash;
    for (const p of proof) {
        if (sn === 0) return false;
        if (fn % 2 === 1 || fn === sn) {
            r = hashNode(p, r);
            if (fn % 2 === 0) {
                while (fn % 2 === 0 && fn !== 0) {
                    fn = Math.floor(fn / 2);
                    sn = Math.floor(sn / 2);
                }
            }
        } else {
            r = hashNode(r, p);
        }
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
    }
    return sn === 0 && r.equals(root);
}

/** A settlement batch built from Receipt cell hashes, in the order given (ascending seq). */
export class ReceiptBatch {
    readonly leaves: Buffer[];
    readonly root: Buffer;

    constructor(receiptCellHashes: Buffer[]) {
        this.leaves = receiptCellHashes.map(receiptLeaf);
        this.root = merkleRoot(this.leaves);
    }

    get count(): number {
        return this.leaves.length;
    }

    /** The root as the uint256 that `Settle.batchRoot` carries. */
    get rootInt(): bigint {
        return BigInt('0x' + this.root.toString('hex'));
    }

    proof(index: number): Buffer[] {
        return inclusionProof(this.leaves, index);
    }
}

/** A Settle's `batchRoot` (uint256) back to the 32 bytes a verifier compares against. */
export function batchRootBytes(batchRoot: bigint): Buffer {
    if (batchRoot < 0n || batchRoot >= 1n << 256n) throw new Error('batchRoot must be a uint256');
    return Buffer.from(batchRoot.toString(16).padStart(64, '0'), 'hex');
}

/**
 * What a client or auditor runs: does the receipt with this cell hash belong, at `index`, to the
 * batch a settlement recorded as (`batchRoot`, `count`)?
 */
export function verifyReceiptInBatch(
    receiptCellHash: Buffer,
    index: number,
    count: number,
    proof: Buffer[],
    batchRoot: bigint,
): boolean {
    if (receiptCellHash.length !== 32) return false;
    if (batchRoot < 0n || batchRoot >= 1n << 256n) return false;
    return verifyInclusion(receiptLeaf(receiptCellHash), index, count, proof, batchRootBytes(batchRoot));
}

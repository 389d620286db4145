// The Channel's signed objects on the agents' side: Receipts (signed by the worker's enclave) and
// Vouchers (signed by the client), byte-compatible with the contracts because they are built and
// parsed only by the Tact-generated codecs in wrappers/signed.ts, and the settlement batches the
// worker commits on-chain (agents/core/merkle.ts). Pure: no chain access.
import { Address, Cell } from '@ton/core';
import { parseReceipt, parseVoucher, ReceiptFields, Signed, signReceipt, signVoucher, verifySigned } from '../../wrappers/signed';
import type { Receipt, Voucher } from '../../wrappers';
import { ReceiptBatch, receiptLeaf } from './merkle';

export { parseReceipt, parseVoucher, signReceipt, signVoucher, verifySigned };
export type { Receipt, ReceiptFields, Signed, Voucher };

/**
 * On-chain jobs take seqs from 2^63 up (ONCHAIN_SEQ_BASE in the contracts); off-chain requests
 * use seqs below it, so a posted job can never reuse a seq the worker already signed.
 */
export const ONCHAIN_SEQ_BASE = 1n << 63n;

export function isOffchainSeq(seq: bigint): boolean {
    return seq >= 0n && seq < ONCHAIN_SEQ_BASE;
}

/** A Receipt as the worker signs it; refuses a seq outside the off-chain range unless `onchain`. */
export function signWorkerReceipt(fields: ReceiptFields, enclaveSeed: Buffer, onchain = false): Signed<Receipt> {
    if (!onchain && !isOffchainSeq(fields.seq)) {
        throw new Error(`seq ${fields.seq} is reserved for on-chain jobs (>= 2^63); an off-chain request must use a lower seq`);
    }
    if (onchain && isOffchainSeq(fields.seq)) {
        throw new Error(`seq ${fields.seq} is not an on-chain job seq (on-chain jobs use 2^63 and above)`);
    }
    return signReceipt(fields, enclaveSeed);
}

/**
 * Checks a worker's Receipt before paying for it: signed by `signingKey` (the key the channel
 * snapshotted at open), for `channel`, with the expected seq. Returns the parsed receipt or
 * throws an Error that says what is wrong.
 */
export function checkReceipt(cell: Cell, signature: Buffer, signingKey: Buffer, channel: Address, seq: bigint): Receipt {
    const receipt = parseReceipt(cell);
    if (!receipt.channel.equals(channel)) {
        throw new Error(`the receipt names channel ${receipt.channel.toString()}, not ${channel.toString()}`);
    }
    if (receipt.seq !== seq) throw new Error(`the receipt is for seq ${receipt.seq}, not ${seq}`);
    if (!verifySigned({ cell, signature }, signingKey)) {
        throw new Error("the receipt's signature does not verify with the worker's signing key");
    }
    return receipt;
}

/**
 * The client's voucher for the cumulative amount it owes on `channel`. Cumulative amounts only
 * grow: a voucher below or equal to the last one is refused here as the Channel would.
 */
export function nextVoucher(channel: Address, cumulative: bigint, previous: bigint, clientSeed: Buffer): Signed<Voucher> {
    if (cumulative <= previous) {
        throw new Error(`a voucher must raise the cumulative amount: ${cumulative} is not above ${previous}`);
    }
    return signVoucher({ channel, cumulative }, clientSeed);
}

/** The settlement batch of these receipts: leaves in ascending seq order (docs/channel.md). */
export function batchOfReceipts(receipts: { value: Receipt; cell: Cell }[]): ReceiptBatch & { seqs: bigint[] } {
    const sorted = [...receipts].sort((a, b) => (a.value.seq < b.value.seq ? -1 : a.value.seq > b.value.seq ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].value.seq === sorted[i - 1].value.seq) {
            throw new Error(`two receipts for seq ${sorted[i].value.seq} in one batch`);
        }
    }
    const batch = new ReceiptBatch(sorted.map((r) => r.cell.hash()));
    return Object.assign(batch, { seqs: sorted.map((r) => r.value.seq) });
}

/** The Merkle leaf of one receipt cell. */
export function leafOfReceipt(cell: Cell): Buffer {
    return receiptLeaf(cell.hash());
}

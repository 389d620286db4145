// Signed objects (Receipt, Voucher, Verdict): built and parsed only through the Tact-generated
// store/load functions, signed with Ed25519 over the hash of the object's own cell, exactly as
// the contracts check them (CHKSIGNU over HASHCU of the ref cell).
import { Address, beginCell, Builder, Cell } from '@ton/core';
import {
    loadReceipt,
    loadVerdict,
    loadVoucher,
    Receipt,
    storeReceipt,
    storeVerdict,
    storeVoucher,
    Verdict,
    Voucher,
} from '../build/Cocoon/Cocoon_Root';
import { ed25519Sign, ed25519Verify } from '../agents/core/ed25519';

export const VerdictKind = {
    AttestationOk: 1n,
    AttestationBad: 2n,
    WorkerFault: 3n,
    WorkerRight: 4n,
} as const;

export type ReceiptFields = Omit<Receipt, '$$type'>;
export type VoucherFields = Omit<Voucher, '$$type'>;
export type VerdictFields = Omit<Verdict, '$$type'>;

/** A signed object: the parsed value, its cell (what travels on-chain) and the signature. */
export interface Signed<T> {
    value: T;
    cell: Cell;
    signature: Buffer;
}

/** An Ed25519 public key as the uint256 the contracts store. */
export function publicKeyToInt(publicKey: Buffer): bigint {
    if (publicKey.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
    return BigInt('0x' + publicKey.toString('hex'));
}

export function intToPublicKey(key: bigint): Buffer {
    return Buffer.from(key.toString(16).padStart(64, '0'), 'hex');
}

function cellOf(store: (builder: Builder) => void): Cell {
    return beginCell().store(store).endCell();
}

export function receiptCell(fields: ReceiptFields): Cell {
    return cellOf(storeReceipt({ $$type: 'Receipt', ...fields }));
}

export function voucherCell(fields: VoucherFields): Cell {
    return cellOf(storeVoucher({ $$type: 'Voucher', ...fields }));
}

export function verdictCell(fields: VerdictFields): Cell {
    return cellOf(storeVerdict({ $$type: 'Verdict', ...fields }));
}

/** Parses a Receipt cell; throws when the tag or layout is wrong or bits are left over. */
export function parseReceipt(cell: Cell): Receipt {
    const slice = cell.beginParse();
    const value = loadReceipt(slice);
    slice.endParse();
    return value;
}

export function parseVoucher(cell: Cell): Voucher {
    const slice = cell.beginParse();
    const value = loadVoucher(slice);
    slice.endParse();
    return value;
}

export function parseVerdict(cell: Cell): Verdict {
    const slice = cell.beginParse();
    const value = loadVerdict(slice);
    slice.endParse();
    return value;
}

/** Signs the hash of `cell` with a 32-byte Ed25519 seed. */
export function signCell(cell: Cell, seed: Buffer): Buffer {
    return ed25519Sign(cell.hash(), seed);
}

export function verifyCell(cell: Cell, signature: Buffer, publicKey: Buffer): boolean {
    return ed25519Verify(cell.hash(), signature, publicKey);
}

export function signReceipt(fields: ReceiptFields, seed: Buffer): Signed<Receipt> {
    const cell = receiptCell(fields);
    return { value: parseReceipt(cell), cell, signature: signCell(cell, seed) };
}

export function signVoucher(fields: VoucherFields, seed: Buffer): Signed<Voucher> {
    const cell = voucherCell(fields);
    return { value: parseVoucher(cell), cell, signature: signCell(cell, seed) };
}

export function signVerdict(fields: VerdictFields, seed: Buffer): Signed<Verdict> {
    const cell = verdictCell(fields);
    return { value: parseVerdict(cell), cell, signature: signCell(cell, seed) };
}

/** True when `signed.signature` is `publicKey`'s signature of exactly `signed.cell`. */
export function verifySigned<T>(signed: Pick<Signed<T>, 'cell' | 'signature'>, publicKey: Buffer): boolean {
    return verifyCell(signed.cell, signed.signature, publicKey);
}

/**
 * The subject of a job verdict: the job's seq (uint64). The verdict's `target` names the
 * channel, so (target, subject) names the job and the Channel finds it with one lookup
 * (docs/contract-interfaces.md). `channel` is the verdict's target, taken here so that callers
 * name the whole pair.
 */
export function jobSubject(channel: Address, seq: bigint): bigint {
    void channel;
    if (seq < 0n || seq >= 1n << 64n) throw new RangeError(`a job seq is a uint64, got ${seq}`);
    return seq;
}

export interface AuditorSignature {
    publicKey: Buffer;
    signature: Buffer;
}

/**
 * The `signatures` chain of an AuditVerdict: one cell per auditor,
 * `key:uint256 signature:bits512 next:(Maybe ^Cell)`, keys strictly increasing (Root refuses a
 * duplicate or unsorted auditor). Sorts for you; throws on an empty list or a duplicate key.
 */
export function auditorSignaturesCell(entries: AuditorSignature[]): Cell {
    if (entries.length === 0) throw new Error('an AuditVerdict needs at least one auditor signature');
    const hex = (e: AuditorSignature) => e.publicKey.toString('hex');
    const sorted = [...entries].sort((a, b) => (hex(a) < hex(b) ? -1 : hex(a) > hex(b) ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
        if (hex(sorted[i]) === hex(sorted[i - 1])) {
            throw new Error(`auditor ${sorted[i].publicKey.toString('hex')} signed twice; each auditor counts once`);
        }
    }
    let next: Cell | null = null;
    for (let i = sorted.length - 1; i >= 0; i--) {
        const { publicKey, signature } = sorted[i];
        if (signature.length !== 64) throw new Error(`Ed25519 signature must be 64 bytes, got ${signature.length}`);
        next = beginCell()
            .storeUint(publicKeyToInt(publicKey), 256)
            .storeBuffer(signature)
            .storeMaybeRef(next)
            .endCell();
    }
    return next!;
}

/** Unsorted, unchecked variant for tests of Root's refusals (duplicates, wrong order). */
export function rawAuditorSignaturesCell(entries: AuditorSignature[]): Cell {
    let next: Cell | null = null;
    for (let i = entries.length - 1; i >= 0; i--) {
        next = beginCell()
            .storeUint(publicKeyToInt(entries[i].publicKey), 256)
            .storeBuffer(entries[i].signature)
            .storeMaybeRef(next)
            .endCell();
    }
    if (!next) throw new Error('no signatures');
    return next;
}

export interface AuditorKey {
    seed: Buffer;
    publicKey: Buffer;
}

/** A verdict signed by every given auditor, ready for AuditVerdict { verdict, signatures }. */
export function auditVerdictBody(fields: VerdictFields, auditors: AuditorKey[]): { verdict: Cell; signatures: Cell } {
    const verdict = verdictCell(fields);
    const signatures = auditorSignaturesCell(
        auditors.map((a) => ({ publicKey: a.publicKey, signature: signCell(verdict, a.seed) })),
    );
    return { verdict, signatures };
}

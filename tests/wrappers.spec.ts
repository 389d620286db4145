// wrappers/signed.ts and wrappers/events.ts: signed objects are byte-compatible with TON's
// Ed25519 (@ton/crypto) and with what the contracts check; events decode by opcode.
import { Address, beginCell, Cell } from '@ton/core';
import { keyPairFromSeed, sign, signVerify } from '@ton/crypto';
import {
    auditorSignaturesCell,
    decodeEvent,
    eventOpcode,
    jobSubject,
    parseReceipt,
    parseVerdict,
    publicKeyToInt,
    intToPublicKey,
    signReceipt,
    signVerdict,
    signVoucher,
    storeStakeAdded,
    verifySigned,
    VerdictKind,
} from '../wrappers';
import { ed25519FromSeed } from '../agents/core/ed25519';

const channel = Address.parse('EQD__________________________________________0vo');
const seed = Buffer.alloc(32, 3);

describe('wrappers/signed', () => {
    it('signs a Receipt over its cell hash exactly as @ton/crypto (tweetnacl) does', () => {
        const signed = signReceipt({ channel, seq: 1n, model: 2n, inputHash: 3n, resultHash: 4n, promptTokens: 5n, completionTokens: 6n }, seed);
        const tonKeys = keyPairFromSeed(seed);
        expect(signed.signature.equals(sign(signed.cell.hash(), tonKeys.secretKey))).toBe(true);
        expect(signVerify(signed.cell.hash(), signed.signature, tonKeys.publicKey)).toBe(true);
        expect(verifySigned(signed, ed25519FromSeed(seed).publicKey)).toBe(true);
        expect(signed.cell.beginParse().loadUint(32)).toBe(0x5e000001);
        const parsed = parseReceipt(signed.cell);
        expect(parsed.channel.equals(channel)).toBe(true);
        expect({ ...parsed, channel: null }).toEqual({ ...signed.value, channel: null });
    });

    it('a signature does not verify for any other object or key', () => {
        const voucher = signVoucher({ channel, cumulative: 100n }, seed);
        const other = signVoucher({ channel, cumulative: 101n }, seed);
        expect(verifySigned({ cell: other.cell, signature: voucher.signature }, ed25519FromSeed(seed).publicKey)).toBe(false);
        expect(verifySigned(voucher, ed25519FromSeed(Buffer.alloc(32, 4)).publicKey)).toBe(false);
    });

    it('parsers refuse a cell with another tag or with bits left over', () => {
        const verdict = signVerdict({ kind: VerdictKind.WorkerFault, target: channel, subject: 1n, evidenceHash: 2n, expiry: 3n }, seed);
        expect(parseVerdict(verdict.cell).kind).toBe(3n);
        expect(() => parseReceipt(verdict.cell)).toThrow();
        const longer = beginCell().storeSlice(verdict.cell.beginParse()).storeUint(1, 1).endCell();
        expect(() => parseVerdict(longer)).toThrow();
    });

    it('jobSubject is the job\'s seq (the verdict\'s target names the channel), a uint64', () => {
        expect(jobSubject(channel, 9n)).toBe(9n);
        expect(jobSubject(channel, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
        expect(() => jobSubject(channel, 2n ** 64n)).toThrow(RangeError);
        expect(() => jobSubject(channel, -1n)).toThrow(RangeError);
    });

    it('builds the auditor signature chain sorted by key and refuses duplicates', () => {
        const a = ed25519FromSeed(Buffer.alloc(32, 1));
        const b = ed25519FromSeed(Buffer.alloc(32, 2));
        const sig = Buffer.alloc(64, 7);
        const chain = auditorSignaturesCell([{ publicKey: a.publicKey, signature: sig }, { publicKey: b.publicKey, signature: sig }]);
        const first = chain.beginParse();
        const k1 = first.loadUintBig(256);
        first.loadBuffer(64);
        const next = first.loadMaybeRef()!.beginParse();
        const k2 = next.loadUintBig(256);
        expect(k1 < k2).toBe(true);
        expect([k1, k2].sort()).toEqual([publicKeyToInt(a.publicKey), publicKeyToInt(b.publicKey)].sort());
        expect(() => auditorSignaturesCell([{ publicKey: a.publicKey, signature: sig }, { publicKey: a.publicKey, signature: sig }])).toThrow(/signed twice/);
        expect(() => auditorSignaturesCell([])).toThrow(/at least one/);
        expect(intToPublicKey(publicKeyToInt(a.publicKey)).equals(a.publicKey)).toBe(true);
    });
});

describe('wrappers/events', () => {
    it('decodes an event body by its opcode', () => {
        const body = beginCell().store(storeStakeAdded({ $$type: 'StakeAdded', amount: 5n, stake: 15n })).endCell();
        expect(eventOpcode(body)).toBe(0xe0570004);
        expect(decodeEvent(body)).toEqual({ $$type: 'StakeAdded', amount: 5n, stake: 15n });
    });

    it('returns null for a body that is not a protocol event, and throws on a corrupt one', () => {
        expect(decodeEvent(beginCell().storeUint(0x12345678, 32).endCell())).toBeNull();
        expect(decodeEvent(Cell.EMPTY)).toBeNull();
        const corrupt = beginCell().storeUint(0xe0570004, 32).storeCoins(5n).storeCoins(15n).storeUint(1, 8).endCell();
        expect(() => decodeEvent(corrupt)).toThrow(/left over/);
    });
});

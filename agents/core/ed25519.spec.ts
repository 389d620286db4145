import { keyPairFromSeed, sign as tonSign } from '@ton/crypto';
import { ed25519FromSeed, ed25519Sign, ed25519Verify } from './ed25519';

describe('ed25519 (node:crypto)', () => {
    const seed = Buffer.alloc(32, 7);

    it('derives the same public key as @ton/crypto', () => {
        expect(ed25519FromSeed(seed).publicKey.equals(keyPairFromSeed(seed).publicKey)).toBe(true);
    });

    it('signs byte-identically to @ton/crypto (tweetnacl), so TVM accepts it', () => {
        const msg = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
        const ours = ed25519Sign(msg, seed);
        const theirs = tonSign(msg, keyPairFromSeed(seed).secretKey);
        expect(ours.equals(theirs)).toBe(true);
        expect(ed25519Sign(msg, keyPairFromSeed(seed).secretKey).equals(theirs)).toBe(true);
    });

    it('verifies its own signatures and refuses tampered ones', () => {
        const kp = ed25519FromSeed(seed);
        const msg = Buffer.from('hello');
        const sig = ed25519Sign(msg, seed);
        expect(ed25519Verify(msg, sig, kp.publicKey)).toBe(true);
        const bad = Buffer.from(sig);
        bad[0] ^= 1;
        expect(ed25519Verify(msg, bad, kp.publicKey)).toBe(false);
        expect(ed25519Verify(Buffer.from('hellp'), sig, kp.publicKey)).toBe(false);
        expect(ed25519Verify(msg, sig.subarray(0, 63), kp.publicKey)).toBe(false);
    });

    it('names the problem when a key has the wrong length', () => {
        expect(() => ed25519Sign(Buffer.from('x'), Buffer.alloc(31))).toThrow(/32-byte seed/);
        expect(() => ed25519Verify(Buffer.from('x'), Buffer.alloc(64), Buffer.alloc(31))).toThrow(/32 bytes/);
    });
});

import { createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, verify } from 'node:crypto';

/**
 * Ed25519 through node:crypto: about 70x faster than tweetnacl here, and byte-identical
 * (Ed25519 is deterministic), so TVM's CHKSIGNU accepts these signatures.
 *
 * Keys travel as raw bytes: a 32-byte seed (secret) and a 32-byte public key, the same shapes
 * as @ton/crypto's keyPairFromSeed (whose 64-byte secretKey is seed ‖ publicKey).
 */
export interface Ed25519KeyPair {
    seed: Buffer;
    publicKey: Buffer;
}

// DER prefixes of PKCS#8 (private) and SPKI (public) Ed25519 keys; the raw key follows.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();
const CACHE_LIMIT = 1024;

function cached(cache: Map<string, KeyObject>, raw: Buffer, make: () => KeyObject): KeyObject {
    const id = raw.toString('hex');
    let key = cache.get(id);
    if (!key) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        key = make();
        cache.set(id, key);
    }
    return key;
}

function privateKeyOf(seed: Buffer): KeyObject {
    if (seed.length !== 32 && seed.length !== 64) {
        throw new Error(`Ed25519 secret must be a 32-byte seed or a 64-byte seed‖publicKey, got ${seed.length} bytes`);
    }
    const s = seed.subarray(0, 32);
    return cached(privateKeys, s, () =>
        createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, s]), format: 'der', type: 'pkcs8' }),
    );
}

function publicKeyOf(publicKey: Buffer): KeyObject {
    if (publicKey.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
    return cached(publicKeys, publicKey, () =>
        createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
    );
}

export function ed25519FromSeed(seed: Buffer): Ed25519KeyPair {
    const s = Buffer.from(seed.subarray(0, 32));
    const spki = createPublicKey(privateKeyOf(s)).export({ format: 'der', type: 'spki' });
    return { seed: s, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
}

export function ed25519Generate(): Ed25519KeyPair {
    return ed25519FromSeed(randomBytes(32));
}

/** Signs `data` (for TON signed objects: the 32-byte cell hash). Returns 64 bytes. */
export function ed25519Sign(data: Buffer, seed: Buffer): Buffer {
    return sign(null, data, privateKeyOf(seed));
}

export function ed25519Verify(data: Buffer, signature: Buffer, publicKey: Buffer): boolean {
    if (signature.length !== 64) return false;
    return verify(null, data, publicKeyOf(publicKey), signature);
}

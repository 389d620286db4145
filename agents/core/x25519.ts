import { createHash, createPrivateKey, createPublicKey, diffieHellman, KeyObject, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';

/**
 * X25519 key agreement, two implementations with identical results:
 * - `native`: node:crypto (about 15x faster than tweetnacl here);
 * - `tweetnacl`: pure JS, the reference NaCl implementation TON Connect uses.
 *
 * Keys are raw 32-byte buffers. Keys are imported as JWK (OpenSSL 3's DER decoder is slow) but
 * never exported as JWK: exporting fresh X25519 keys as JWK in a loop can deadlock Node 20.20.
 */
export interface X25519KeyPair {
    secretKey: Buffer;
    publicKey: Buffer;
}

export type X25519Backend = 'native' | 'tweetnacl';

const BASE_POINT = Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]);

export class X25519KeyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'X25519KeyError';
    }
}

function requireKey(key: Buffer, what: string): void {
    if (!Buffer.isBuffer(key) || key.length !== 32) {
        throw new X25519KeyError(`${what} must be 32 bytes, got ${Buffer.isBuffer(key) ? key.length : typeof key}`);
    }
}

/** A small LRU: importing keys is the expensive part of node:crypto X25519, so keep recent ones. */
class Lru<V> {
    private readonly map = new Map<string, V>();
    constructor(private readonly limit: number) {}
    get(key: string, make: () => V): V {
        let value = this.map.get(key);
        if (value !== undefined) {
            this.map.delete(key);
        } else {
            value = make();
            if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as string);
        }
        this.map.set(key, value);
        return value;
    }
}

const privateKeys = new Lru<KeyObject>(256);
const publicKeys = new Lru<KeyObject>(1024);
const boxKeys = new Lru<Uint8Array>(1024);
const derivedPublicKeys = new Lru<Buffer>(256);
const digest = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');

// OpenSSL 3 decodes DER keys slowly (about 1 ms for PKCS#8 here); JWK import is several times
// faster. Node requires the public "x" member but derives the public key from "d" itself, so a
// placeholder is given; the result is checked against tweetnacl in the tests.
function privateKeyObject(secretKey: Buffer): KeyObject {
    return privateKeys.get(digest(secretKey), () =>
        createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: secretKey.toString('base64url'), x: BASE_POINT.toString('base64url') }, format: 'jwk' }),
    );
}

function publicKeyObject(publicKey: Buffer): KeyObject {
    return publicKeys.get(publicKey.toString('hex'), () =>
        createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: publicKey.toString('base64url') }, format: 'jwk' }),
    );
}

/** Raw public key without exporting (exports are slow, and JWK export can deadlock): X25519(secret, 9). */
function nativePublicKey(secretKey: Buffer): Buffer {
    return diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: publicKeyObject(BASE_POINT) });
}

export function x25519FromSecret(secretKey: Buffer, backend: X25519Backend = 'native'): X25519KeyPair {
    requireKey(secretKey, 'X25519 secret key');
    const secret = Buffer.from(secretKey);
    // A static key (the enclave's) is derived again for every response: remember it.
    const publicKey = derivedPublicKeys.get(digest(secret), () =>
        backend === 'tweetnacl' ? Buffer.from(nacl.scalarMult.base(secret)) : nativePublicKey(secret),
    );
    return { secretKey: secret, publicKey: Buffer.from(publicKey) };
}

export function x25519Generate(backend: X25519Backend = 'native'): X25519KeyPair {
    return x25519FromSecret(randomBytes(32), backend);
}

/**
 * The raw X25519 shared point. Refuses a peer key that yields the all-zero point (a low-order
 * key), which would make the shared secret public.
 */
export function x25519SharedSecret(secretKey: Buffer, peerPublicKey: Buffer, backend: X25519Backend = 'native'): Buffer {
    requireKey(secretKey, 'X25519 secret key');
    requireKey(peerPublicKey, 'X25519 peer public key');
    let shared: Buffer;
    if (backend === 'tweetnacl') {
        shared = Buffer.from(nacl.scalarMult(secretKey, peerPublicKey));
    } else {
        try {
            shared = diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: publicKeyObject(peerPublicKey) });
        } catch (error) {
            // OpenSSL refuses low-order points itself.
            throw new X25519KeyError(`X25519 peer public key is unusable (low-order point): ${(error as Error).message}`);
        }
    }
    if (shared.every((b) => b === 0)) throw new X25519KeyError('X25519 peer public key is a low-order point; refusing it');
    return shared;
}

const ZERO16 = new Uint8Array(16);
const SIGMA = new Uint8Array(Buffer.from('expand 32-byte k'));

/**
 * NaCl's crypto_box_beforenm: HSalsa20(shared point, zero nonce). With it, `nacl.box.after` /
 * `nacl.box.open.after` produce and open exactly the bytes of `nacl.box` / `nacl.box.open`.
 */
export function naclBoxKey(secretKey: Buffer, peerPublicKey: Buffer, backend: X25519Backend = 'native'): Uint8Array {
    // Both ends of a job use the same pair twice (request, then response): remember the key.
    return boxKeys.get(digest(secretKey, peerPublicKey), () => {
        const shared = x25519SharedSecret(secretKey, peerPublicKey, backend);
        const key = new Uint8Array(32);
        (nacl as unknown as { lowlevel: { crypto_core_hsalsa20(o: Uint8Array, i: Uint8Array, k: Uint8Array, c: Uint8Array): number } }).lowlevel.crypto_core_hsalsa20(
            key,
            ZERO16,
            new Uint8Array(shared),
            SIGMA,
        );
        return key;
    });
}

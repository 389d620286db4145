import { createPrivateKey, createPublicKey, diffieHellman, KeyObject, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';

/**
 * X25519 key agreement, two implementations with identical results:
 * - `native`: node:crypto (about 15x faster than tweetnacl here);
 * - `tweetnacl`: pure JS, the reference NaCl implementation TON Connect uses.
 *
 * Keys are raw 32-byte buffers. Public keys are exported as SPKI DER, never JWK: exporting fresh
 * X25519 keys as JWK in a loop can deadlock Node 20.20.
 */
export interface X25519KeyPair {
    secretKey: Buffer;
    publicKey: Buffer;
}

export type X25519Backend = 'native' | 'tweetnacl';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

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

function privateKeyObject(secretKey: Buffer): KeyObject {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Buffer): KeyObject {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

export function x25519FromSecret(secretKey: Buffer, backend: X25519Backend = 'native'): X25519KeyPair {
    requireKey(secretKey, 'X25519 secret key');
    const secret = Buffer.from(secretKey);
    if (backend === 'tweetnacl') return { secretKey: secret, publicKey: Buffer.from(nacl.scalarMult.base(secret)) };
    const spki = createPublicKey(privateKeyObject(secret)).export({ format: 'der', type: 'spki' });
    return { secretKey: secret, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
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
    const shared = x25519SharedSecret(secretKey, peerPublicKey, backend);
    const key = new Uint8Array(32);
    (nacl as unknown as { lowlevel: { crypto_core_hsalsa20(o: Uint8Array, i: Uint8Array, k: Uint8Array, c: Uint8Array): number } })
        .lowlevel.crypto_core_hsalsa20(key, ZERO16, new Uint8Array(shared), SIGMA);
    return key;
}

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { EnclaveKeys } from '../enclave/keys';
import { TeeType } from '../enclave/types';
import { writeFileAtomic } from '../store/atomic';
import { SealedKeysError } from './errors';

/**
 * The enclave's keys survive a restart sealed in the data directory: AES-256-GCM under a 32-byte
 * sealing key, with the TEE type and the worker contract as associated data (a sealed file is
 * useless for any other worker). Only ciphertext reaches the disk.
 *
 * Where the sealing key comes from:
 * - the environment (`COCOON_SEAL_KEY`, 64 hex digits) when it is set: on TDX hosts this is the
 *   key a KMS releases to the attested TD, never stored on the host;
 * - simulated enclaves on dev networks without it: a random key in `seal.key` beside the sealed
 *   file (mode 0600). That protects nothing from the machine's owner, as a simulated enclave
 *   never does, but keeps keys across restarts so in-flight jobs can be finished.
 * - TDX without a sealing key: keys are not persisted; each start creates fresh keys inside the
 *   TD and renews the attestation.
 */
export const SEALED_KEYS_FILE = 'enclave-keys.sealed.json';
export const DEV_SEAL_KEY_FILE = 'seal.key';
const FORMAT = 'cocoon-sealed-enclave-keys';

interface SealedFile {
    format: typeof FORMAT;
    version: 1;
    teeType: TeeType;
    worker: string;
    signingKey: string;
    encryptionKey: string;
    nonce: string;
    ciphertext: string;
    tag: string;
}

function associatedData(teeType: TeeType, worker: Address): Buffer {
    return Buffer.from(`${FORMAT}/v1/${teeType}/${worker.toRawString()}`);
}

export function sealKeys(keys: EnclaveKeys, sealKey: Buffer, binding: { teeType: TeeType; worker: Address }): SealedFile {
    if (sealKey.length !== 32) throw new SealedKeysError('the sealing key must be 32 bytes');
    const secrets = keys.exportSecrets();
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', sealKey, nonce);
    cipher.setAAD(associatedData(binding.teeType, binding.worker));
    const plain = Buffer.concat([secrets.signingSeed, secrets.encryptionSecret]);
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    plain.fill(0);
    return {
        format: FORMAT,
        version: 1,
        teeType: binding.teeType,
        worker: binding.worker.toRawString(),
        signingKey: keys.publicKeys.signingKey.toString('hex'),
        encryptionKey: keys.publicKeys.encryptionKey.toString('hex'),
        nonce: nonce.toString('base64'),
        ciphertext: ciphertext.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
    };
}

export function unsealKeys(file: unknown, sealKey: Buffer, binding: { teeType: TeeType; worker: Address }, where = 'sealed keys'): EnclaveKeys {
    const f = file as Partial<SealedFile> | null;
    if (!f || f.format !== FORMAT || f.version !== 1) throw new SealedKeysError(`${where} is not a sealed-keys file of this agent (format ${JSON.stringify(f?.format)})`);
    if (f.teeType !== binding.teeType || f.worker !== binding.worker.toRawString()) {
        throw new SealedKeysError(
            `${where} holds keys of ${f.teeType} worker ${f.worker}, not of this ${binding.teeType} worker ${binding.worker.toRawString()}: ` +
                'use a data directory per worker (or move the file aside to create new keys)',
        );
    }
    try {
        const decipher = createDecipheriv('aes-256-gcm', sealKey, Buffer.from(f.nonce ?? '', 'base64'));
        decipher.setAAD(associatedData(binding.teeType, binding.worker));
        decipher.setAuthTag(Buffer.from(f.tag ?? '', 'base64'));
        const plain = Buffer.concat([decipher.update(Buffer.from(f.ciphertext ?? '', 'base64')), decipher.final()]);
        if (plain.length !== 64) throw new Error('length');
        const keys = EnclaveKeys.fromSecrets({ signingSeed: plain.subarray(0, 32), encryptionSecret: plain.subarray(32) });
        plain.fill(0);
        if (keys.publicKeys.signingKey.toString('hex') !== f.signingKey || keys.publicKeys.encryptionKey.toString('hex') !== f.encryptionKey) {
            throw new Error('public keys');
        }
        return keys;
    } catch {
        throw new SealedKeysError(
            `${where} does not open with this sealing key (wrong key, or the file was altered): set the sealing key the file was sealed ` +
                'with, or move the file aside to start with new keys (the agent then renews its attestation; jobs in flight under the old keys are dropped unsigned)',
        );
    }
}

/** The sealing key to use, or undefined when keys are not to be persisted (TDX without a KMS key). */
export function resolveSealKey(dataDir: string, teeType: TeeType, fromEnvironment: Buffer | undefined): Buffer | undefined {
    if (fromEnvironment) return fromEnvironment;
    if (teeType !== 'simulated') return undefined;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, DEV_SEAL_KEY_FILE);
    if (existsSync(path)) {
        const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
        if (key.length !== 32) throw new SealedKeysError(`${path} must hold 64 hex digits; delete it together with ${SEALED_KEYS_FILE} to start over`);
        return key;
    }
    const key = randomBytes(32);
    writeFileAtomic(path, key.toString('hex'));
    return key;
}

export interface LoadedKeys {
    keys: EnclaveKeys;
    /** True when the keys were created now (the on-chain claim needs renewing if it named others). */
    created: boolean;
    persisted: boolean;
}

/** Unseals the keys from the data dir, or creates (and seals, when a sealing key exists) new ones. */
export function loadOrCreateEnclaveKeys(dataDir: string, teeType: TeeType, worker: Address, sealKey: Buffer | undefined): LoadedKeys {
    const path = join(dataDir, SEALED_KEYS_FILE);
    const binding = { teeType, worker };
    if (sealKey && existsSync(path)) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(readFileSync(path, 'utf8'));
        } catch (error) {
            throw new SealedKeysError(`${path} is not valid JSON (${(error as Error).message}); restore it or move it aside to start with new keys`);
        }
        return { keys: unsealKeys(parsed, sealKey, binding, path), created: false, persisted: true };
    }
    const keys = EnclaveKeys.generate();
    if (!sealKey) return { keys, created: true, persisted: false };
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, JSON.stringify(sealKeys(keys, sealKey, binding), null, 2));
    return { keys, created: true, persisted: true };
}

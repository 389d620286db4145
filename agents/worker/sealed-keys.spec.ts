import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { SealedKeysError } from './errors';
import { DEV_SEAL_KEY_FILE, loadOrCreateEnclaveKeys, resolveSealKey, SEALED_KEYS_FILE } from './sealed-keys';

const WORKER = new Address(0, Buffer.alloc(32, 1));
const OTHER = new Address(0, Buffer.alloc(32, 2));

describe('sealed enclave keys', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cocoon-seal-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('creates keys once and unseals the same keys after a restart; only ciphertext reaches the disk', () => {
        const sealKey = Buffer.alloc(32, 5);
        const first = loadOrCreateEnclaveKeys(dir, 'simulated', WORKER, sealKey);
        expect(first).toMatchObject({ created: true, persisted: true });
        const again = loadOrCreateEnclaveKeys(dir, 'simulated', WORKER, sealKey);
        expect(again.created).toBe(false);
        expect(again.keys.publicKeys).toEqual(first.keys.publicKeys);
        const secrets = first.keys.exportSecrets();
        const file = readFileSync(join(dir, SEALED_KEYS_FILE));
        expect(file.includes(secrets.signingSeed.toString('hex'))).toBe(false);
        expect(file.includes(secrets.signingSeed.toString('base64'))).toBe(false);
        expect(statSync(join(dir, SEALED_KEYS_FILE)).mode & 0o077).toBe(0);
    });

    it('refuses to unseal with another sealing key, for another worker, or after tampering', () => {
        loadOrCreateEnclaveKeys(dir, 'simulated', WORKER, Buffer.alloc(32, 5));
        expect(() => loadOrCreateEnclaveKeys(dir, 'simulated', WORKER, Buffer.alloc(32, 6))).toThrow(SealedKeysError);
        expect(() => loadOrCreateEnclaveKeys(dir, 'simulated', OTHER, Buffer.alloc(32, 5))).toThrow(/use a data directory per worker/);
        const path = join(dir, SEALED_KEYS_FILE);
        const sealed = JSON.parse(readFileSync(path, 'utf8'));
        const bytes = Buffer.from(sealed.ciphertext, 'base64');
        bytes[0] ^= 1;
        writeFileSync(path, JSON.stringify({ ...sealed, ciphertext: bytes.toString('base64') }));
        expect(() => loadOrCreateEnclaveKeys(dir, 'simulated', WORKER, Buffer.alloc(32, 5))).toThrow(/does not open with this sealing key/);
    });

    it('keeps a random dev sealing key for simulated enclaves, and none for TDX without one from the environment', () => {
        const key = resolveSealKey(dir, 'simulated', undefined)!;
        expect(key).toHaveLength(32);
        expect(resolveSealKey(dir, 'simulated', undefined)).toEqual(key);
        expect(statSync(join(dir, DEV_SEAL_KEY_FILE)).mode & 0o077).toBe(0);
        expect(resolveSealKey(dir, 'tdx', undefined)).toBeUndefined();
        expect(resolveSealKey(dir, 'tdx', Buffer.alloc(32, 9))).toEqual(Buffer.alloc(32, 9));
        const unsealed = loadOrCreateEnclaveKeys(dir, 'tdx', WORKER, undefined);
        expect(unsealed).toMatchObject({ created: true, persisted: false });
    });
});

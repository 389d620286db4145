import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ed25519FromSeed, ed25519Sign } from '../core/ed25519';
import { EnvelopeBackend, EnvelopeContext, openRequest, OpenedRequest, sealResponse } from '../core/envelope';
import { x25519FromSecret } from '../core/x25519';
import { AttestationEvidence, Enclave, EnclavePublicKeys, TeeType } from './types';

/**
 * The enclave's two key pairs. Secrets stay in private fields: they never appear in JSON,
 * `util.inspect` or logs; `exportSecrets()` exists only to seal them for a restart.
 */
export class EnclaveKeys {
    readonly #signingSeed: Buffer;
    readonly #encryptionSecret: Buffer;
    readonly publicKeys: EnclavePublicKeys;

    private constructor(signingSeed: Buffer, encryptionSecret: Buffer) {
        if (signingSeed.length !== 32 || encryptionSecret.length !== 32) throw new RangeError('enclave secrets must be 32 bytes each');
        this.#signingSeed = Buffer.from(signingSeed);
        this.#encryptionSecret = Buffer.from(encryptionSecret);
        this.publicKeys = {
            signingKey: ed25519FromSeed(this.#signingSeed).publicKey,
            encryptionKey: x25519FromSecret(this.#encryptionSecret).publicKey,
        };
    }

    static generate(): EnclaveKeys {
        return new EnclaveKeys(randomBytes(32), randomBytes(32));
    }

    static fromSecrets(secrets: { signingSeed: Buffer; encryptionSecret: Buffer }): EnclaveKeys {
        return new EnclaveKeys(secrets.signingSeed, secrets.encryptionSecret);
    }

    exportSecrets(): { signingSeed: Buffer; encryptionSecret: Buffer } {
        return { signingSeed: Buffer.from(this.#signingSeed), encryptionSecret: Buffer.from(this.#encryptionSecret) };
    }

    sign(data: Buffer): Buffer {
        return ed25519Sign(data, this.#signingSeed);
    }

    openRequest(envelope: Buffer, expect: EnvelopeContext, backend: EnvelopeBackend): OpenedRequest {
        return openRequest(envelope, { recipientSecretKey: this.#encryptionSecret, expect, backend });
    }

    sealResponse(payload: Buffer, request: Pick<OpenedRequest, 'replyTo' | 'context'>, backend: EnvelopeBackend): Buffer {
        return sealResponse(payload, { replyTo: request.replyTo, senderSecretKey: this.#encryptionSecret, context: request.context, backend });
    }

    toJSON(): object {
        return { signingKey: this.publicKeys.signingKey.toString('hex'), encryptionKey: this.publicKeys.encryptionKey.toString('hex') };
    }

    [inspect.custom](): string {
        return `EnclaveKeys(signingKey=${this.publicKeys.signingKey.toString('hex')}, secrets redacted)`;
    }
}

/** Shared by every implementation: keys held in this process's memory (inside the TD for tdx). */
export abstract class KeyHoldingEnclave implements Enclave {
    abstract readonly teeType: TeeType;

    protected constructor(
        protected readonly keys: EnclaveKeys,
        protected readonly envelopeBackend: EnvelopeBackend = 'native',
    ) {}

    get publicKeys(): EnclavePublicKeys {
        return this.keys.publicKeys;
    }

    abstract attest(reportData: Buffer): Promise<AttestationEvidence>;

    sign(data: Buffer): Buffer {
        return this.keys.sign(data);
    }

    openRequest(envelope: Buffer, expect: EnvelopeContext): OpenedRequest {
        return this.keys.openRequest(envelope, expect, this.envelopeBackend);
    }

    sealResponse(payload: Buffer, request: Pick<OpenedRequest, 'replyTo' | 'context'>): Buffer {
        return this.keys.sealResponse(payload, request, this.envelopeBackend);
    }

    protected requireReportData(reportData: Buffer): void {
        if (!Buffer.isBuffer(reportData) || reportData.length !== 64) {
            throw new RangeError(`report data must be exactly 64 bytes, got ${Buffer.isBuffer(reportData) ? reportData.length : typeof reportData}`);
        }
    }
}

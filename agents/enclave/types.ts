import { Address } from '@ton/core';
import { EnvelopeContext, OpenedRequest } from '../core/envelope';

/** TEE kinds; the numeric codes are the `teeType` values Root's allow-list and AttestationClaim use. */
export type TeeType = 'tdx' | 'simulated';
export const TEE_TYPE_CODES: Record<TeeType, number> = { tdx: 1, simulated: 2 };

export function teeTypeFromCode(code: number): TeeType {
    const found = (Object.keys(TEE_TYPE_CODES) as TeeType[]).find((t) => TEE_TYPE_CODES[t] === code);
    if (!found) throw new RangeError(`unknown TEE type code ${code} (known: tdx = 1, simulated = 2)`);
    return found;
}

export interface EnclavePublicKeys {
    /** Ed25519 key that signs Receipts (32 bytes). */
    signingKey: Buffer;
    /** X25519 key clients seal prompts to (32 bytes). */
    encryptionKey: Buffer;
}

/** Raw evidence from an enclave: a TDX quote, or a simulated evidence blob. */
export interface AttestationEvidence {
    teeType: TeeType;
    evidence: Buffer;
}

/**
 * One interface for every enclave: keys are created inside, evidence is produced for 64 bytes of
 * report data, and decryption and signing happen inside (the secrets never leave the object).
 */
export interface Enclave {
    readonly teeType: TeeType;
    readonly publicKeys: EnclavePublicKeys;
    /** Evidence binding exactly 64 bytes of report data. */
    attest(reportData: Buffer): Promise<AttestationEvidence>;
    /** Ed25519 signature with the enclave's signing key (for signed objects: over the 32-byte cell hash). */
    sign(data: Buffer): Buffer;
    /** Opens a client's request envelope for one job; refuses one sealed for any other job. */
    openRequest(envelope: Buffer, expect: EnvelopeContext): OpenedRequest;
    /** Seals the answer to the request's ephemeral key. */
    sealResponse(payload: Buffer, request: Pick<OpenedRequest, 'replyTo' | 'context'>): Buffer;
}

/** What a verifier established from evidence, before the policy check. */
export interface VerifiedEvidence {
    teeType: TeeType;
    /** SHA-256 over the TEE's measurement registers (see `measurementOfTdx`), 32 bytes. */
    measurement: Buffer;
    reportData: Buffer;
    debug: boolean;
    /** DCAP TCB status ('UpToDate', ...) or 'Simulated'. */
    tcbStatus: string;
    advisoryIds: string[];
    /** SHA-256 of the evidence bytes: the `quoteHash` of the worker's AttestationClaim. */
    quoteHash: Buffer;
}

export interface EvidenceVerifier {
    readonly teeType: TeeType;
    /** Checks authenticity at `now` (unix seconds); throws an `AttestationRefusedError`. */
    verify(evidence: Buffer, now: number): Promise<VerifiedEvidence>;
}

/** Evidence plus everything its report data binds: what a worker publishes and auditors check. */
export interface AttestationBundle {
    teeType: TeeType;
    evidence: Buffer;
    worker: Address;
    signingKey: Buffer;
    encryptionKey: Buffer;
    /** Unix seconds when the evidence was produced; bound in REPORTDATA. */
    issuedAt: number;
}

import { Address } from '@ton/core';
import { bindingReportData } from './binding';
import { MalformedEvidenceError, UnsupportedTeeError } from './errors';
import { AttestationApproval, AttestationPolicy, checkAttestationPolicy } from './policy';
import { AttestationBundle, Enclave, EvidenceVerifier, TEE_TYPE_CODES, TeeType } from './types';

/** Worker side: evidence binding the enclave's keys to the worker contract at `issuedAt`. */
export async function attestWorker(enclave: Enclave, worker: Address, issuedAt: number): Promise<AttestationBundle> {
    const { signingKey, encryptionKey } = enclave.publicKeys;
    const reportData = bindingReportData({ worker, signingKey, encryptionKey, issuedAt });
    const { teeType, evidence } = await enclave.attest(reportData);
    return { teeType, evidence, worker, signingKey, encryptionKey, issuedAt };
}

export interface AttestationResult extends AttestationApproval {
    /** The fields of the worker's on-chain AttestationClaim. */
    claim: { signingKey: bigint; encryptionKey: bigint; teeType: number; measurement: bigint; quoteHash: bigint };
}

/** Verifier side: authenticity (by the verifier for the bundle's TEE type), then the policy. */
export async function verifyAttestation(
    bundle: AttestationBundle,
    options: { verifiers: EvidenceVerifier[]; policy: AttestationPolicy; now: number },
): Promise<AttestationResult> {
    const verifier = options.verifiers.find((v) => v.teeType === bundle.teeType);
    if (!verifier) throw new UnsupportedTeeError(`no verifier configured for TEE type "${bundle.teeType}"`);
    const verified = await verifier.verify(bundle.evidence, options.now);
    const approval = checkAttestationPolicy(verified, bundle, options.policy, options.now);
    const big = (b: Buffer) => BigInt('0x' + b.toString('hex'));
    return {
        ...approval,
        claim: {
            signingKey: big(bundle.signingKey),
            encryptionKey: big(bundle.encryptionKey),
            teeType: TEE_TYPE_CODES[bundle.teeType],
            measurement: big(approval.measurement),
            quoteHash: big(approval.quoteHash),
        },
    };
}

/** JSON form served by a worker (`GET /attestation`) and read by clients and auditors. */
export interface AttestationBundleJson {
    teeType: TeeType;
    evidence: string;
    worker: string;
    signingKey: string;
    encryptionKey: string;
    issuedAt: number;
}

export function attestationBundleToJson(bundle: AttestationBundle): AttestationBundleJson {
    return {
        teeType: bundle.teeType,
        evidence: bundle.evidence.toString('base64'),
        worker: bundle.worker.toRawString(),
        signingKey: bundle.signingKey.toString('hex'),
        encryptionKey: bundle.encryptionKey.toString('hex'),
        issuedAt: bundle.issuedAt,
    };
}

export function attestationBundleFromJson(json: unknown): AttestationBundle {
    const o = json as Partial<AttestationBundleJson> | null;
    const fail = (what: string): never => {
        throw new MalformedEvidenceError(`attestation bundle: ${what}`);
    };
    if (!o || typeof o !== 'object') return fail('not a JSON object');
    if (o.teeType !== 'tdx' && o.teeType !== 'simulated') fail(`teeType must be "tdx" or "simulated", got ${JSON.stringify(o.teeType)}`);
    const hex32 = (v: unknown, name: string) =>
        typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : fail(`${name} must be 64 hex digits`);
    if (typeof o.evidence !== 'string' || o.evidence.length === 0) fail('evidence must be base64');
    if (!Number.isSafeInteger(o.issuedAt) || (o.issuedAt as number) < 0) fail('issuedAt must be a unix time');
    let worker: Address;
    try {
        worker = Address.parse(String(o.worker));
    } catch {
        return fail(`worker ${JSON.stringify(o.worker)} is not a TON address`);
    }
    return {
        teeType: o.teeType as TeeType,
        evidence: Buffer.from(o.evidence as string, 'base64'),
        worker,
        signingKey: hex32(o.signingKey, 'signingKey'),
        encryptionKey: hex32(o.encryptionKey, 'encryptionKey'),
        issuedAt: o.issuedAt as number,
    };
}

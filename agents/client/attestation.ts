import { Address } from '@ton/core';
import { verifyAttestation } from '../enclave/attestation';
import { AttestationRefusedError } from '../enclave/errors';
import { AttestationPolicy } from '../enclave/policy';
import { EvidenceVerifier, TEE_TYPE_CODES, TeeType } from '../enclave/types';
import { AttestationVerificationError } from './errors';
import { notServingReason, RootSnapshot, WorkerRecord } from './registry';

/**
 * The body of a worker's `GET /v1/attestation` (docs/worker-api.md), parsed and typed.
 */
export interface WorkerAttestation {
    version: 1;
    worker: Address;
    owner: Address;
    root: Address;
    slot: bigint;
    teeType: TeeType;
    evidence: Buffer;
    /** Unix seconds the evidence was produced at; bound in REPORTDATA. */
    issuedAt: number;
    signingKey: Buffer;
    encryptionKey: Buffer;
    models: { name: string; hash: string; promptPrice: bigint; completionPrice: bigint }[];
    limits: { maxPromptBytes: number; maxTokens: number };
}

/** A worker whose evidence and on-chain record agree: the only kind the client sends data to. */
export interface VerifiedWorker {
    address: Address;
    owner: Address;
    slot: bigint;
    endpoint: string;
    signingKey: Buffer;
    encryptionKey: Buffer;
    teeType: TeeType;
    measurement: Buffer;
    /** Unix seconds after which the evidence must be fetched and checked again. */
    evidenceExpiresAt: number;
    /** Model hash (lowercase hex) → name the worker gives it and its on-chain prices. */
    models: Map<string, { name: string; prompt: bigint; completion: bigint }>;
    limits: { maxPromptBytes: number; maxTokens: number };
    record: WorkerRecord;
    /** Round-trip time of the attestation request, milliseconds (the latency selection uses). */
    latencyMs: number;
    verifiedAt: number;
}

const MAX_MODELS = 64;

function fail(worker: string, reason: string, message: string): never {
    throw new AttestationVerificationError(reason, worker, message);
}

/** Parses `GET /v1/attestation`; every field is checked for shape (`malformed-attestation` otherwise). */
export function parseWorkerAttestation(json: unknown, worker: string): WorkerAttestation {
    const bad = (what: string): never => fail(worker, 'malformed-attestation', what);
    if (!json || typeof json !== 'object' || Array.isArray(json)) bad('the body is not a JSON object');
    const o = json as Record<string, unknown>;
    if (o.version !== 1) bad(`version must be 1, got ${JSON.stringify(o.version)}`);
    const address = (v: unknown, name: string): Address => {
        try {
            return Address.parse(String(v));
        } catch {
            return bad(`${name} ${JSON.stringify(v)} is not a TON address`);
        }
    };
    const hex32 = (v: unknown, name: string): Buffer =>
        typeof v === 'string' && /^[0-9a-f]{64}$/i.test(v) ? Buffer.from(v, 'hex') : bad(`${name} must be 64 hex digits`);
    const decimal = (v: unknown, name: string): bigint =>
        typeof v === 'string' && /^\d{1,40}$/.test(v) ? BigInt(v) : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : bad(`${name} must be a decimal string`);
    const positive = (v: unknown, name: string): number =>
        typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : bad(`${name} must be a positive integer`);
    if (o.teeType !== 'tdx' && o.teeType !== 'simulated') bad(`teeType must be "tdx" or "simulated", got ${JSON.stringify(o.teeType)}`);
    if (typeof o.evidence !== 'string' || o.evidence.length === 0 || !/^[A-Za-z0-9+/=_-]+$/.test(o.evidence)) bad('evidence must be base64');
    if (!Number.isSafeInteger(o.issuedAt) || (o.issuedAt as number) < 0) bad('issuedAt must be a unix time in seconds');
    if (!Array.isArray(o.models) || o.models.length > MAX_MODELS) bad(`models must be an array of at most ${MAX_MODELS}`);
    const models = (o.models as unknown[]).map((m, i) => {
        if (!m || typeof m !== 'object') return bad(`models[${i}] must be an object`);
        const e = m as Record<string, unknown>;
        if (typeof e.name !== 'string' || e.name.length === 0 || e.name.length > 200) bad(`models[${i}].name must be a non-empty string`);
        return {
            name: e.name as string,
            hash: hex32(e.hash, `models[${i}].hash`).toString('hex'),
            promptPrice: decimal(e.promptPrice, `models[${i}].promptPrice`),
            completionPrice: decimal(e.completionPrice, `models[${i}].completionPrice`),
        };
    });
    const limits = o.limits as Record<string, unknown> | undefined;
    if (!limits || typeof limits !== 'object') bad('limits must be an object');
    return {
        version: 1,
        worker: address(o.worker, 'worker'),
        owner: address(o.owner, 'owner'),
        root: address(o.root, 'root'),
        slot: decimal(o.slot, 'slot'),
        teeType: o.teeType as TeeType,
        evidence: Buffer.from(o.evidence as string, 'base64'),
        issuedAt: o.issuedAt as number,
        signingKey: hex32(o.signingKey, 'signingKey'),
        encryptionKey: hex32(o.encryptionKey, 'encryptionKey'),
        models,
        limits: { maxPromptBytes: positive(limits!.maxPromptBytes, 'limits.maxPromptBytes'), maxTokens: positive(limits!.maxTokens, 'limits.maxTokens') },
    };
}

export interface AttestationCheckOptions {
    verifiers: EvidenceVerifier[];
    /** Chain time (unix seconds); evidence age and on-chain expiry are judged by it. */
    now: number;
    /** Client-side refusal of simulated enclaves whatever Root allows (always on for mainnet). */
    refuseSimulated?: boolean;
    maxClockSkew?: number;
}

/**
 * Decides whether a worker may receive data, before any leaves the client:
 *
 * 1. the worker serves (Active, attestation approved and unexpired, network not paused);
 * 2. the evidence names this worker, its Root, owner and slot;
 * 3. the evidence is authentic (simulated or DCAP verifier) and passes the policy with Root's
 *    values: measurement on Root's allow-list, REPORTDATA binding both keys and the worker
 *    address, age below Root's attestation TTL, no debug enclave, simulated only where allowed;
 * 4. the keys, TEE type, measurement and quote hash equal the worker's on-chain claim (the one
 *    auditors approved), and every model it advertises carries exactly its on-chain prices.
 *
 * Any failure throws `AttestationVerificationError` with a reason code.
 */
export async function verifyWorkerAttestation(
    attestation: WorkerAttestation,
    record: WorkerRecord,
    root: RootSnapshot,
    options: AttestationCheckOptions,
): Promise<Omit<VerifiedWorker, 'latencyMs' | 'verifiedAt'>> {
    const who = record.address.toString();
    const notServing = notServingReason(record, root, options.now);
    if (notServing) fail(who, 'not-serving', notServing);
    if (!attestation.worker.equals(record.address)) fail(who, 'record-mismatch', `the evidence names worker ${attestation.worker.toString()}`);
    if (!attestation.root.equals(root.address)) fail(who, 'record-mismatch', `the evidence names Root ${attestation.root.toString()}, not ${root.address.toString()}`);
    if (!attestation.owner.equals(record.owner) || attestation.slot !== record.slot) {
        fail(who, 'record-mismatch', `the evidence names owner ${attestation.owner.toString()} slot ${attestation.slot}, the contract ${record.owner.toString()} slot ${record.slot}`);
    }
    if (options.refuseSimulated && attestation.teeType === 'simulated') {
        fail(who, 'simulated-tee-not-allowed', 'this client refuses simulated enclaves on this network (they give no confidentiality)');
    }
    const policy: AttestationPolicy = {
        allowedMeasurements: root.measurements,
        allowSimulatedTee: root.params.allowSimulatedTee && !options.refuseSimulated,
        attestationTtl: Number(root.params.attestationTtl),
        maxClockSkew: options.maxClockSkew,
    };
    let verified;
    try {
        verified = await verifyAttestation(
            {
                teeType: attestation.teeType,
                evidence: attestation.evidence,
                worker: record.address,
                signingKey: attestation.signingKey,
                encryptionKey: attestation.encryptionKey,
                issuedAt: attestation.issuedAt,
            },
            { verifiers: options.verifiers, policy, now: options.now },
        );
    } catch (error) {
        if (error instanceof AttestationRefusedError) throw new AttestationVerificationError(error.reason, who, error.message, { cause: error });
        throw error;
    }
    if (!attestation.signingKey.equals(record.signingKey) || !attestation.encryptionKey.equals(record.encryptionKey)) {
        fail(who, 'keys-mismatch', 'the attested enclave keys are not the keys in the Worker contract (stale evidence, or another enclave)');
    }
    if (TEE_TYPE_CODES[attestation.teeType] !== record.teeType) fail(who, 'record-mismatch', `TEE type ${attestation.teeType} differs from the contract's (${record.teeType})`);
    if (!verified.measurement.equals(record.measurement)) {
        fail(who, 'measurement-mismatch', `measured ${verified.measurement.toString('hex')}, the contract records ${record.measurement.toString('hex')}`);
    }
    if (!verified.quoteHash.equals(record.quoteHash)) {
        fail(who, 'quote-mismatch', 'the evidence is not the quote recorded (and approved) in the Worker contract; the worker must renew its attestation');
    }
    const models = new Map<string, { name: string; prompt: bigint; completion: bigint }>();
    for (const m of attestation.models) {
        const onChain = record.prices.get(m.hash);
        if (!onChain) fail(who, 'prices-mismatch', `model ${m.name} (${m.hash}) is not priced in the Worker contract`);
        if (onChain.prompt !== m.promptPrice || onChain.completion !== m.completionPrice) {
            fail(
                who,
                'prices-mismatch',
                `model ${m.name} advertises ${m.promptPrice}/${m.completionPrice} nanoTON per token, the contract says ${onChain.prompt}/${onChain.completion}`,
            );
        }
        // Governance may have removed the model from Root since the worker priced it: not offered.
        if (!root.models.has(m.hash)) continue;
        models.set(m.hash, { name: m.name, prompt: onChain.prompt, completion: onChain.completion });
    }
    return {
        address: record.address,
        owner: record.owner,
        slot: record.slot,
        endpoint: record.endpoint,
        signingKey: record.signingKey,
        encryptionKey: record.encryptionKey,
        teeType: attestation.teeType,
        measurement: verified.measurement,
        evidenceExpiresAt: Math.min(verified.expiresAt, record.attestationExpiry || verified.expiresAt),
        models,
        limits: attestation.limits,
        record,
    };
}


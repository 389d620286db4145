import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { parseWorkerAttestation } from '../client/attestation';
import { AttestationVerificationError, WorkerRequestError, WorkerUnreachableError } from '../client/errors';
import { fetchAttestation } from '../client/worker-api';
import { Chain } from '../chain/types';
import { verifyAttestation } from '../enclave/attestation';
import { AttestationRefusedError } from '../enclave/errors';
import { EvidenceVerifier, teeTypeFromCode, TeeType } from '../enclave/types';
import { WORKER_STATUS_ACTIVE, WORKER_STATUS_JAILED, WORKER_STATUS_PENDING, WorkerInfo } from '../../wrappers';
import { bufferOf256, hex256, readGenuineWorker, readRoot, RootView } from './chain-view';

/**
 * Reviews a worker's attestation: fetches the evidence its endpoint serves (`GET
 * /v1/attestation`), checks that it is the quote the Worker contract claims (its hash), verifies
 * it (simulated or DCAP verifier) and applies the policy with Root's values and the on-chain
 * claim's keys: measurement on Root's allow-list and equal to the claim's, REPORTDATA binding
 * the claimed keys and this worker, evidence younger than the attestation TTL, no debug enclave,
 * simulated only where Root allows it.
 *
 * Only a provable fault of the evidence is `bad` (an AttestationBad verdict jails the worker); a
 * worker that cannot be reached, serves other evidence than it claims (a restart mid-renewal), or
 * evidence this auditor cannot judge (no verifier, stale collateral) is `retry`: no verdict.
 */
export type ReviewOutcome =
    | { kind: 'ok'; worker: Address; quoteHash: bigint; evidenceHash: bigint; expiresAt: number; alreadyApproved: boolean; teeType: TeeType }
    | { kind: 'bad'; worker: Address; quoteHash: bigint; evidenceHash: bigint; reason: string; message: string }
    | { kind: 'retry'; worker: Address; reason: string; message: string }
    | { kind: 'skip'; worker: Address; reason: string; message: string };

/** Refusals that say nothing about the worker, only about this auditor's means to judge. */
const INCONCLUSIVE = new Set(['unsupported-tee', 'collateral-expired', 'dcap']);

export interface ReviewContext {
    chain: Chain;
    root: Address;
    verifiers: EvidenceVerifier[];
    fetchTimeoutMs: number;
    maxEvidenceBytes: number;
}

/**
 * The evidence hash of an attestation verdict: SHA-256 of a domain tag, the evidence bytes and
 * `issuedAt` (uint64 big-endian). Every honest auditor computes the same from the same evidence,
 * so co-signers sign the same Verdict cell.
 */
export function attestationEvidenceHash(evidence: Buffer, issuedAt: number): bigint {
    const at = Buffer.alloc(8);
    at.writeBigUInt64BE(BigInt(issuedAt));
    const digest = createHash('sha256').update('cocoon-attestation-evidence-v1').update(evidence).update(at).digest();
    return BigInt('0x' + digest.toString('hex'));
}

const LIVE = new Set([WORKER_STATUS_PENDING, WORKER_STATUS_ACTIVE, WORKER_STATUS_JAILED]);

export async function reviewWorker(ctx: ReviewContext, worker: Address, now: number, rootView?: RootView): Promise<ReviewOutcome> {
    const info: WorkerInfo | undefined = await readGenuineWorker(ctx.chain, ctx.root, worker);
    if (!info) return { kind: 'skip', worker, reason: 'not-a-worker', message: `no Worker of Root ${ctx.root.toString()} at ${worker.toString()}` };
    if (!LIVE.has(info.status)) return { kind: 'skip', worker, reason: 'not-live', message: `the worker's status is ${info.status}: nothing to attest` };
    const record = info.attestation;
    const claim = record.claim;
    if (record.rejected) return { kind: 'skip', worker, reason: 'already-rejected', message: 'auditors already rejected this quote; the worker must renew its attestation' };

    let served;
    try {
        const { body } = await fetchAttestation(info.endpoint, { timeoutMs: ctx.fetchTimeoutMs, maxResponseBytes: ctx.maxEvidenceBytes });
        served = parseWorkerAttestation(body, worker.toString());
    } catch (error) {
        if (error instanceof WorkerUnreachableError) return { kind: 'retry', worker, reason: 'unreachable', message: error.message };
        if (error instanceof WorkerRequestError) return { kind: 'retry', worker, reason: 'endpoint-error', message: error.message };
        if (error instanceof AttestationVerificationError) return { kind: 'retry', worker, reason: 'malformed-answer', message: error.message };
        throw error;
    }
    const evidenceQuoteHash = BigInt('0x' + createHash('sha256').update(served.evidence).digest('hex'));
    if (evidenceQuoteHash !== claim.quoteHash) {
        return {
            kind: 'retry',
            worker,
            reason: 'evidence-not-claimed',
            message: `the endpoint serves evidence ${hex256(evidenceQuoteHash)}, the contract claims quote ${hex256(claim.quoteHash)} (a renewal in progress?)`,
        };
    }
    const evidenceHash = attestationEvidenceHash(served.evidence, served.issuedAt);
    const bad = (reason: string, message: string): ReviewOutcome => ({ kind: 'bad', worker, quoteHash: claim.quoteHash, evidenceHash, reason, message });

    let teeType: TeeType;
    try {
        teeType = teeTypeFromCode(Number(claim.teeType));
    } catch (error) {
        return bad('unsupported-tee', (error as Error).message);
    }
    const rootState = rootView ?? (await readRoot(ctx.chain, ctx.root));
    let verified;
    try {
        // The claim's keys, not the answer's: the quote must bind exactly what the contract records.
        verified = await verifyAttestation(
            {
                teeType,
                evidence: served.evidence,
                worker,
                signingKey: bufferOf256(claim.signingKey),
                encryptionKey: bufferOf256(claim.encryptionKey),
                issuedAt: served.issuedAt,
            },
            {
                verifiers: ctx.verifiers,
                policy: {
                    allowedMeasurements: rootState.measurements,
                    allowSimulatedTee: rootState.params.allowSimulatedTee,
                    attestationTtl: Number(rootState.params.attestationTtl),
                },
                now,
            },
        );
    } catch (error) {
        if (!(error instanceof AttestationRefusedError)) throw error;
        if (INCONCLUSIVE.has(error.reason)) return { kind: 'retry', worker, reason: error.reason, message: error.message };
        return bad(error.reason, error.message);
    }
    if (verified.claim.measurement !== claim.measurement) {
        return bad('measurement-mismatch', `the quote measures ${verified.measurement.toString('hex')}, the contract claims ${hex256(claim.measurement)}`);
    }
    return { kind: 'ok', worker, quoteHash: claim.quoteHash, evidenceHash, expiresAt: verified.expiresAt, alreadyApproved: record.attested, teeType };
}

import { bindingReportData, ReportDataBinding } from './binding';
import {
    DebugEnclaveRefusedError,
    EvidenceExpiredError,
    EvidenceFromFutureError,
    MeasurementNotAllowedError,
    ReportDataMismatchError,
    SimulatedTeeNotAllowedError,
} from './errors';
import { TeeType, VerifiedEvidence } from './types';

/**
 * The policy a client, auditor or worker applies on top of a verifier, with Root's values:
 * - a simulated TEE only where `allowSimulatedTee` is set;
 * - never a debug enclave;
 * - the measurement on Root's allow-list, registered for this TEE type;
 * - REPORTDATA equal to the binding of the enclave keys, the worker contract and issuedAt;
 * - evidence not older than `attestationTtl` (and not from the future beyond a small clock skew).
 */
export interface AttestationPolicy {
    /** Root's allow-list: measurement (lower-case hex of the 32 bytes; build it with `allowList`) → TEE type. */
    allowedMeasurements: ReadonlyMap<string, TeeType>;
    allowSimulatedTee: boolean;
    /** Seconds evidence stays acceptable after `issuedAt` (Root's `attestationTtl`). */
    attestationTtl: number;
    /** Tolerated clock difference for evidence dated in the future (default 120 s). */
    maxClockSkew?: number;
}

export function allowList(entries: Iterable<{ measurement: Buffer | bigint; teeType: TeeType }>): Map<string, TeeType> {
    const map = new Map<string, TeeType>();
    for (const e of entries) {
        const hex = typeof e.measurement === 'bigint' ? e.measurement.toString(16).padStart(64, '0') : e.measurement.toString('hex');
        map.set(hex.toLowerCase(), e.teeType);
    }
    return map;
}

export interface AttestationApproval {
    teeType: TeeType;
    measurement: Buffer;
    quoteHash: Buffer;
    tcbStatus: string;
    /** Unix seconds after which the evidence must be renewed. */
    expiresAt: number;
}

export function checkAttestationPolicy(
    verified: VerifiedEvidence,
    binding: ReportDataBinding,
    policy: AttestationPolicy,
    now: number,
): AttestationApproval {
    if (verified.teeType === 'simulated' && !policy.allowSimulatedTee) {
        throw new SimulatedTeeNotAllowedError(
            'simulated enclaves give no confidentiality and this network does not allow them (Root params: allowSimulatedTee = false)',
        );
    }
    if (verified.debug) {
        throw new DebugEnclaveRefusedError('the evidence comes from a debug enclave, whose memory the host can read; refusing it');
    }
    const allowedType = policy.allowedMeasurements.get(verified.measurement.toString('hex'));
    if (allowedType !== verified.teeType) {
        throw new MeasurementNotAllowedError(
            `measurement ${verified.measurement.toString('hex')} (${verified.teeType}) is not on Root's allow-list` +
                (allowedType ? ` for this TEE type (it is allowed for ${allowedType})` : '') +
                '; run an approved image, or ask governance to add it',
        );
    }
    const expected = bindingReportData(binding);
    if (!verified.reportData.equals(expected)) {
        throw new ReportDataMismatchError(
            'REPORTDATA does not bind these enclave keys, this worker contract and this issuedAt: the evidence belongs to other keys or another worker',
        );
    }
    const skew = policy.maxClockSkew ?? 120;
    if (binding.issuedAt > now + skew) {
        throw new EvidenceFromFutureError(`evidence is dated ${binding.issuedAt}, after now (${now}) by more than ${skew} s; check the clock`);
    }
    const expiresAt = binding.issuedAt + policy.attestationTtl;
    if (now > expiresAt) {
        throw new EvidenceExpiredError(
            `evidence from ${binding.issuedAt} expired at ${expiresAt} (attestation TTL ${policy.attestationTtl} s); the worker must attest again`,
        );
    }
    return { teeType: verified.teeType, measurement: verified.measurement, quoteHash: verified.quoteHash, tcbStatus: verified.tcbStatus, expiresAt };
}

/**
 * Why attestation evidence was refused. Every refusal is an `AttestationRefusedError` with a
 * stable `reason` code (for logs, metrics and auditor verdicts) and a message that says what to do.
 */
export type AttestationRefusalReason =
    | 'malformed-evidence'
    | 'untrusted-attestation-key'
    | 'evidence-signature'
    | 'quote-invalid'
    | 'collateral-expired'
    | 'tcb-outdated'
    | 'tcb-status'
    | 'unsupported-tee'
    | 'simulated-tee-not-allowed'
    | 'debug-enclave'
    | 'measurement-not-allowed'
    | 'report-data-mismatch'
    | 'evidence-expired'
    | 'evidence-from-future'
    | 'dcap';

export class AttestationRefusedError extends Error {
    constructor(
        readonly reason: AttestationRefusalReason,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = 'AttestationRefusedError';
    }
}

function named<T extends AttestationRefusalReason>(reason: T, name: string) {
    return class extends AttestationRefusedError {
        constructor(message: string, options?: { cause?: unknown }) {
            super(reason, message, options);
            this.name = name;
        }
    };
}

export class MalformedEvidenceError extends named('malformed-evidence', 'MalformedEvidenceError') {}
export class UntrustedAttestationKeyError extends named('untrusted-attestation-key', 'UntrustedAttestationKeyError') {}
export class EvidenceSignatureError extends named('evidence-signature', 'EvidenceSignatureError') {}
export class QuoteInvalidError extends named('quote-invalid', 'QuoteInvalidError') {}
export class CollateralExpiredError extends named('collateral-expired', 'CollateralExpiredError') {}
export class TcbOutdatedError extends named('tcb-outdated', 'TcbOutdatedError') {}
export class TcbStatusRefusedError extends named('tcb-status', 'TcbStatusRefusedError') {}
export class UnsupportedTeeError extends named('unsupported-tee', 'UnsupportedTeeError') {}
export class SimulatedTeeNotAllowedError extends named('simulated-tee-not-allowed', 'SimulatedTeeNotAllowedError') {}
export class DebugEnclaveRefusedError extends named('debug-enclave', 'DebugEnclaveRefusedError') {}
export class MeasurementNotAllowedError extends named('measurement-not-allowed', 'MeasurementNotAllowedError') {}
export class ReportDataMismatchError extends named('report-data-mismatch', 'ReportDataMismatchError') {}
export class EvidenceExpiredError extends named('evidence-expired', 'EvidenceExpiredError') {}
export class EvidenceFromFutureError extends named('evidence-from-future', 'EvidenceFromFutureError') {}
export class DcapVerificationError extends named('dcap', 'DcapVerificationError') {}

import { Collateral, QuoteVerifier, TcbStatus } from '@phala/dcap-qvl';
import { quoteHashOf } from './binding';
import {
    AttestationRefusedError,
    CollateralExpiredError,
    DcapVerificationError,
    DebugEnclaveRefusedError,
    MalformedEvidenceError,
    QuoteInvalidError,
    TcbOutdatedError,
    TcbStatusRefusedError,
} from './errors';
import { parseTdxQuote, QuoteParseError } from './tdx-quote';
import { EvidenceVerifier, VerifiedEvidence } from './types';

/**
 * Intel DCAP verification of TDX quotes with `@phala/dcap-qvl`, fully offline: the collateral
 * (PCK CRL, TCB info, QE identity and their issuer chains) is passed in, and `now` is explicit,
 * so a verdict is reproducible. Fetching fresh collateral (PCCS) is the caller's business.
 */
export type CollateralSource = Collateral | ((quote: Buffer) => Collateral);

export interface DcapVerifierOptions {
    collateral: CollateralSource;
    /** TCB statuses accepted (default: only 'UpToDate'). */
    acceptedTcbStatuses?: TcbStatus[];
    /** DER of the root CA (default: Intel's SGX/TDX production root built into dcap-qvl). */
    rootCaDer?: Buffer;
}

export class DcapVerifier implements EvidenceVerifier {
    readonly teeType = 'tdx' as const;
    private readonly verifier: QuoteVerifier;
    private readonly accepted: Set<string>;

    constructor(private readonly options: DcapVerifierOptions) {
        this.verifier = options.rootCaDer ? QuoteVerifier.newWithRootCa(options.rootCaDer) : QuoteVerifier.newProd();
        this.accepted = new Set(options.acceptedTcbStatuses ?? ['UpToDate']);
    }

    async verify(evidence: Buffer, now: number): Promise<VerifiedEvidence> {
        let parsed;
        try {
            parsed = parseTdxQuote(evidence);
        } catch (error) {
            if (error instanceof QuoteParseError) throw new MalformedEvidenceError(error.message, { cause: error });
            throw error;
        }
        const collateral = typeof this.options.collateral === 'function' ? this.options.collateral(evidence) : this.options.collateral;
        let report;
        try {
            report = this.verifier.verify(evidence, collateral, now);
        } catch (error) {
            throw classifyDcapError(error as Error, now);
        }
        if (!this.accepted.has(report.status)) {
            throw new TcbStatusRefusedError(
                `platform TCB status is ${report.status}` +
                    (report.advisory_ids.length ? ` (advisories ${report.advisory_ids.join(', ')})` : '') +
                    `; accepted: ${[...this.accepted].join(', ')}. The host must update its firmware/microcode`,
            );
        }
        return {
            teeType: 'tdx',
            measurement: parsed.measurement,
            reportData: parsed.reportData,
            debug: parsed.debug,
            tcbStatus: report.status,
            advisoryIds: [...report.advisory_ids],
            quoteHash: quoteHashOf(evidence),
        };
    }
}

/** Maps dcap-qvl 0.3.9's error messages to named refusals. */
export function classifyDcapError(error: Error, now: number): AttestationRefusedError {
    const message = error.message ?? String(error);
    const at = new Date(now * 1000).toISOString();
    if (/TCBInfo expired|QE Identity expired|issue date is in the future|expired or not yet valid/.test(message)) {
        return new CollateralExpiredError(`collateral is not valid at ${at} (${message}); fetch fresh collateral from a PCCS`, { cause: error });
    }
    if (/No matching TCB level|is below minimum required/.test(message)) {
        return new TcbOutdatedError(
            `the platform's TCB matches no acceptable level of the collateral (${message}): the platform is outdated or unknown`,
            { cause: error },
        );
    }
    if (/TCB status is invalid|Certificate is revoked/.test(message)) {
        return new TcbStatusRefusedError(`${message}: the platform is revoked`, { cause: error });
    }
    if (/Debug mode is enabled/.test(message)) {
        return new DebugEnclaveRefusedError('the quote comes from a debug TD, whose memory the host can read', { cause: error });
    }
    if (/ISV enclave report signature is invalid|Signature is invalid for qe_report|QE report hash mismatch|Failed to decode quote|Fmspc mismatch/.test(message)) {
        return new QuoteInvalidError(`TDX quote failed DCAP verification (${message}): it was altered or is not from genuine hardware`, {
            cause: error,
        });
    }
    return new DcapVerificationError(`DCAP verification failed: ${message}`, { cause: error });
}

/**
 * The auditor agent's errors. Each says what went wrong and what to do; the HTTP layer maps the
 * request-level ones (`AuditorApiError`) to their status codes (docs/auditor.md).
 */
import { ConfigIssue } from '../worker/errors';

export type { ConfigIssue };

/** Every problem of an auditor config, found in one pass. */
export class AuditorConfigError extends Error {
    constructor(
        readonly source: string,
        readonly issues: ConfigIssue[],
    ) {
        super(
            `auditor config ${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` +
                issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
        );
        this.name = 'AuditorConfigError';
    }
}

/** The auditor cannot start or go on (its keys are not auditors of this Root, no Root...). */
export class AuditorStartError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'AuditorStartError';
    }
}

/** Fewer valid auditor signatures than Root requires for this verdict. */
export class QuorumNotReachedError extends Error {
    constructor(
        readonly required: number,
        readonly gathered: number,
        detail: string,
    ) {
        super(
            `a verdict needs ${required} auditor signature${required === 1 ? '' : 's'} on this Root and only ${gathered} could be gathered (${detail}); ` +
                'configure more auditor keys or reachable peers, or ask governance to lower the quorum',
        );
        this.name = 'QuorumNotReachedError';
    }
}

export type AuditorApiErrorCode =
    | 'bad_request'
    | 'not_found'
    | 'method_not_allowed'
    | 'conflict'
    | 'too_large'
    | 'unprocessable'
    | 'busy'
    | 'unavailable'
    | 'internal';

export const AUDITOR_API_STATUS: Record<AuditorApiErrorCode, number> = {
    bad_request: 400,
    not_found: 404,
    method_not_allowed: 405,
    conflict: 409,
    too_large: 413,
    unprocessable: 422,
    busy: 429,
    unavailable: 503,
    internal: 500,
};

/** A request the auditor refuses: `{ error: { code, reason, message } }` with the code's status. */
export class AuditorApiError extends Error {
    constructor(
        readonly code: AuditorApiErrorCode,
        /** A stable machine-readable reason (e.g. `input-mismatch`, `not-equivocation`). */
        readonly reason: string,
        message: string,
    ) {
        super(message);
        this.name = 'AuditorApiError';
    }

    get status(): number {
        return AUDITOR_API_STATUS[this.code];
    }
}

/**
 * The worker agent's errors. Each says what went wrong and what to do; the HTTP layer maps the
 * request-level ones to the status codes of docs/worker-api.md.
 */

/** A problem with one config field; `WorkerConfigError` collects them all from one pass. */
export type { ConfigIssue } from '../core/config-fields';
import type { ConfigIssue } from '../core/config-fields';

export class WorkerConfigError extends Error {
    constructor(
        readonly source: string,
        readonly issues: ConfigIssue[],
    ) {
        super(
            `worker config ${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` +
                issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
        );
        this.name = 'WorkerConfigError';
    }
}

/** HTTP error codes of docs/worker-api.md. */
export type ApiErrorCode =
    | 'bad_request'
    | 'payment_required'
    | 'unauthorized'
    | 'not_found'
    | 'method_not_allowed'
    | 'seq_used'
    | 'voucher_stale'
    | 'too_large'
    | 'busy'
    | 'draining'
    | 'starting'
    | 'journal_unwritable'
    | 'internal';

export const API_ERROR_STATUS: Record<ApiErrorCode, number> = {
    bad_request: 400,
    payment_required: 402,
    unauthorized: 403,
    not_found: 404,
    method_not_allowed: 405,
    seq_used: 409,
    voucher_stale: 409,
    too_large: 413,
    busy: 429,
    draining: 503,
    starting: 503,
    journal_unwritable: 503,
    internal: 500,
};

/** A request the agent refuses; carries the API error code and a message for the caller. */
export class ApiError extends Error {
    constructor(
        readonly code: ApiErrorCode,
        message: string,
        readonly headers: Record<string, string> = {},
    ) {
        super(message);
        this.name = 'ApiError';
    }

    get status(): number {
        return API_ERROR_STATUS[this.code];
    }
}

/**
 * The agent cannot go on safely (its journal cannot be written, its chain history does not match
 * its store): it stops taking work and its process exits non-zero so a supervisor notices.
 */
export class WorkerFatalError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = 'WorkerFatalError';
    }
}

/**
 * The signing journal cannot be written (disk full, read-only, I/O error): fatal, and the request
 * that hit it is answered 503 `journal_unwritable`; nothing was signed for it.
 */
export class JournalUnwritableError extends WorkerFatalError {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = 'JournalUnwritableError';
    }
}

/** Registration or attestation renewal could not be completed on-chain. */
export class RegistrationError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'RegistrationError';
    }
}

/**
 * The model this worker loaded (its hash, computed from the model folder's files) is not on Root's
 * allow-list: a file changed since the hash was registered, or governance removed the model.
 */
export class ModelNotAllowedError extends RegistrationError {
    constructor(message: string) {
        super(message);
        this.name = 'ModelNotAllowedError';
    }
}

/** The sealed enclave keys cannot be opened (wrong sealing key, damaged file, other worker). */
export class SealedKeysError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'SealedKeysError';
    }
}

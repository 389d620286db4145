/**
 * Chain access errors. `retryable` says whether the same call may succeed later (network trouble,
 * rate limits, server errors, timeouts); everything else is a problem with the request itself.
 */
export class ChainError extends Error {
    constructor(
        message: string,
        readonly retryable: boolean,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = 'ChainError';
    }
}

/** The endpoint is unreachable, rate-limits us (429), fails (5xx) or times out: retry with backoff. */
export class ChainUnavailableError extends ChainError {
    constructor(
        message: string,
        readonly status?: number,
        options?: { cause?: unknown },
    ) {
        super(message, true, options);
        this.name = 'ChainUnavailableError';
    }
}

/** The endpoint refused the request (4xx, malformed answer): retrying the same call will not help. */
export class ChainRequestError extends ChainError {
    constructor(
        message: string,
        readonly status?: number,
        options?: { cause?: unknown },
    ) {
        super(message, false, options);
        this.name = 'ChainRequestError';
    }
}

export class AccountNotActiveError extends ChainError {
    constructor(address: string, method: string) {
        super(`cannot run get-method ${method} on ${address}: the account is not active (not deployed, or frozen)`, false);
        this.name = 'AccountNotActiveError';
    }
}

/** The contract did not accept the external message (bad signature, wrong seqno, expired...). */
export class ExternalMessageRejectedError extends ChainError {
    constructor(
        message: string,
        readonly exitCode?: number,
    ) {
        super(message, false);
        this.name = 'ExternalMessageRejectedError';
    }
}

/** A paging cursor names a transaction the endpoint does not know. */
export class TransactionNotFoundError extends ChainError {
    constructor(message: string) {
        super(message, false);
        this.name = 'TransactionNotFoundError';
    }
}

export function isRetryable(error: unknown): boolean {
    return error instanceof ChainError && error.retryable;
}

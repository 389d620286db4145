/**
 * Errors of the client SDK. Every error has a stable `code` (logs, metrics, the OpenAI-compatible
 * server's error bodies) and a message that says what went wrong and what to do. Callers branch
 * on `instanceof` or `code`, never on message text.
 */
export class CocoonClientError extends Error {
    constructor(
        readonly code: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** Bad configuration (network, endpoint, Root address, wallet, state directory...). */
export class ClientConfigError extends CocoonClientError {
    constructor(message: string) {
        super('config', message);
    }
}

/** The address is not `Worker(root, owner, slot)` of this Root: never deposit there. */
export class WorkerNotGenuineError extends CocoonClientError {
    constructor(message: string) {
        super('worker_not_genuine', message);
    }
}

/** The worker exists but does not take work now (not Active, jailed, attestation expired, Root paused). */
export class WorkerNotServingError extends CocoonClientError {
    constructor(message: string) {
        super('worker_not_serving', message);
    }
}

/**
 * Why a worker's attestation was refused by the client. The enclave layer's reasons
 * (`AttestationRefusedError.reason`) pass through; the client adds the checks against the
 * worker's on-chain record.
 */
export type ClientAttestationReason =
    | 'record-mismatch'
    | 'keys-mismatch'
    | 'measurement-mismatch'
    | 'quote-mismatch'
    | 'prices-mismatch'
    | 'malformed-attestation'
    | string;

/** The worker's evidence failed verification: no data is sent to it. */
export class AttestationVerificationError extends CocoonClientError {
    constructor(
        readonly reason: ClientAttestationReason,
        readonly worker: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super('attestation_refused', `worker ${worker}: attestation refused (${reason}): ${message}`, options);
    }
}

/** No verified, serving worker offers the model. `refusals` says why each candidate was left out. */
export class NoWorkerAvailableError extends CocoonClientError {
    constructor(
        message: string,
        readonly refusals: { worker: string; reason: string }[] = [],
    ) {
        super('no_worker', refusals.length ? `${message}; candidates refused: ${refusals.map((r) => `${r.worker}: ${r.reason}`).join('; ')}` : message);
    }
}

/** The model is not on Root's allow-list or not offered by any known worker. */
export class UnknownModelError extends CocoonClientError {
    constructor(message: string) {
        super('model_not_found', message);
    }
}

/** The request itself is bad (empty messages, bad max_tokens...). Nothing was sent. */
export class InvalidChatRequestError extends CocoonClientError {
    constructor(message: string) {
        super('invalid_request', message);
    }
}

/** The worker's endpoint does not answer (connection refused, timeout): the on-chain path can take over. */
export class WorkerUnreachableError extends CocoonClientError {
    constructor(
        readonly endpoint: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super('worker_unreachable', message, options);
    }
}

/** The worker answered with an error status (its `{error: {code, message}}` body is kept). */
export class WorkerRequestError extends CocoonClientError {
    constructor(
        readonly status: number,
        readonly workerCode: string,
        message: string,
    ) {
        super('worker_error', message);
    }
}

/** The worker's answer does not hold up (bad receipt, bad signature, wrong cost, undecryptable): it is not paid. */
export class ReceiptRejectedError extends CocoonClientError {
    constructor(
        readonly reason: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super('receipt_rejected', `receipt rejected (${reason}): ${message}`, options);
    }
}

/** A channel operation cannot be done (not open, closing, not enough free deposit...). */
export class ChannelError extends CocoonClientError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('channel', message, options);
    }
}

/** Not enough free deposit on the channel for the job's maximum cost: top up. */
export class InsufficientDepositError extends CocoonClientError {
    constructor(
        readonly needed: bigint,
        readonly available: bigint,
        message: string,
    ) {
        super('insufficient_deposit', message);
    }
}

/** An on-chain job failed (refused by the contract, expired, output unreadable). */
export class OnChainJobError extends CocoonClientError {
    constructor(
        readonly reason: 'refused' | 'expired' | 'timeout' | 'output',
        message: string,
        options?: { cause?: unknown },
    ) {
        super('onchain_job', message, options);
    }
}

/** A transaction the client sent did not do what it asked (the contract threw, or bounced). */
export class ChainTransactionError extends CocoonClientError {
    constructor(
        readonly exitCode: number | undefined,
        message: string,
    ) {
        super('transaction_failed', message);
    }
}

/** The client's ledger on disk disagrees with itself or the chain: stop rather than sign wrongly. */
export class LedgerError extends CocoonClientError {
    constructor(message: string) {
        super('ledger', message);
    }
}

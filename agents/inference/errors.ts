/**
 * Errors of the inference layer. Every error has a stable `code` (for logs, metrics and the
 * worker's HTTP error bodies) and a message that says what went wrong and what to do.
 * Callers branch on `instanceof` or `code`, never on message text.
 */
export class InferenceError extends Error {
    constructor(
        readonly code: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** The request is malformed: no messages, a bad role, a non-positive max_tokens, ... */
export class InvalidRequestError extends InferenceError {
    constructor(message: string) {
        super('INVALID_REQUEST', message);
    }
}

/** The prompt has no content to run the model on. */
export class EmptyPromptError extends InferenceError {
    constructor(message = 'the prompt is empty: send at least one message with non-empty content') {
        super('EMPTY_PROMPT', message);
    }
}

/** The prompt is longer than the configured limit or the model's context. */
export class PromptTooLongError extends InferenceError {
    constructor(
        readonly size: number,
        readonly limit: number,
        readonly unit: 'tokens' | 'characters',
        what: string,
    ) {
        super(
            'PROMPT_TOO_LONG',
            `the prompt is ${size} ${unit}, over the ${what} of ${limit} ${unit}: shorten the conversation or raise the limit`,
        );
    }
}

/** The model named does not exist here (no such folder, or a hub id while downloads are off). */
export class ModelNotFoundError extends InferenceError {
    constructor(message: string) {
        super('MODEL_NOT_FOUND', message);
    }
}

/** The model folder exists but a required file is missing, unreadable or corrupt. */
export class ModelFilesError extends InferenceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('MODEL_FILES_INVALID', message, options);
    }
}

/** The model's files no longer match the manifest (or hash) it was registered with. */
export class ModelIdentityMismatchError extends InferenceError {
    constructor(
        message: string,
        readonly expectedHash: string,
        readonly actualHash: string,
        readonly changes: ManifestChanges | null,
    ) {
        super('MODEL_IDENTITY_MISMATCH', message);
    }
}

export interface ManifestChanges {
    added: string[];
    removed: string[];
    changed: string[];
}

/** A manifest file is not in the canonical format. */
export class ManifestFormatError extends InferenceError {
    constructor(message: string) {
        super('MANIFEST_INVALID', message);
    }
}

/** The requested execution device (e.g. cuda) is not usable on this host. */
export class DeviceUnavailableError extends InferenceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('DEVICE_UNAVAILABLE', message, options);
    }
}

/** The request ran past its wall-clock limit. `partial` holds what was produced until then. */
export class InferenceTimeoutError extends InferenceError {
    constructor(
        message: string,
        readonly partial?: { text: string; completionTokens: number },
    ) {
        super('TIMEOUT', message);
    }
}

/** The engine was closed; create a new one. */
export class EngineClosedError extends InferenceError {
    constructor() {
        super('ENGINE_CLOSED', 'the inference engine is closed: create a new engine to serve more requests');
    }
}

/** The model failed while running (an ONNX Runtime error, an unexpected output shape, ...). */
export class ModelRuntimeError extends InferenceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('MODEL_RUNTIME', message, options);
    }
}

/** No connection could be made to the OpenAI-compatible server (refused, reset, DNS, TLS). */
export class BackendUnreachableError extends InferenceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('BACKEND_UNREACHABLE', message, options);
    }
}

/** The server answered with a non-success HTTP status. */
export class BackendHttpError extends InferenceError {
    constructor(
        readonly status: number,
        readonly bodyExcerpt: string,
        message: string,
    ) {
        super('BACKEND_HTTP_STATUS', message);
    }
}

/** The server answered, but not in the OpenAI wire format (bad JSON, missing fields, wrong content type). */
export class BackendProtocolError extends InferenceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super('BACKEND_BAD_RESPONSE', message, options);
    }
}

/** A streamed answer ended (connection closed) before `data: [DONE]`. */
export class TruncatedStreamError extends InferenceError {
    constructor(
        message: string,
        readonly partial: { text: string; chunks: number },
    ) {
        super('BACKEND_STREAM_TRUNCATED', message);
    }
}

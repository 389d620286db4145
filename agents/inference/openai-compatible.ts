import * as http from 'node:http';
import * as https from 'node:https';
import {
    CompletionRequest,
    CompletionResult,
    DEFAULT_MAX_PROMPT_CHARS,
    FinishReason,
    InferenceEngine,
    Usage,
    validateRequest,
} from './engine';
import {
    BackendHttpError,
    BackendProtocolError,
    BackendUnreachableError,
    EngineClosedError,
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    TruncatedStreamError,
} from './errors';
import { computeManifest, ModelManifest, readManifest } from './model-identity';

/**
 * Which files the server loads, declared by the operator: the model's identity cannot be read
 * over the OpenAI API, so it is computed from the folder the server was started with (or a
 * manifest written from it).
 */
export type DeclaredModelFiles = { modelDir: string } | { manifestFile: string };

export interface OpenAICompatibleOptions {
    /** Base URL as OpenAI clients take it, usually ending in `/v1` (vLLM :8000/v1, SGLang :30000/v1, llama.cpp :8080/v1, Ollama :11434/v1). */
    baseUrl: string;
    /** The model id the server serves. */
    model: string;
    identity: DeclaredModelFiles;
    /** Sent as a bearer token (Ollama ignores it but wants one). */
    apiKey?: string;
    /** `auto` (default): stream when the request has an onToken callback. */
    stream?: 'auto' | 'always' | 'never';
    /** Wall-clock limit per request when the request names none; default 10 minutes. */
    requestTimeoutMs?: number;
    /** Longest silence allowed once a response has started; default 60 s. */
    idleTimeoutMs?: number;
    /** Longest wait for a TCP connection; default 10 s. */
    connectTimeoutMs?: number;
    /** Retries of a request that failed before any byte of a response arrived; default 2. */
    maxRetries?: number;
    /** First retry delay, doubled each time; default 250 ms. */
    retryDelayMs?: number;
    maxPromptChars?: number;
    /** Sent as max_tokens when a request names none; default: none (the server decides). */
    defaultMaxTokens?: number;
    /** Vendor-specific fields merged into every request body (e.g. `{ top_k: 1 }`). */
    extraBody?: Record<string, unknown>;
}

const MAX_ERROR_BODY = 64 * 1024;
const MAX_RESPONSE_BODY = 64 * 1024 * 1024;

/** A failure before any byte of a response arrived: the only kind that is retried. */
class RetryableFailure extends Error {
    constructor(
        readonly reason: string,
        readonly cause: unknown,
    ) {
        super(reason);
    }
}

/**
 * Forwards chat completions to an OpenAI-compatible server (vLLM, SGLang, llama.cpp server,
 * Ollama), streaming or not, and maps the usage each of them reports (prompt, completion,
 * cached prompt and reasoning tokens) onto one shape.
 */
export class OpenAICompatibleEngine implements InferenceEngine {
    readonly kind = 'openai-compatible' as const;
    private closed = false;
    private readonly agent: http.Agent;
    private readonly url: URL;

    private constructor(
        private readonly options: Required<Omit<OpenAICompatibleOptions, 'apiKey' | 'defaultMaxTokens' | 'extraBody' | 'identity'>> &
            Pick<OpenAICompatibleOptions, 'apiKey' | 'defaultMaxTokens' | 'extraBody'>,
        readonly manifest: ModelManifest,
    ) {
        this.url = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
        this.agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    }

    get model(): string {
        return this.options.model;
    }

    get modelHash(): string {
        return this.manifest.hash;
    }

    /** Computes the declared model identity and returns the engine (no request is sent yet). */
    static async create(options: OpenAICompatibleOptions): Promise<OpenAICompatibleEngine> {
        if (!options || typeof options.baseUrl !== 'string') throw new InvalidRequestError('options.baseUrl is required, e.g. http://127.0.0.1:8000/v1');
        let url: URL;
        try {
            url = new URL(options.baseUrl);
        } catch {
            throw new InvalidRequestError(`baseUrl ${JSON.stringify(options.baseUrl)} is not a URL; expected e.g. http://127.0.0.1:8000/v1`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidRequestError(`baseUrl must be http or https, got ${url.protocol}`);
        if (typeof options.model !== 'string' || options.model === '') throw new InvalidRequestError('options.model must name the model the server serves');
        for (const key of ['requestTimeoutMs', 'idleTimeoutMs', 'connectTimeoutMs', 'retryDelayMs', 'maxPromptChars', 'defaultMaxTokens'] as const) {
            const v = options[key];
            if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) throw new InvalidRequestError(`${key} must be a positive integer, got ${String(v)}`);
        }
        if (options.maxRetries !== undefined && !(Number.isSafeInteger(options.maxRetries) && options.maxRetries >= 0)) {
            throw new InvalidRequestError(`maxRetries must be a non-negative integer, got ${String(options.maxRetries)}`);
        }
        const identity = options.identity as Partial<{ modelDir: string; manifestFile: string }> | undefined;
        let manifest: ModelManifest;
        if (identity?.modelDir) manifest = await computeManifest(identity.modelDir);
        else if (identity?.manifestFile) manifest = await readManifest(identity.manifestFile);
        else {
            throw new InvalidRequestError(
                'identity must declare the model the server loads: { modelDir } (the folder it was started with) or { manifestFile }',
            );
        }
        return new OpenAICompatibleEngine(
            {
                baseUrl: options.baseUrl,
                model: options.model,
                apiKey: options.apiKey,
                stream: options.stream ?? 'auto',
                requestTimeoutMs: options.requestTimeoutMs ?? 10 * 60_000,
                idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
                connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
                maxRetries: options.maxRetries ?? 2,
                retryDelayMs: options.retryDelayMs ?? 250,
                maxPromptChars: options.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS,
                defaultMaxTokens: options.defaultMaxTokens,
                extraBody: options.extraBody,
            },
            manifest,
        );
    }

    /** Model ids the server lists at GET /models. */
    async listModels(): Promise<string[]> {
        const body = await this.requestJson('GET', 'models', undefined);
        const data = (body as { data?: unknown }).data;
        if (!Array.isArray(data)) throw new BackendProtocolError(`${this.endpoint('models')} answered without a "data" list`);
        return data.map((m) => (m as { id?: unknown }).id).filter((id): id is string => typeof id === 'string');
    }

    /** Refuses (ModelNotFoundError) when the server does not list the configured model. */
    async assertModelServed(): Promise<void> {
        const ids = await this.listModels();
        if (!ids.includes(this.model)) {
            throw new ModelNotFoundError(`the server at ${this.options.baseUrl} does not serve "${this.model}" (it lists: ${ids.join(', ') || 'nothing'})`);
        }
    }

    async complete(request: CompletionRequest): Promise<CompletionResult> {
        if (this.closed) throw new EngineClosedError();
        const startedAt = Date.now();
        const { stop } = validateRequest(request, { maxPromptChars: this.options.maxPromptChars });
        const timeoutMs = request.timeoutMs ?? this.options.requestTimeoutMs;
        const deadline = startedAt + timeoutMs;
        const stream = this.options.stream === 'always' || (this.options.stream === 'auto' && request.onToken !== undefined);
        const maxTokens = request.maxTokens ?? this.options.defaultMaxTokens;
        const body = JSON.stringify({
            ...this.options.extraBody,
            model: this.model,
            messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
            // Greedy unless asked otherwise, like the embedded engine (servers default to sampling).
            temperature: request.temperature ?? 0,
            ...(request.topP !== undefined ? { top_p: request.topP } : {}),
            ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
            ...(stop.length > 0 ? { stop } : {}),
            stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
        });

        for (let attempt = 0; ; attempt++) {
            try {
                return await this.attempt(body, stream, request, deadline, timeoutMs);
            } catch (e) {
                if (!(e instanceof RetryableFailure)) throw e;
                const delay = this.options.retryDelayMs * 2 ** attempt;
                if (attempt >= this.options.maxRetries || request.signal?.aborted || Date.now() + delay >= deadline) {
                    if (request.signal?.aborted) return this.cancelled('', 0);
                    throw new BackendUnreachableError(
                        `cannot reach the inference server at ${this.endpoint('chat/completions')} (${e.reason}) after ${attempt + 1} attempt(s): ` +
                            'check that it is running and the baseUrl is right',
                        { cause: e.cause },
                    );
                }
                await sleep(delay);
            }
        }
    }

    async close(): Promise<void> {
        this.closed = true;
        this.agent.destroy();
    }

    private endpoint(path: string): string {
        return new URL(path, this.url).toString();
    }

    private cancelled(text: string, chunks: number, reasoning?: string): CompletionResult {
        return {
            text,
            ...(reasoning ? { reasoning } : {}),
            finishReason: 'cancelled',
            usage: { promptTokens: 0, completionTokens: chunks, totalTokens: chunks, source: 'estimated' },
            model: this.model,
            modelHash: this.modelHash,
        };
    }

    /**
     * One HTTP exchange. Rejects with RetryableFailure only while no byte of a response has
     * arrived; everything after that is final.
     */
    private attempt(body: string, stream: boolean, request: CompletionRequest, deadline: number, timeoutMs: number): Promise<CompletionResult> {
        const url = this.endpoint('chat/completions');
        return new Promise<CompletionResult>((resolve, reject) => {
            let settled = false;
            let responded = false;
            const partial = { text: '', reasoning: '', chunks: 0 };
            const timers: NodeJS.Timeout[] = [];
            let idle: NodeJS.Timeout | undefined;
            const finish = (fn: () => void) => {
                if (settled) return;
                settled = true;
                timers.forEach(clearTimeout);
                if (idle) clearTimeout(idle);
                request.signal?.removeEventListener('abort', onAbort);
                fn();
            };
            const fail = (e: unknown) => finish(() => reject(e));

            const req = (this.url.protocol === 'https:' ? https : http).request(url, {
                method: 'POST',
                agent: this.agent,
                headers: {
                    'content-type': 'application/json',
                    accept: stream ? 'text/event-stream' : 'application/json',
                    'content-length': Buffer.byteLength(body),
                    ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
                },
            });

            const onAbort = () => {
                finish(() => resolve(this.cancelled(partial.text, partial.chunks, partial.reasoning)));
                req.destroy();
            };
            if (request.signal?.aborted) return onAbort();
            request.signal?.addEventListener('abort', onAbort, { once: true });

            timers.push(
                setTimeout(() => {
                    fail(
                        new InferenceTimeoutError(`the inference server did not finish within ${timeoutMs} ms`, {
                            text: partial.text,
                            completionTokens: partial.chunks,
                        }),
                    );
                    req.destroy();
                }, Math.max(0, deadline - Date.now())),
            );

            req.on('socket', (socket) => {
                if (!socket.connecting) return;
                const t = setTimeout(() => {
                    fail(new RetryableFailure(`no connection within ${this.options.connectTimeoutMs} ms`, undefined));
                    req.destroy();
                }, this.options.connectTimeoutMs);
                timers.push(t);
                socket.once('connect', () => clearTimeout(t));
            });

            req.on('error', (e: NodeJS.ErrnoException) => {
                // After the response started, a broken connection is reported by the response's
                // 'close' handling (truncated stream / incomplete body), never retried.
                if (!settled && !responded) fail(new RetryableFailure(e.code ?? e.message, e));
            });

            req.on('response', (res) => {
                responded = true;
                res.setEncoding('utf8');
                // Silence after the response has started means a stuck server.
                const touch = () => {
                    if (settled) return;
                    if (idle) clearTimeout(idle);
                    idle = setTimeout(() => {
                        fail(
                            new InferenceTimeoutError(`the inference server sent nothing for ${this.options.idleTimeoutMs} ms`, {
                                text: partial.text,
                                completionTokens: partial.chunks,
                            }),
                        );
                        req.destroy();
                    }, this.options.idleTimeoutMs);
                };
                touch();
                res.on('error', () => undefined); // reported through 'close' / aborted below

                const status = res.statusCode ?? 0;
                const contentType = String(res.headers['content-type'] ?? '');
                if (status < 200 || status > 299) {
                    return collect(res, MAX_ERROR_BODY, touch, (text) => fail(this.statusError(status, text)));
                }
                if (!stream) {
                    return collect(
                        res,
                        MAX_RESPONSE_BODY,
                        touch,
                        (text, complete) => {
                            if (!complete) return fail(new BackendProtocolError(`the response from ${url} ended before its body was complete`));
                            try {
                                const result = this.parseCompletion(text, contentType);
                                finish(() => resolve(result));
                            } catch (e) {
                                fail(e);
                            }
                        },
                    );
                }
                if (!contentType.includes('text/event-stream')) {
                    return collect(res, MAX_ERROR_BODY, touch, () =>
                        fail(new BackendProtocolError(`asked ${url} for a stream but it answered with content-type "${contentType}"`)),
                    );
                }

                const parser = new StreamState(request, partial, url);
                let buffer = '';
                res.on('data', (piece: string) => {
                    if (settled) return;
                    touch();
                    buffer += piece;
                    let newline: number;
                    try {
                        while ((newline = buffer.search(/\r\n|\n|\r/)) !== -1) {
                            const line = buffer.slice(0, newline);
                            buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
                            parser.line(line);
                            if (parser.done) {
                                // The connection stays open for reuse; the server ends the response.
                                const result = this.streamResult(parser);
                                finish(() => resolve(result));
                                return;
                            }
                        }
                    } catch (e) {
                        fail(e);
                        req.destroy();
                    }
                });
                res.on('close', () => {
                    if (settled) return;
                    if (buffer !== '') {
                        try {
                            parser.line(buffer);
                            parser.line('');
                        } catch (e) {
                            return fail(e);
                        }
                        if (parser.done) {
                            try {
                                const result = this.streamResult(parser);
                                return finish(() => resolve(result));
                            } catch (e) {
                                return fail(e);
                            }
                        }
                    }
                    fail(
                        new TruncatedStreamError(
                            `the stream from ${url} ended after ${partial.chunks} chunk(s) without "data: [DONE]": the server stopped or the connection broke`,
                            { text: partial.text, chunks: partial.chunks },
                        ),
                    );
                });
            });

            req.end(body);
        });
    }

    private statusError(status: number, text: string): InferenceError {
        let detail = text.trim().slice(0, 500);
        try {
            const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
            const m = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message ?? parsed.message ?? parsed.detail;
            if (typeof m === 'string') detail = m;
        } catch {
            // not JSON: keep the text excerpt
        }
        if (status === 404 && /model/i.test(detail)) {
            return new ModelNotFoundError(`the server at ${this.options.baseUrl} does not serve "${this.model}" (HTTP 404: ${detail})`);
        }
        const hint =
            status === 401 || status === 403
                ? 'check apiKey'
                : status === 404
                  ? 'check that baseUrl ends in /v1'
                  : status >= 500
                    ? 'the server failed; see its logs'
                    : 'the server refused the request';
        return new BackendHttpError(status, text.slice(0, 2000), `the inference server answered HTTP ${status}: ${detail || '(empty body)'} (${hint})`);
    }

    private parseCompletion(text: string, contentType: string): CompletionResult {
        let body: Record<string, unknown>;
        try {
            body = JSON.parse(text) as Record<string, unknown>;
        } catch (e) {
            throw new BackendProtocolError(
                `the inference server's answer is not valid JSON (content-type "${contentType}"): ${JSON.stringify(text.slice(0, 200))}`,
                { cause: e },
            );
        }
        if (!body || typeof body !== 'object') throw new BackendProtocolError('the inference server answered with something other than a JSON object');
        const choice = Array.isArray(body.choices) ? (body.choices[0] as Record<string, unknown> | undefined) : undefined;
        const message = choice?.message as Record<string, unknown> | undefined;
        if (!message || typeof message !== 'object') throw new BackendProtocolError('the inference server answered without choices[0].message');
        const content = message.content ?? '';
        if (typeof content !== 'string') throw new BackendProtocolError('choices[0].message.content is not a string');
        const reasoning = readReasoning(message);
        const usage = mapUsage(body.usage, body.timings);
        if (!usage) throw new BackendProtocolError('the inference server answered without a usage block: token counts are needed for billing');
        return {
            text: content,
            ...(reasoning ? { reasoning } : {}),
            finishReason: mapFinishReason(choice?.finish_reason),
            usage,
            model: this.model,
            modelHash: this.modelHash,
        };
    }

    private streamResult(state: StreamState): CompletionResult {
        if (!state.usage) {
            throw new BackendProtocolError(
                'the stream ended without a usage chunk although stream_options.include_usage was sent: token counts are needed for billing',
            );
        }
        return {
            text: state.partial.text,
            ...(state.partial.reasoning ? { reasoning: state.partial.reasoning } : {}),
            finishReason: mapFinishReason(state.finishReason),
            usage: state.usage,
            model: this.model,
            modelHash: this.modelHash,
        };
    }

    private async requestJson(method: string, path: string, body: unknown): Promise<unknown> {
        const url = this.endpoint(path);
        const payload = body === undefined ? undefined : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const req = (this.url.protocol === 'https:' ? https : http).request(url, {
                method,
                agent: this.agent,
                timeout: this.options.idleTimeoutMs,
                headers: {
                    accept: 'application/json',
                    ...(payload ? { 'content-type': 'application/json' } : {}),
                    ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
                },
            });
            req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.idleTimeoutMs} ms`)));
            req.on('error', (e: NodeJS.ErrnoException) =>
                reject(new BackendUnreachableError(`cannot reach the inference server at ${url} (${e.code ?? e.message})`, { cause: e })),
            );
            req.on('response', (res) => {
                res.setEncoding('utf8');
                collect(res, MAX_ERROR_BODY, () => undefined, (text) => {
                    const status = res.statusCode ?? 0;
                    if (status < 200 || status > 299) return reject(this.statusError(status, text));
                    try {
                        resolve(JSON.parse(text));
                    } catch (e) {
                        reject(new BackendProtocolError(`${url} answered with invalid JSON`, { cause: e }));
                    }
                });
            });
            req.end(payload);
        });
    }
}

/** Parses SSE lines into the answer, reasoning, finish reason and usage. */
class StreamState {
    done = false;
    finishReason: unknown = null;
    usage: Usage | undefined;
    private data: string[] = [];

    constructor(
        private readonly request: CompletionRequest,
        readonly partial: { text: string; reasoning: string; chunks: number },
        private readonly url: string,
    ) {}

    line(line: string): void {
        if (this.done) return;
        if (line === '') return this.dispatch();
        if (line.startsWith(':')) return; // SSE comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') this.data.push(value);
        // `event:`, `id:` and `retry:` carry nothing we need.
    }

    private dispatch(): void {
        if (this.data.length === 0) return;
        const payload = this.data.join('\n');
        this.data = [];
        if (payload.trim() === '[DONE]') {
            this.done = true;
            return;
        }
        let chunk: Record<string, unknown>;
        try {
            chunk = JSON.parse(payload) as Record<string, unknown>;
        } catch (e) {
            throw new BackendProtocolError(`the stream from ${this.url} carried an event that is not JSON: ${JSON.stringify(payload.slice(0, 200))}`, {
                cause: e,
            });
        }
        if (chunk === null || typeof chunk !== 'object') throw new BackendProtocolError(`the stream from ${this.url} carried a non-object event`);
        if (chunk.error !== undefined) {
            const err = chunk.error as { message?: unknown } | string;
            const message = typeof err === 'string' ? err : typeof err?.message === 'string' ? err.message : JSON.stringify(err);
            throw new BackendProtocolError(`the inference server reported an error mid-stream: ${message}`);
        }
        const usage = mapUsage(chunk.usage, chunk.timings);
        if (usage) this.usage = usage;
        if (!Array.isArray(chunk.choices)) throw new BackendProtocolError(`a chunk from ${this.url} has no choices list`);
        const choice = chunk.choices[0] as Record<string, unknown> | undefined;
        if (!choice) return; // the usage-only final chunk
        if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.finishReason = choice.finish_reason;
        const delta = (choice.delta ?? {}) as Record<string, unknown>;
        const reasoning = readReasoning(delta);
        if (reasoning) {
            this.partial.reasoning += reasoning;
            this.partial.chunks++;
        }
        const content = delta.content;
        if (content !== undefined && content !== null && typeof content !== 'string') {
            throw new BackendProtocolError(`a chunk from ${this.url} has a non-string delta.content`);
        }
        if (typeof content === 'string' && content !== '') {
            this.partial.text += content;
            this.partial.chunks++;
            this.request.onToken?.({ text: content, completionTokens: this.partial.chunks });
        }
    }
}

/** Reasoning text: `reasoning` (vLLM ≥ late 2025, Ollama) or `reasoning_content` (SGLang, llama.cpp, older vLLM). */
function readReasoning(obj: Record<string, unknown>): string {
    const r = obj.reasoning ?? obj.reasoning_content;
    return typeof r === 'string' ? r : '';
}

function mapFinishReason(reason: unknown): FinishReason {
    if (reason === 'length') return 'length';
    if (reason === 'abort' || reason === 'cancelled') return 'cancelled';
    return 'stop';
}

function count(value: unknown, what: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new BackendProtocolError(`usage field ${what} is not a non-negative integer: ${JSON.stringify(value)}`);
    }
    return value;
}

/**
 * Maps the usage block of vLLM, SGLang, llama.cpp and Ollama onto one shape (feasibility.md §3):
 * cached prompt tokens from `usage.prompt_tokens_details.cached_tokens`, else llama.cpp's
 * `timings.cache_n`; reasoning tokens from `usage.completion_tokens_details.reasoning_tokens`,
 * else SGLang's `usage.reasoning_tokens`. Every detail field may be absent or null.
 */
export function mapUsage(usage: unknown, timings?: unknown): Usage | undefined {
    if (usage === undefined || usage === null) return undefined;
    if (typeof usage !== 'object') throw new BackendProtocolError(`usage is not an object: ${JSON.stringify(usage)}`);
    const u = usage as Record<string, unknown>;
    const promptTokens = count(u.prompt_tokens, 'prompt_tokens');
    const completionTokens = count(u.completion_tokens, 'completion_tokens');
    if (promptTokens === undefined || completionTokens === undefined) {
        throw new BackendProtocolError('usage lacks prompt_tokens or completion_tokens');
    }
    const promptDetails = (u.prompt_tokens_details ?? {}) as Record<string, unknown>;
    const completionDetails = (u.completion_tokens_details ?? {}) as Record<string, unknown>;
    const t = (timings ?? {}) as Record<string, unknown>;
    const cached = count(promptDetails.cached_tokens, 'prompt_tokens_details.cached_tokens') ?? count(t.cache_n, 'timings.cache_n');
    const reasoning = count(completionDetails.reasoning_tokens, 'completion_tokens_details.reasoning_tokens') ?? count(u.reasoning_tokens, 'reasoning_tokens');
    return {
        promptTokens,
        completionTokens,
        totalTokens: count(u.total_tokens, 'total_tokens') ?? promptTokens + completionTokens,
        ...(cached !== undefined ? { cachedPromptTokens: cached } : {}),
        ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {}),
        source: 'reported',
    };
}

/** Reads a response body up to `limit` characters; `complete` is false when the connection broke first. */
function collect(res: http.IncomingMessage, limit: number, touch: () => void, done: (text: string, complete: boolean) => void): void {
    let text = '';
    let ended = false;
    res.on('data', (piece: string) => {
        touch();
        if (text.length < limit) text += piece;
    });
    res.on('end', () => {
        ended = true;
    });
    res.on('close', () => done(text, ended && res.complete));
}

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

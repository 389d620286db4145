import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { ChatMessage, ChatRequest, ChatResult, CocoonClient } from './client';
import {
    ChannelError,
    CocoonClientError,
    InsufficientDepositError,
    InvalidChatRequestError,
    NoWorkerAvailableError,
    OnChainJobError,
    ReceiptRejectedError,
    UnknownModelError,
    WorkerRequestError,
    WorkerUnreachableError,
} from './errors';

/**
 * The OpenAI-compatible API of the client (`cocoon client serve`, or `startClientServer`):
 * `POST /v1/chat/completions` (streaming and not) and `GET /v1/models` on 127.0.0.1, so code
 * written for OpenAI (an SDK, a Telegram bot) works by changing its base URL. Each completion is
 * a Cocoon job: sealed to an attested enclave, paid by voucher, its usage carrying the cost in
 * nanoTON. Errors are OpenAI-style bodies `{error: {message, type, param, code}}`.
 */
export interface ClientServerOptions {
    client: Pick<CocoonClient, 'chat' | 'listModels'>;
    /** Interface to listen on (default 127.0.0.1). */
    host?: string;
    /** Port (default 8787; 0 picks a free one). */
    port?: number;
    /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
    apiKey?: string;
    /** Largest request body, bytes (default 1 MiB). */
    maxBodyBytes?: number;
    /** Time a client has to send its whole request, ms (default 30 000). */
    requestTimeoutMs?: number;
    /** Time to send the request headers, ms (default 10 000). */
    headersTimeoutMs?: number;
    /** Completions served at once; more get 429 (default 8). */
    maxConcurrent?: number;
    log?: (entry: Record<string, unknown>) => void;
}

export interface ClientServer {
    url: string;
    port: number;
    server: Server;
    close(): Promise<void>;
}

type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'insufficient_quota' | 'api_error' | 'server_error' | 'service_unavailable';

export class HttpError extends Error {
    constructor(
        readonly status: number,
        readonly type: ErrorType,
        readonly code: string,
        message: string,
        readonly param: string | null = null,
    ) {
        super(message);
        this.name = 'HttpError';
    }
}

/** Maps an SDK error to the OpenAI-style status and body. */
export function httpErrorOf(error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    if (error instanceof InvalidChatRequestError) return new HttpError(400, 'invalid_request_error', 'invalid_request', error.message);
    if (error instanceof UnknownModelError) return new HttpError(404, 'invalid_request_error', 'model_not_found', error.message, 'model');
    if (error instanceof InsufficientDepositError) return new HttpError(429, 'insufficient_quota', 'insufficient_deposit', error.message);
    if (error instanceof WorkerRequestError) {
        if (error.status === 429) return new HttpError(429, 'rate_limit_error', 'worker_busy', error.message);
        if (error.status === 400 || error.status === 413) return new HttpError(error.status, 'invalid_request_error', error.workerCode, error.message);
        return new HttpError(502, 'api_error', error.workerCode === 'payment_required' ? 'worker_payment_required' : 'worker_error', error.message);
    }
    if (error instanceof ReceiptRejectedError) return new HttpError(502, 'api_error', 'receipt_rejected', error.message);
    if (error instanceof OnChainJobError) return new HttpError(502, 'api_error', `onchain_${error.reason}`, error.message);
    if (error instanceof WorkerUnreachableError) return new HttpError(502, 'api_error', 'worker_unreachable', error.message);
    if (error instanceof NoWorkerAvailableError) return new HttpError(503, 'service_unavailable', 'no_worker', error.message);
    if (error instanceof ChannelError) return new HttpError(503, 'service_unavailable', 'channel', error.message);
    if (error instanceof CocoonClientError) return new HttpError(500, 'server_error', error.code, error.message);
    return new HttpError(500, 'server_error', 'internal', 'internal error; see the client server log');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
    sendJson(res, error.status, { error: { message: error.message, type: error.type, param: error.param, code: error.code } }, error.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
            reject(new HttpError(413, 'invalid_request_error', 'request_too_large', `the request body is ${declared} bytes; at most ${maxBytes} are accepted`));
            return;
        }
        const parts: Buffer[] = [];
        let total = 0;
        let done = false;
        req.on('data', (chunk: Buffer) => {
            if (done) return;
            total += chunk.length;
            if (total > maxBytes) {
                done = true;
                reject(new HttpError(413, 'invalid_request_error', 'request_too_large', `the request body is larger than ${maxBytes} bytes`));
                req.resume();
                return;
            }
            parts.push(chunk);
        });
        req.on('end', () => {
            if (!done) {
                done = true;
                resolve(Buffer.concat(parts));
            }
        });
        req.on('error', (error) => {
            if (!done) {
                done = true;
                reject(error);
            }
        });
    });
}

/** Text of an OpenAI message content: a string, or an array of `{type: "text", text}` parts. */
function contentText(content: unknown, index: number): string {
    if (typeof content === 'string') return content;
    if (content === null || content === undefined) return '';
    if (Array.isArray(content)) {
        return content
            .map((part, j) => {
                if (part && typeof part === 'object' && (part as { type?: unknown }).type === 'text' && typeof (part as { text?: unknown }).text === 'string') {
                    return (part as { text: string }).text;
                }
                throw new HttpError(400, 'invalid_request_error', 'unsupported_content', `messages[${index}].content[${j}]: only text parts are supported`, `messages[${index}].content`);
            })
            .join('');
    }
    throw new HttpError(400, 'invalid_request_error', 'invalid_request', `messages[${index}].content must be a string or an array of text parts`, `messages[${index}].content`);
}

interface ParsedCompletion {
    request: Omit<ChatRequest, 'onDelta' | 'signal'>;
    stream: boolean;
    includeUsage: boolean;
}

/** Validates an OpenAI chat completion request body; unknown sampling options are accepted and ignored. */
export function parseCompletionRequest(body: unknown): ParsedCompletion {
    const bad = (message: string, param: string | null = null) => new HttpError(400, 'invalid_request_error', 'invalid_request', message, param);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('the body must be a JSON object');
    const o = body as Record<string, unknown>;
    if (typeof o.model !== 'string' || o.model.trim() === '') throw bad('model is required (a model id from GET /v1/models)', 'model');
    if (!Array.isArray(o.messages) || o.messages.length === 0) throw bad('messages must be a non-empty array', 'messages');
    const messages: ChatMessage[] = o.messages.map((m, i) => {
        if (!m || typeof m !== 'object') throw bad(`messages[${i}] must be an object`, `messages[${i}]`);
        const { role, content } = m as Record<string, unknown>;
        if (typeof role !== 'string' || role.trim() === '') throw bad(`messages[${i}].role must be a non-empty string`, `messages[${i}].role`);
        return { role, content: contentText(content, i) };
    });
    const maxTokens = o.max_completion_tokens ?? o.max_tokens;
    if (maxTokens !== undefined && maxTokens !== null && !(typeof maxTokens === 'number' && Number.isSafeInteger(maxTokens) && maxTokens > 0)) {
        throw bad('max_tokens must be a positive integer', o.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens');
    }
    if (o.n !== undefined && o.n !== null && o.n !== 1) throw bad('only n = 1 is supported', 'n');
    let stop: string[] | undefined;
    if (o.stop !== undefined && o.stop !== null) {
        const list = typeof o.stop === 'string' ? [o.stop] : o.stop;
        if (!Array.isArray(list) || list.length > 16 || list.some((s) => typeof s !== 'string' || s === '')) throw bad('stop must be a string or an array of at most 16 strings', 'stop');
        stop = list as string[];
    }
    if (o.stream !== undefined && o.stream !== null && typeof o.stream !== 'boolean') throw bad('stream must be a boolean', 'stream');
    const streamOptions = o.stream_options as { include_usage?: unknown } | undefined | null;
    return {
        request: { model: o.model.trim(), messages, ...(typeof maxTokens === 'number' ? { max_tokens: maxTokens } : {}), ...(stop ? { stop } : {}) },
        stream: o.stream === true,
        includeUsage: !!streamOptions && streamOptions.include_usage === true,
    };
}

function usageOf(result: ChatResult) {
    return {
        prompt_tokens: result.usage.promptTokens,
        completion_tokens: result.usage.completionTokens,
        total_tokens: result.usage.totalTokens,
        cost_nanoton: result.usage.cost.toString(),
    };
}

function cocoonOf(result: ChatResult) {
    return {
        worker: result.worker.toString(),
        channel: result.channel.toString(),
        seq: result.seq.toString(),
        path: result.path,
        model_hash: result.modelHash,
        cost_nanoton: result.usage.cost.toString(),
        ...(result.voucherCumulative !== undefined ? { voucher_cumulative_nanoton: result.voucherCumulative.toString() } : {}),
    };
}

function sameSecret(given: string, expected: string): boolean {
    const a = createHash('sha256').update(given).digest();
    const b = createHash('sha256').update(expected).digest();
    return timingSafeEqual(a, b);
}

export async function startClientServer(options: ClientServerOptions): Promise<ClientServer> {
    const host = options.host ?? '127.0.0.1';
    const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    const maxConcurrent = options.maxConcurrent ?? 8;
    let active = 0;
    const sockets = new Set<Socket>();

    const completions = async (req: IncomingMessage, res: ServerResponse) => {
        const raw = await readBody(req, maxBodyBytes);
        let body: unknown;
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch {
            throw new HttpError(400, 'invalid_request_error', 'invalid_json', 'the request body is not valid JSON');
        }
        const parsed = parseCompletionRequest(body);
        if (active >= maxConcurrent) throw new HttpError(429, 'rate_limit_error', 'too_many_requests', `at most ${maxConcurrent} completions at once; retry shortly`);
        active++;
        const controller = new AbortController();
        const onClose = () => {
            if (!res.writableEnded) controller.abort();
        };
        res.on('close', onClose);
        try {
            const created = Math.floor(Date.now() / 1000);
            if (!parsed.stream) {
                const result = await options.client.chat({ ...parsed.request, signal: controller.signal });
                sendJson(res, 200, {
                    id: result.id,
                    object: 'chat.completion',
                    created,
                    model: result.model,
                    choices: [{ index: 0, message: { role: 'assistant', content: result.content }, logprobs: null, finish_reason: result.finishReason }],
                    usage: usageOf(result),
                    system_fingerprint: null,
                    cocoon: cocoonOf(result),
                });
                return;
            }
            // Streaming: headers go out with the first piece, so an error before it is still a proper status.
            let id = `chatcmpl-${created}`;
            let model = parsed.request.model;
            const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
                `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
            const start = () => {
                if (res.headersSent) return;
                res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
                res.write(chunk({ role: 'assistant', content: '' }, null));
            };
            let result: ChatResult;
            try {
                result = await options.client.chat({
                    ...parsed.request,
                    signal: controller.signal,
                    onDelta: (delta) => {
                        start();
                        res.write(chunk({ content: delta }, null));
                    },
                });
            } catch (error) {
                if (!res.headersSent) throw error;
                const http = httpErrorOf(error);
                res.write(`data: ${JSON.stringify({ error: { message: http.message, type: http.type, param: null, code: http.code } })}\n\n`);
                res.end();
                return;
            }
            id = result.id;
            model = result.model;
            start();
            res.write(chunk({}, result.finishReason, { usage: usageOf(result), cocoon: cocoonOf(result) }));
            if (parsed.includeUsage) {
                res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [], usage: usageOf(result) })}\n\n`);
            }
            res.end('data: [DONE]\n\n');
        } finally {
            active--;
            res.off('close', onClose);
        }
    };

    const models = async (res: ServerResponse, id?: string) => {
        const offers = await options.client.listModels();
        const entry = (m: (typeof offers)[number]) => ({
            id: m.id,
            object: 'model',
            created: 0,
            owned_by: 'cocoon',
            cocoon: { hash: m.hash, workers: m.workers, prompt_price_nanoton: m.promptPrice.toString(), completion_price_nanoton: m.completionPrice.toString() },
        });
        if (id === undefined) {
            sendJson(res, 200, { object: 'list', data: offers.map(entry) });
            return;
        }
        const found = offers.find((m) => m.id === id || m.hash === id);
        if (!found) throw new HttpError(404, 'not_found_error', 'model_not_found', `model "${id}" is not offered by any verified worker`, 'model');
        sendJson(res, 200, entry(found));
    };

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const path = url.pathname.replace(/\/+$/, '') || '/';
        if (options.apiKey !== undefined) {
            const auth = req.headers.authorization ?? '';
            const match = /^Bearer\s+(.+)$/i.exec(auth);
            if (!match || !sameSecret(match[1].trim(), options.apiKey)) {
                req.resume();
                throw new HttpError(401, 'authentication_error', 'invalid_api_key', 'missing or wrong API key: send Authorization: Bearer <key> (the key `cocoon client serve` was started with)');
            }
        }
        if (path === '/v1/chat/completions') {
            if (req.method !== 'POST') throw new HttpError(404, 'invalid_request_error', 'unknown_url', `${req.method} ${path} does not exist; use POST`);
            await completions(req, res);
            return;
        }
        req.resume();
        if (req.method === 'GET' && path === '/v1/models') return models(res);
        if (req.method === 'GET' && path.startsWith('/v1/models/')) return models(res, decodeURIComponent(path.slice('/v1/models/'.length)));
        if (req.method === 'GET' && (path === '/health' || path === '/healthz')) return sendJson(res, 200, { status: 'ok' });
        throw new HttpError(404, 'invalid_request_error', 'unknown_url', `${req.method} ${path} does not exist (this server has POST /v1/chat/completions and GET /v1/models)`);
    };

    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    // Node checks request timeouts on this interval (30 s by default): check often enough to enforce the limit.
    const server = createServer({ connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeoutMs / 2))) }, (req, res) => {
        const started = Date.now();
        res.on('finish', () => options.log?.({ event: 'client-http', method: req.method, path: req.url, status: res.statusCode, ms: Date.now() - started }));
        handle(req, res).catch((error) => {
            const http = httpErrorOf(error);
            if (http.status === 500) options.log?.({ event: 'client-http-error', error: (error as Error)?.stack ?? String(error) });
            if (res.headersSent) {
                res.end();
                return;
            }
            // After refusing a body, close the connection rather than read the rest of it.
            if (http.status === 413) res.setHeader('connection', 'close');
            sendError(res, http);
        });
    });
    server.requestTimeout = requestTimeoutMs;
    server.headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeoutMs);
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
        // Malformed HTTP, or a client too slow to send its request (timeouts): answer and close.
        if (!socket.writable) return socket.destroy();
        const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
        const body = JSON.stringify({ error: { message: status === 408 ? 'the request was not received in time' : 'malformed HTTP request', type: 'invalid_request_error', param: null, code: status === 408 ? 'request_timeout' : 'bad_request' } });
        socket.end(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 8787, host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return {
        url: `http://${shownHost}:${port}`,
        port,
        server,
        close: async () => {
            await new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeIdleConnections();
                setTimeout(() => {
                    for (const s of sockets) s.destroy();
                }, 2_000).unref();
            });
        },
    };
}

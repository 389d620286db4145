import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ApiError, JournalUnwritableError } from './errors';
import { Logger } from './logger';
import { WorkerMetrics } from './metrics';

/**
 * The HTTP transport of docs/worker-api.md on 127.0.0.1 (by default): routing, body size limits
 * and timeouts on every endpoint, JSON errors `{ error: { code, message } }` with the documented
 * status for anything malformed or oversized, and server-sent events for streaming jobs. The
 * endpoints' logic lives in the handlers.
 */
export type JobAnswer = Record<string, unknown>;

/** A job admitted for running, or the journalled answer of a repeat. */
export type PreparedJob =
    | { kind: 'repeat'; answer: JobAnswer }
    | {
          kind: 'run';
          /** Runs the job; `onChunk` receives each streamed piece's index and sealed envelope (base64). */
          execute(onChunk?: (index: number, envelope: string) => void): Promise<JobAnswer>;
      };

export interface ApiHandlers {
    attestation(): Promise<unknown> | unknown;
    prepareJob(body: unknown): Promise<PreparedJob>;
    voucher(body: unknown): Promise<unknown>;
    result(channel: string, seq: string): Promise<unknown> | unknown;
    health(): unknown;
    metrics(): string;
}

export interface HttpServerOptions {
    host: string;
    port: number;
    /** Largest request body of POST /v1/jobs. */
    maxBodyBytes: number;
    /** Largest request body of POST /v1/vouchers. */
    maxVoucherBytes?: number;
    /** Time allowed to receive a whole request (headers and body). */
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    handlers: ApiHandlers;
    metrics: WorkerMetrics;
    log: Logger;
}

export interface WorkerHttpServer {
    url: string;
    port: number;
    server: Server;
    /** Stops accepting connections; closes idle ones now and the rest after `graceMs`. */
    close(graceMs?: number): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
}

export function errorBody(code: string, message: string) {
    return { error: { code, message } };
}

function sendError(res: ServerResponse, error: ApiError, extraHeaders: Record<string, string> = {}): void {
    sendJson(res, error.status, errorBody(error.code, error.message), { ...error.headers, ...extraHeaders });
}

/** Reads a body up to `limit` bytes; throws ApiError too_large past it (the connection is then closed). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = req.headers['content-length'];
    if (declared !== undefined) {
        const length = Number(declared);
        if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new ApiError('bad_request', `Content-Length ${JSON.stringify(declared)} is not a byte count`));
        if (length > limit) return Promise.reject(new ApiError('too_large', `the request body is ${length} bytes; this endpoint takes at most ${limit}`));
    }
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        const finish = (error?: Error) => {
            if (done) return;
            done = true;
            req.off('data', onData);
            if (error) reject(error);
            else resolve(Buffer.concat(chunks, size));
        };
        const onData = (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
                finish(new ApiError('too_large', `the request body exceeds ${limit} bytes, the most this endpoint takes`));
                return;
            }
            chunks.push(chunk);
        };
        req.on('data', onData);
        req.once('end', () => finish());
        req.once('error', (error) => finish(new ApiError('bad_request', `the request body could not be read: ${error.message}`)));
        req.once('aborted', () => finish(new ApiError('bad_request', 'the client aborted the request')));
    });
}

function parseJson(body: Buffer): unknown {
    if (body.length === 0) throw new ApiError('bad_request', 'the request body is empty; send a JSON object');
    try {
        return JSON.parse(body.toString('utf8'));
    } catch (error) {
        throw new ApiError('bad_request', `the request body is not valid JSON: ${(error as Error).message}`);
    }
}

interface Route {
    method: 'GET' | 'POST';
    pattern: RegExp;
    name: string;
}

const ROUTES: Route[] = [
    { method: 'GET', pattern: /^\/v1\/attestation$/, name: 'attestation' },
    { method: 'POST', pattern: /^\/v1\/jobs$/, name: 'jobs' },
    { method: 'POST', pattern: /^\/v1\/vouchers$/, name: 'vouchers' },
    { method: 'GET', pattern: /^\/v1\/results\/([^/]+)\/([^/]+)$/, name: 'results' },
    { method: 'GET', pattern: /^\/healthz$/, name: 'healthz' },
    { method: 'GET', pattern: /^\/metrics$/, name: 'metrics' },
];

export async function startHttpServer(options: HttpServerOptions): Promise<WorkerHttpServer> {
    const { handlers, metrics, log } = options;
    const voucherLimit = options.maxVoucherBytes ?? 4096;

    const handle = async (req: IncomingMessage, res: ServerResponse, routeName: { value: string }) => {
        const url = new URL(req.url ?? '/', 'http://worker.invalid');
        const matches = ROUTES.filter((r) => r.pattern.test(url.pathname));
        if (matches.length === 0) throw new ApiError('not_found', `no endpoint ${url.pathname}; see docs/worker-api.md`);
        const route = matches.find((r) => r.method === req.method);
        if (!route) {
            throw new ApiError('method_not_allowed', `${req.method} is not allowed on ${url.pathname}; use ${matches.map((r) => r.method).join(', ')}`, {
                allow: matches.map((r) => r.method).join(', '),
            });
        }
        routeName.value = route.name;
        if (route.method === 'GET') {
            // GET takes no body; refuse one rather than leave it unread on the connection.
            const declared = Number(req.headers['content-length'] ?? 0);
            if (declared > 0 || req.headers['transfer-encoding']) throw new ApiError('bad_request', `GET ${url.pathname} takes no request body`);
        }
        switch (route.name) {
            case 'attestation':
                return sendJson(res, 200, await handlers.attestation());
            case 'healthz':
                return sendJson(res, 200, handlers.health());
            case 'metrics': {
                const text = handlers.metrics();
                res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
                return res.end(text);
            }
            case 'results': {
                const [, channel, seq] = route.pattern.exec(url.pathname)!;
                return sendJson(res, 200, await handlers.result(decodeURIComponent(channel), decodeURIComponent(seq)));
            }
            case 'vouchers':
                return sendJson(res, 200, await handlers.voucher(parseJson(await readBody(req, voucherLimit))));
            case 'jobs':
                return runJob(req, res, parseJson(await readBody(req, options.maxBodyBytes)));
        }
    };

    const runJob = async (req: IncomingMessage, res: ServerResponse, body: unknown) => {
        const prepared = await handlers.prepareJob(body);
        const stream = (body as { stream?: unknown }).stream === true;
        if (prepared.kind === 'repeat') {
            if (!stream) return sendJson(res, 200, prepared.answer);
            startEvents(res);
            writeEvent(res, 'receipt', prepared.answer);
            writeEvent(res, 'done', {});
            return res.end();
        }
        if (!stream) return sendJson(res, 200, await prepared.execute());
        startEvents(res);
        try {
            const answer = await prepared.execute((index, envelope) => writeEvent(res, 'chunk', { index, envelope }));
            writeEvent(res, 'receipt', answer);
            writeEvent(res, 'done', {});
        } catch (error) {
            const apiError =
                error instanceof ApiError
                    ? error
                    : error instanceof JournalUnwritableError
                      ? new ApiError('journal_unwritable', error.message)
                      : new ApiError('internal', (error as Error).message);
            if (apiError.code === 'internal') log.error('job-failed', { error });
            writeEvent(res, 'error', { code: apiError.code, message: apiError.message });
        }
        res.end();
    };

    // Node checks the request and header timeouts only every connectionsCheckingInterval (30 s by
    // default): without a shorter one a slow client (slowloris) holds its connection up to 30 s
    // past the timeouts configured here.
    const checkEveryMs = Math.max(100, Math.min(1_000, Math.floor(Math.min(options.headersTimeoutMs, options.requestTimeoutMs) / 2)));
    const server = createServer({ connectionsCheckingInterval: checkEveryMs }, (req, res) => {
        const started = Date.now();
        const routeName = { value: 'unknown' };
        res.on('finish', () => {
            metrics.httpRequests.inc({ route: routeName.value, status: String(res.statusCode) });
            log.debug('http', { method: req.method, route: routeName.value, status: res.statusCode, ms: Date.now() - started });
        });
        handle(req, res, routeName).catch((error: unknown) => {
            if (error instanceof ApiError) {
                // After a refused body the rest of it is never read: close the connection.
                const closing = error.code === 'too_large' || (req.readable && !req.readableEnded);
                sendError(res, error, closing ? { connection: 'close' } : {});
                if (closing) res.once('finish', () => setImmediate(() => req.socket.destroy()));
                return;
            }
            if (error instanceof JournalUnwritableError) {
                // Nothing was signed for this request; the agent is stopping (a supervisor restarts it).
                sendError(res, new ApiError('journal_unwritable', `${error.message}; retry on another worker or after the worker restarted`));
                return;
            }
            log.error('http-handler-failed', { route: routeName.value, error });
            sendError(res, new ApiError('internal', 'the worker failed to handle the request; it has been logged'));
        });
    });
    server.requestTimeout = options.requestTimeoutMs;
    server.headersTimeout = Math.min(options.headersTimeoutMs, options.requestTimeoutMs);
    server.keepAliveTimeout = 5_000;
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
        // Malformed HTTP or a request that ran out of time: answer when the socket still can.
        if (!socket.writable) return socket.destroy();
        const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
        const status = timeout ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
        const body = JSON.stringify(errorBody(timeout ? 'request_timeout' : 'bad_request', timeout ? 'the request was not received in time' : `malformed HTTP request (${error.code ?? 'parse error'})`));
        socket.end(
            `HTTP/1.1 ${status} ${timeout ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
    });

    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
        url: `http://${host}:${address.port}`,
        port: address.port,
        server,
        close: (graceMs = 5_000) =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeIdleConnections();
                const timer = setTimeout(() => server.closeAllConnections(), graceMs);
                timer.unref();
            }),
    };
}

function startEvents(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Logger } from '../worker/logger';
import { AuditorApiError } from './errors';

/**
 * The auditor agent's HTTP API (docs/auditor.md) on 127.0.0.1 by default: routing, a body limit
 * per endpoint, request timeouts, and JSON errors `{ error: { code, reason, message } }` with the
 * status of the code for anything malformed, oversized or refused.
 */
export interface AuditorHandlers {
    health(): unknown;
    reviews(): unknown;
    verdicts(): unknown;
    equivocation(body: unknown): Promise<unknown>;
    dispute(body: unknown): Promise<unknown>;
    cosign(body: unknown): Promise<unknown>;
}

export interface AuditorServerOptions {
    host: string;
    port: number;
    /** Largest body of POST /v1/disputes and /v1/cosign (they carry a revealed prompt). */
    maxBodyBytes: number;
    requestTimeoutMs: number;
    handlers: AuditorHandlers;
    log: Logger;
}

export interface AuditorHttpServer {
    url: string;
    port: number;
    close(): Promise<void>;
}

/** Two receipts (a few hundred bytes each as base64 BOC) and two signatures. */
const EQUIVOCATION_MAX_BYTES = 16 * 1024;

interface Route {
    method: 'GET' | 'POST';
    path: string;
    limit?: (options: AuditorServerOptions) => number;
    handle: (handlers: AuditorHandlers, body: unknown) => Promise<unknown> | unknown;
}

const ROUTES: Route[] = [
    { method: 'GET', path: '/healthz', handle: (h) => h.health() },
    { method: 'GET', path: '/v1/reviews', handle: (h) => h.reviews() },
    { method: 'GET', path: '/v1/verdicts', handle: (h) => h.verdicts() },
    { method: 'POST', path: '/v1/equivocations', limit: () => EQUIVOCATION_MAX_BYTES, handle: (h, body) => h.equivocation(body) },
    { method: 'POST', path: '/v1/disputes', limit: (o) => o.maxBodyBytes, handle: (h, body) => h.dispute(body) },
    { method: 'POST', path: '/v1/cosign', limit: (o) => o.maxBodyBytes, handle: (h, body) => h.cosign(body) },
];

function sendJson(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
}

function sendError(res: ServerResponse, error: AuditorApiError): void {
    sendJson(res, error.status, { error: { code: error.code, reason: error.reason, message: error.message } });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = req.headers['content-length'];
    if (declared !== undefined) {
        const length = Number(declared);
        if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new AuditorApiError('bad_request', 'bad-length', `Content-Length ${JSON.stringify(declared)} is not a byte count`));
        if (length > limit) return Promise.reject(new AuditorApiError('too_large', 'body-too-large', `the request body is ${length} bytes; this endpoint takes at most ${limit}`));
    }
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const finish = (error?: Error) => {
            if (settled) return;
            settled = true;
            req.off('data', onData);
            if (error) reject(error);
            else resolve(Buffer.concat(chunks, size));
        };
        const onData = (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) return finish(new AuditorApiError('too_large', 'body-too-large', `the request body exceeds ${limit} bytes, the most this endpoint takes`));
            chunks.push(chunk);
        };
        req.on('data', onData);
        req.once('end', () => finish());
        req.once('error', (error) => finish(new AuditorApiError('bad_request', 'body-unreadable', `the request body could not be read: ${error.message}`)));
    });
}

function parseJson(body: Buffer): unknown {
    if (body.length === 0) throw new AuditorApiError('bad_request', 'empty-body', 'the request body is empty; send a JSON object');
    try {
        return JSON.parse(body.toString('utf8'));
    } catch (error) {
        throw new AuditorApiError('bad_request', 'bad-json', `the request body is not valid JSON: ${(error as Error).message}`);
    }
}

export async function startAuditorServer(options: AuditorServerOptions): Promise<AuditorHttpServer> {
    const { handlers, log } = options;
    // Node enforces the timeouts only every connectionsCheckingInterval (30 s by default): check
    // often enough that a slow client (slowloris) is cut close to requestTimeoutMs.
    const checkEveryMs = Math.max(100, Math.min(1_000, Math.floor(options.requestTimeoutMs / 2)));
    const server: Server = createServer({ connectionsCheckingInterval: checkEveryMs }, (req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        const matching = ROUTES.filter((r) => r.path === path);
        const route = matching.find((r) => r.method === req.method);
        const respond = async () => {
            if (matching.length === 0) throw new AuditorApiError('not_found', 'no-such-endpoint', `no endpoint ${path}; see docs/auditor.md`);
            if (!route) throw new AuditorApiError('method_not_allowed', 'method-not-allowed', `${req.method} is not allowed on ${path} (use ${matching.map((r) => r.method).join(', ')})`);
            let body: unknown;
            if (route.method === 'POST') {
                const type = req.headers['content-type'] ?? '';
                if (!/^application\/json\b/i.test(type)) throw new AuditorApiError('bad_request', 'content-type', 'send the body as application/json');
                body = parseJson(await readBody(req, route.limit!(options)));
            }
            sendJson(res, 200, await route.handle(handlers, body));
        };
        respond().catch((error: unknown) => {
            if (error instanceof AuditorApiError) {
                if (error.code === 'too_large') res.setHeader('connection', 'close');
                sendError(res, error);
                if (error.code === 'too_large') req.destroy();
                return;
            }
            log.error('request-failed', { path, error });
            sendError(res, new AuditorApiError('internal', 'internal', `the auditor failed on this request: ${(error as Error)?.message ?? String(error)}`));
        });
    });
    server.requestTimeout = options.requestTimeoutMs;
    server.headersTimeout = Math.min(options.requestTimeoutMs, 10_000);
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
        // Malformed HTTP or a request that ran out of time: a JSON answer when the socket still can take one.
        if (!socket.writable) return socket.destroy();
        const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
        const status = timeout ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
        const body = JSON.stringify({
            error: timeout
                ? { code: 'request_timeout', reason: 'request-timeout', message: 'the request was not received in time' }
                : { code: 'bad_request', reason: 'malformed-http', message: `malformed HTTP request (${error.code ?? 'parse error'})` },
        });
        const text = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
        socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
        port,
        close: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeIdleConnections();
                setTimeout(() => server.closeAllConnections(), 2_000).unref();
            }),
    };
}

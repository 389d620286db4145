import * as http from 'node:http';
import * as https from 'node:https';
import { IncomingMessage } from 'node:http';
import { WorkerRequestError, WorkerUnreachableError } from './errors';

/**
 * HTTP client of the worker agent's API (docs/worker-api.md). Transport only: what the answers
 * mean (receipts, envelopes) is checked by the caller. Network failures (refused, reset, DNS,
 * timeouts) are `WorkerUnreachableError`, the signal for the on-chain fallback; an HTTP error
 * status is `WorkerRequestError` with the worker's `{error: {code, message}}`.
 */
export interface WorkerHttpOptions {
    /** Whole-request timeout in milliseconds (default 30 000; streaming: time to the first byte). */
    timeoutMs?: number;
    /** Largest answer body accepted, bytes (default 16 MiB). */
    maxResponseBytes?: number;
    /** Idle limit between two stream events, milliseconds (default 60 000). */
    streamIdleMs?: number;
    signal?: AbortSignal;
}

export interface JobRequestBody {
    channel: string;
    seq: string;
    model: string;
    envelope: string;
    /** The channel client key's signature of (channel, seq, envelope), base64 (agents/core/job-auth.ts). */
    auth: string;
    stream?: boolean;
    /** The client's latest voucher on the channel, when the worker has not confirmed it yet (docs/worker-api.md). */
    voucher?: { cumulative: string; signature: string };
}

/** The worker's non-streaming answer (also the data of the stream's `receipt` event). */
export interface JobAnswerJson {
    seq: string;
    envelope: string;
    receipt: string;
    signature: string;
    promptTokens: string | number;
    completionTokens: string | number;
    cost: string;
}

export interface StreamChunkJson {
    index: number;
    envelope: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** `base` + `/v1/...`: the endpoint is the agent's base URL (a trailing `/v1` is accepted too). */
export function workerUrl(endpoint: string, path: string): string {
    let url: URL;
    try {
        url = new URL(endpoint);
    } catch {
        throw new WorkerUnreachableError(endpoint, `worker endpoint "${endpoint}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WorkerUnreachableError(endpoint, `worker endpoint must be http(s), got ${url.protocol}`);
    let base = url.pathname.replace(/\/+$/, '');
    if (base.endsWith('/v1')) base = base.slice(0, -3);
    url.pathname = `${base}${path}`;
    url.search = '';
    return url.toString();
}

function describeNetworkError(error: unknown): string {
    const e = error as { name?: string; message?: string; code?: string };
    return e?.code ?? e?.message ?? String(error);
}

/**
 * The worker's answer: status and headers; the body, already read in whole (within the timeout and
 * the size limit), or still streaming (`stream`).
 */
interface WorkerResponse {
    status: number;
    statusText: string;
    ok: boolean;
    contentType: string;
    body: Buffer;
    stream?: IncomingMessage;
}

// Connections to workers are kept open between requests. node:http rather than fetch: fetch (undici)
// costs about 0.5 ms more CPU per request on a 2-core machine, on every job (docs/benchmarks.md).
const keepAliveAgents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/**
 * One HTTP request to the worker. `timeoutMs` covers the whole exchange, or, with `stream`, the
 * time to the response's headers (the caller watches the stream's pace). Connection failures and
 * timeouts are `WorkerUnreachableError`; an abort by the caller's `signal` rejects with its reason.
 */
function request(
    endpoint: string,
    path: string,
    init: { method: 'GET' | 'POST'; body?: unknown; accept?: string; stream?: boolean },
    options: WorkerHttpOptions,
): Promise<WorkerResponse> {
    const url = new URL(workerUrl(endpoint, path));
    const payload = init.body !== undefined ? Buffer.from(JSON.stringify(init.body), 'utf8') : undefined;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_BYTES;
    const signal = options.signal;
    return new Promise<WorkerResponse>((resolve, reject) => {
        let settled = false;
        const unreachable = (why: string, cause?: unknown) => new WorkerUnreachableError(endpoint, `worker ${url.toString()} is unreachable (${why})`, cause === undefined ? undefined : { cause });
        const finish = (error: unknown, response?: WorkerResponse) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            if (error !== undefined) {
                req.destroy();
                reject(error);
            } else resolve(response!);
        };
        const onAbort = () => finish(signal!.reason ?? new DOMException('This operation was aborted', 'AbortError'));
        const timer = setTimeout(() => finish(unreachable('timed out')), timeoutMs);
        const req = (url.protocol === 'https:' ? https : http).request(url, {
            method: init.method,
            agent: url.protocol === 'https:' ? keepAliveAgents.https : keepAliveAgents.http,
            headers: {
                accept: init.accept ?? 'application/json',
                ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            },
        });
        req.on('error', (error) => finish(unreachable(describeNetworkError(error), error)));
        req.on('response', (res) => {
            const status = res.statusCode ?? 0;
            const head = { status, statusText: res.statusMessage ?? '', ok: status >= 200 && status <= 299, contentType: String(res.headers['content-type'] ?? '') };
            if (init.stream && head.ok && head.contentType.startsWith('text/event-stream')) {
                return finish(undefined, { ...head, body: Buffer.alloc(0), stream: res });
            }
            const parts: Buffer[] = [];
            let total = 0;
            res.on('data', (chunk: Buffer) => {
                total += chunk.length;
                if (total > maxBytes) return finish(new WorkerRequestError(status, 'too_large', `worker ${endpoint} answered more than ${maxBytes} bytes; refusing the answer`));
                parts.push(chunk);
            });
            res.on('end', () => finish(undefined, { ...head, body: Buffer.concat(parts, total) }));
            res.on('aborted', () => finish(unreachable('the connection closed mid-answer')));
            res.on('error', (error) => finish(unreachable(describeNetworkError(error), error)));
        });
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        req.end(payload);
    });
}

function errorOf(response: WorkerResponse, endpoint: string): WorkerRequestError {
    let code = `http_${response.status}`;
    let message = response.statusText || 'error';
    try {
        const body = JSON.parse(response.body.subarray(0, 64 * 1024).toString('utf8'));
        if (body?.error && typeof body.error === 'object') {
            if (typeof body.error.code === 'string') code = body.error.code;
            if (typeof body.error.message === 'string') message = body.error.message;
        }
    } catch {
        /* not JSON: keep the status text */
    }
    return new WorkerRequestError(response.status, code, `worker ${endpoint} answered ${response.status} ${code}: ${message}`);
}

function jsonOf<T>(response: WorkerResponse, endpoint: string): T {
    try {
        return JSON.parse(response.body.toString('utf8')) as T;
    } catch {
        throw new WorkerRequestError(response.status, 'bad_response', `worker ${endpoint} answered something that is not JSON`);
    }
}

/** `GET /v1/attestation`, with the round-trip time (the latency the client selects by). */
export async function fetchAttestation(endpoint: string, options: WorkerHttpOptions = {}): Promise<{ body: unknown; latencyMs: number }> {
    const started = performance.now();
    const response = await request(endpoint, '/v1/attestation', { method: 'GET' }, { timeoutMs: 10_000, maxResponseBytes: 1024 * 1024, ...options });
    if (!response.ok) throw errorOf(response, endpoint);
    const body = jsonOf<unknown>(response, endpoint);
    return { body, latencyMs: performance.now() - started };
}

/** `POST /v1/jobs` without streaming. */
export async function postJob(endpoint: string, body: JobRequestBody, options: WorkerHttpOptions = {}): Promise<JobAnswerJson> {
    const response = await request(endpoint, '/v1/jobs', { method: 'POST', body: { ...body, stream: false } }, options);
    if (!response.ok) throw errorOf(response, endpoint);
    return jsonOf<JobAnswerJson>(response, endpoint);
}

export type StreamEvent =
    | { event: 'chunk'; data: StreamChunkJson }
    | { event: 'receipt'; data: JobAnswerJson }
    | { event: 'done' }
    | { event: 'error'; data: { code: string; message: string } };

/** Parses text/event-stream: `event:`/`data:` fields, a blank line ends an event. */
export class SseParser {
    private buffer = '';
    private event = 'message';
    private data: string[] = [];

    push(text: string): { event: string; data: string }[] {
        this.buffer += text;
        const out: { event: string; data: string }[] = [];
        let newline: number;
        while ((newline = this.buffer.search(/\r?\n/)) !== -1) {
            const line = this.buffer.slice(0, newline);
            this.buffer = this.buffer.slice(newline + (this.buffer[newline] === '\r' ? 2 : 1));
            if (line === '') {
                if (this.data.length > 0 || this.event !== 'message') out.push({ event: this.event, data: this.data.join('\n') });
                this.event = 'message';
                this.data = [];
            } else if (line.startsWith(':')) {
                continue;
            } else {
                const colon = line.indexOf(':');
                const field = colon === -1 ? line : line.slice(0, colon);
                const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
                if (field === 'event') this.event = value;
                else if (field === 'data') this.data.push(value);
            }
        }
        return out;
    }

    get pendingBytes(): number {
        return this.buffer.length;
    }
}

/**
 * `POST /v1/jobs` with `stream: true`: yields the stream's events as they arrive. Ends after
 * `done` or `error`; a stream that ends without either is a `WorkerRequestError` (cut short).
 */
export async function* streamJob(endpoint: string, body: JobRequestBody, options: WorkerHttpOptions = {}): AsyncGenerator<StreamEvent> {
    const response = await request(endpoint, '/v1/jobs', { method: 'POST', body: { ...body, stream: true }, accept: 'text/event-stream', stream: true }, options);
    if (!response.ok) throw errorOf(response, endpoint);
    const stream = response.stream;
    if (!stream) {
        // A worker may answer a stream request with the plain JSON answer: accept it as one receipt.
        const answer = jsonOf<JobAnswerJson>(response, endpoint);
        yield { event: 'receipt', data: answer };
        yield { event: 'done' };
        return;
    }
    const outer = options.signal;
    const onAbort = () => stream.destroy(outer!.reason ?? new DOMException('This operation was aborted', 'AbortError'));
    if (outer?.aborted) onAbort();
    outer?.addEventListener('abort', onAbort, { once: true });
    const idleMs = options.streamIdleMs ?? 60_000;
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => stream.destroy(new WorkerUnreachableError(endpoint, `worker ${endpoint} stalled: no stream data for ${idleMs} ms`)), idleMs);
    };
    try {
        touch();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_BYTES;
        let total = 0;
        let complete = true;
        stream.once('aborted', () => (complete = false));
        try {
            for await (const chunk of stream as AsyncIterable<Buffer>) {
                touch();
                total += chunk.byteLength;
                if (total > maxBytes) throw new WorkerRequestError(200, 'too_large', `worker ${endpoint} streamed more than ${maxBytes} bytes`);
                for (const raw of parser.push(decoder.decode(chunk, { stream: true }))) {
                    let data: unknown;
                    try {
                        data = raw.data === '' ? undefined : JSON.parse(raw.data);
                    } catch {
                        throw new WorkerRequestError(200, 'bad_response', `worker ${endpoint} sent a stream event whose data is not JSON`);
                    }
                    if (raw.event === 'chunk') yield { event: 'chunk', data: data as StreamChunkJson };
                    else if (raw.event === 'receipt') yield { event: 'receipt', data: data as JobAnswerJson };
                    else if (raw.event === 'done') {
                        yield { event: 'done' };
                        return;
                    } else if (raw.event === 'error') {
                        const e = (data ?? {}) as { code?: string; message?: string };
                        yield { event: 'error', data: { code: String(e.code ?? 'internal'), message: String(e.message ?? 'stream failed') } };
                        return;
                    }
                }
            }
        } catch (error) {
            if (error instanceof WorkerRequestError || error instanceof WorkerUnreachableError || outer?.aborted) throw error;
            complete = false;
        }
        throw new WorkerRequestError(200, 'stream_cut', `worker ${endpoint} ended the stream before its receipt${complete ? '' : ' (the connection broke)'}`);
    } finally {
        clearTimeout(idle);
        outer?.removeEventListener('abort', onAbort);
        // Anything left unread (an early return, or a consumer that stopped) closes the connection.
        if (!stream.readableEnded) stream.destroy();
    }
}

/** `POST /v1/vouchers`: hands the worker the signed voucher; 409 means it already holds a higher one. */
export async function postVoucher(
    endpoint: string,
    body: { channel: string; cumulative: string; signature: string },
    options: WorkerHttpOptions = {},
): Promise<{ cumulative: bigint }> {
    const response = await request(endpoint, '/v1/vouchers', { method: 'POST', body }, { timeoutMs: 10_000, ...options });
    if (!response.ok) throw errorOf(response, endpoint);
    const answer = jsonOf<{ cumulative?: string }>(response, endpoint);
    return { cumulative: BigInt(String(answer.cumulative ?? body.cumulative)) };
}

/** `GET /v1/results/:channel/:seq`: the encrypted output of an on-chain job, or undefined (404) until it exists. */
export async function fetchResult(endpoint: string, channel: string, seq: bigint, options: WorkerHttpOptions = {}): Promise<JobAnswerJson | undefined> {
    const response = await request(endpoint, `/v1/results/${encodeURIComponent(channel)}/${seq}`, { method: 'GET' }, { timeoutMs: 10_000, ...options });
    if (response.status === 404) return undefined;
    if (!response.ok) throw errorOf(response, endpoint);
    return jsonOf<JobAnswerJson>(response, endpoint);
}

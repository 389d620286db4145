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
    const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError') return 'timed out';
    if (e?.name === 'AbortError') return 'aborted';
    return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
}

async function readLimited(response: Response, maxBytes: number, endpoint: string): Promise<Buffer> {
    if (!response.body) return Buffer.alloc(0);
    const reader = response.body.getReader();
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
            await reader.cancel().catch(() => undefined);
            throw new WorkerRequestError(response.status, 'too_large', `worker ${endpoint} answered more than ${maxBytes} bytes; refusing the answer`);
        }
        parts.push(Buffer.from(value));
    }
    return Buffer.concat(parts);
}

async function errorOf(response: Response, endpoint: string, maxBytes: number): Promise<WorkerRequestError> {
    let code = `http_${response.status}`;
    let message = response.statusText || 'error';
    try {
        const body = JSON.parse((await readLimited(response, Math.min(maxBytes, 64 * 1024), endpoint)).toString('utf8'));
        if (body?.error && typeof body.error === 'object') {
            if (typeof body.error.code === 'string') code = body.error.code;
            if (typeof body.error.message === 'string') message = body.error.message;
        }
    } catch {
        /* not JSON: keep the status text */
    }
    return new WorkerRequestError(response.status, code, `worker ${endpoint} answered ${response.status} ${code}: ${message}`);
}

async function request(
    endpoint: string,
    path: string,
    init: { method: 'GET' | 'POST'; body?: unknown; accept?: string },
    options: WorkerHttpOptions,
): Promise<Response> {
    const url = workerUrl(endpoint, path);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    try {
        return await fetch(url, {
            method: init.method,
            headers: {
                accept: init.accept ?? 'application/json',
                ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
            signal,
            redirect: 'error',
        });
    } catch (error) {
        if (options.signal?.aborted) throw error;
        throw new WorkerUnreachableError(endpoint, `worker ${url} is unreachable (${describeNetworkError(error)})`, { cause: error });
    }
}

async function jsonOf<T>(response: Response, endpoint: string, options: WorkerHttpOptions): Promise<T> {
    const bytes = await readLimited(response, options.maxResponseBytes ?? DEFAULT_MAX_BYTES, endpoint);
    try {
        return JSON.parse(bytes.toString('utf8')) as T;
    } catch {
        throw new WorkerRequestError(response.status, 'bad_response', `worker ${endpoint} answered something that is not JSON`);
    }
}

/** `GET /v1/attestation`, with the round-trip time (the latency the client selects by). */
export async function fetchAttestation(endpoint: string, options: WorkerHttpOptions = {}): Promise<{ body: unknown; latencyMs: number }> {
    const started = performance.now();
    const response = await request(endpoint, '/v1/attestation', { method: 'GET' }, { timeoutMs: 10_000, ...options });
    if (!response.ok) throw await errorOf(response, endpoint, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
    const body = await jsonOf<unknown>(response, endpoint, { maxResponseBytes: 1024 * 1024, ...options });
    return { body, latencyMs: performance.now() - started };
}

/** `POST /v1/jobs` without streaming. */
export async function postJob(endpoint: string, body: JobRequestBody, options: WorkerHttpOptions = {}): Promise<JobAnswerJson> {
    const response = await request(endpoint, '/v1/jobs', { method: 'POST', body: { ...body, stream: false } }, options);
    if (!response.ok) throw await errorOf(response, endpoint, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
    return jsonOf<JobAnswerJson>(response, endpoint, options);
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
    const controller = new AbortController();
    const outer = options.signal;
    const onAbort = () => controller.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    const response = await request(endpoint, '/v1/jobs', { method: 'POST', body: { ...body, stream: true }, accept: 'text/event-stream' }, {
        ...options,
        signal: controller.signal,
    });
    try {
        if (!response.ok) throw await errorOf(response, endpoint, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
        const type = response.headers.get('content-type') ?? '';
        if (!type.startsWith('text/event-stream')) {
            // A worker may answer a stream request with the plain JSON answer: accept it as one receipt.
            const answer = await jsonOf<JobAnswerJson>(response, endpoint, options);
            yield { event: 'receipt', data: answer };
            yield { event: 'done' };
            return;
        }
        if (!response.body) throw new WorkerRequestError(response.status, 'bad_response', `worker ${endpoint} sent an empty stream`);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_BYTES;
        let total = 0;
        for (;;) {
            let idle: NodeJS.Timeout | undefined;
            const next = await Promise.race([
                reader.read(),
                new Promise<never>((_, reject) => {
                    idle = setTimeout(
                        () => reject(new WorkerUnreachableError(endpoint, `worker ${endpoint} stalled: no stream data for ${options.streamIdleMs ?? 60_000} ms`)),
                        options.streamIdleMs ?? 60_000,
                    );
                }),
            ]).finally(() => clearTimeout(idle));
            if (next.done) throw new WorkerRequestError(200, 'stream_cut', `worker ${endpoint} ended the stream before its receipt`);
            total += next.value.byteLength;
            if (total > maxBytes) throw new WorkerRequestError(200, 'too_large', `worker ${endpoint} streamed more than ${maxBytes} bytes`);
            for (const raw of parser.push(decoder.decode(next.value, { stream: true }))) {
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
                    await reader.cancel().catch(() => undefined);
                    return;
                } else if (raw.event === 'error') {
                    const e = (data ?? {}) as { code?: string; message?: string };
                    yield { event: 'error', data: { code: String(e.code ?? 'internal'), message: String(e.message ?? 'stream failed') } };
                    await reader.cancel().catch(() => undefined);
                    return;
                }
            }
        }
    } finally {
        outer?.removeEventListener('abort', onAbort);
        controller.abort();
    }
}

/** `POST /v1/vouchers`: hands the worker the signed voucher; 409 means it already holds a higher one. */
export async function postVoucher(
    endpoint: string,
    body: { channel: string; cumulative: string; signature: string },
    options: WorkerHttpOptions = {},
): Promise<{ cumulative: bigint }> {
    const response = await request(endpoint, '/v1/vouchers', { method: 'POST', body }, { timeoutMs: 10_000, ...options });
    if (!response.ok) throw await errorOf(response, endpoint, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
    const answer = await jsonOf<{ cumulative?: string }>(response, endpoint, options);
    return { cumulative: BigInt(String(answer.cumulative ?? body.cumulative)) };
}

/** `GET /v1/results/:channel/:seq`: the encrypted output of an on-chain job, or undefined (404) until it exists. */
export async function fetchResult(endpoint: string, channel: string, seq: bigint, options: WorkerHttpOptions = {}): Promise<JobAnswerJson | undefined> {
    const response = await request(endpoint, `/v1/results/${encodeURIComponent(channel)}/${seq}`, { method: 'GET' }, { timeoutMs: 10_000, ...options });
    if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
    }
    if (!response.ok) throw await errorOf(response, endpoint, options.maxResponseBytes ?? DEFAULT_MAX_BYTES);
    return jsonOf<JobAnswerJson>(response, endpoint, options);
}

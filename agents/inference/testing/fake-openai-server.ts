import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 that answers every chat completion with a
 * fixed text, streamed (SSE) or not, at a configurable pace, in the usage dialect of vLLM,
 * SGLang, llama.cpp or Ollama, and with injectable faults (bad JSON, error statuses, truncated
 * streams, connection resets, silence). Tests and benchmarks use it in place of a GPU server.
 *
 * Token accounting is deliberately simple so tests can predict it: one token per character of
 * message content for the prompt, one token per streamed chunk for the completion.
 */

export type UsageDialect = 'openai' | 'vllm' | 'sglang' | 'llamacpp' | 'ollama';

export type Fault =
    | { kind: 'none' }
    /** Close the connection without a response (before any byte), for the first `times` requests. */
    | { kind: 'reset-before-response'; times: number }
    /** Answer with this status and body. */
    | { kind: 'status'; status: number; body: string; contentType?: string }
    /** A 200 response whose body is not valid JSON (non-streaming) or a chunk that is not (streaming). */
    | { kind: 'bad-json' }
    /** Stream `afterChunks` chunks, then close the connection without `data: [DONE]`. */
    | { kind: 'truncate'; afterChunks: number }
    /** Send a mid-stream error event after `afterChunks` chunks (as vLLM does), then [DONE]. */
    | { kind: 'stream-error'; afterChunks: number; message: string }
    /** Accept the request and never answer. */
    | { kind: 'silent' }
    /** Omit the usage block (non-streaming) or the usage chunk (streaming). */
    | { kind: 'no-usage' };

export interface FakeServerScenario {
    /** The answer's text. Default: "Hello from the fake server." */
    answer: string;
    /** Characters per streamed chunk (one chunk = one completion token). Default 1. */
    charsPerChunk: number;
    /** Delay before the first chunk (time to first token), ms. Default 0. */
    firstChunkDelayMs: number;
    /** Delay between chunks, ms. Default 0. */
    chunkDelayMs: number;
    /** Model id the server serves (others get 404). Default "fake-model". */
    model: string;
    dialect: UsageDialect;
    /** Prompt tokens reported as served from the prefix cache (where the dialect reports it). Default 0. */
    cachedTokens: number;
    /** Reasoning text streamed before the answer (in the dialect's field). Default none. */
    reasoning: string;
    fault: Fault;
}

export interface RecordedRequest {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    body: unknown;
}

const DEFAULT_SCENARIO: FakeServerScenario = {
    answer: 'Hello from the fake server.',
    charsPerChunk: 1,
    firstChunkDelayMs: 0,
    chunkDelayMs: 0,
    model: 'fake-model',
    dialect: 'openai',
    cachedTokens: 0,
    reasoning: '',
    fault: { kind: 'none' },
};

export class FakeOpenAIServer {
    /** Every request received (the body parsed as JSON where it was JSON). */
    readonly requests: RecordedRequest[] = [];
    /** Connections the client closed before the answer was complete. */
    clientDisconnects = 0;
    private scenario: FakeServerScenario = { ...DEFAULT_SCENARIO };
    private resetsDone = 0;
    private readonly sockets = new Set<Socket>();
    private readonly server: http.Server;

    private constructor() {
        this.server = http.createServer((req, res) => void this.handle(req, res));
        this.server.on('connection', (socket) => {
            this.sockets.add(socket);
            socket.on('close', () => this.sockets.delete(socket));
        });
    }

    /** Starts a server on 127.0.0.1 (a free port unless one is given). */
    static async start(scenario: Partial<FakeServerScenario> = {}, port = 0): Promise<FakeOpenAIServer> {
        const s = new FakeOpenAIServer();
        s.configure(scenario);
        await new Promise<void>((resolve, reject) => {
            s.server.once('error', reject);
            s.server.listen(port, '127.0.0.1', () => resolve());
        });
        return s;
    }

    get port(): number {
        return (this.server.address() as AddressInfo).port;
    }

    /** Base URL as OpenAI clients take it, ending in /v1. */
    get baseUrl(): string {
        return `http://127.0.0.1:${this.port}/v1`;
    }

    /** Replaces the scenario (fields not given return to their defaults) and resets fault counters. */
    configure(scenario: Partial<FakeServerScenario>): void {
        this.scenario = { ...DEFAULT_SCENARIO, ...scenario };
        this.resetsDone = 0;
    }

    /** Stops listening and drops open connections. */
    async close(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const raw = await readBody(req);
        let body: unknown = raw;
        try {
            body = raw ? JSON.parse(raw) : undefined;
        } catch {
            // recorded as text
        }
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const sc = this.scenario;
        const fault = sc.fault;

        if (fault.kind === 'reset-before-response' && this.resetsDone < fault.times) {
            this.resetsDone++;
            req.socket.destroy();
            return;
        }
        if (fault.kind === 'silent') return;

        if (req.method === 'GET' && req.url === '/v1/models') {
            return sendJson(res, 200, { object: 'list', data: [{ id: sc.model, object: 'model', owned_by: 'fake' }] });
        }
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
            return sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'NotFoundError', code: 404 } });
        }
        if (fault.kind === 'status') {
            res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'application/json' });
            res.end(fault.body);
            return;
        }
        const request = body as {
            model?: string;
            messages?: { content?: string }[];
            stream?: boolean;
            max_tokens?: number;
            max_completion_tokens?: number;
            stop?: string | string[];
        };
        if (!request || typeof request !== 'object' || !Array.isArray(request.messages)) {
            return sendJson(res, 400, { error: { message: 'messages is required', type: 'BadRequestError', code: 400 } });
        }
        if (request.model !== sc.model) {
            return sendJson(res, 404, {
                error: { message: `The model \`${String(request.model)}\` does not exist.`, type: 'NotFoundError', code: 404 },
            });
        }

        const promptTokens = request.messages.reduce((n, m) => n + (typeof m.content === 'string' ? [...m.content].length : 0), 0);
        const { chunks, finishReason } = planAnswer(sc, request.max_tokens ?? request.max_completion_tokens, request.stop);
        const reasoningChunks = splitChunks(sc.reasoning, sc.charsPerChunk);
        const completionTokens = chunks.length + reasoningChunks.length;
        const usage = fault.kind === 'no-usage' ? undefined : usageBlock(sc, promptTokens, completionTokens, reasoningChunks.length);
        const extras = fault.kind === 'no-usage' ? {} : dialectExtras(sc, promptTokens, completionTokens);
        const id = `chatcmpl-fake-${this.requests.length}`;
        const created = 1_700_000_000;

        let finished = false;
        res.on('close', () => {
            if (!finished) this.clientDisconnects++;
        });

        if (!request.stream) {
            await sleep(sc.firstChunkDelayMs + sc.chunkDelayMs * Math.max(0, completionTokens - 1));
            if (fault.kind === 'bad-json') {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end('{"id": "chatcmpl-broken", "choices": [');
                finished = true;
                return;
            }
            finished = true;
            const message: Record<string, unknown> = { role: 'assistant', content: chunks.join('') };
            if (sc.reasoning) message[reasoningField(sc.dialect)] = sc.reasoning;
            return sendJson(res, 200, {
                id,
                object: 'chat.completion',
                created,
                model: sc.model,
                choices: [{ index: 0, message, finish_reason: finishReason }],
                ...(usage ? { usage } : {}),
                ...extras,
            });
        }

        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const includeUsage = (body as { stream_options?: { include_usage?: boolean } }).stream_options?.include_usage === true;
        const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
        const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
            id,
            object: 'chat.completion.chunk',
            created,
            model: sc.model,
            choices: [{ index: 0, delta, finish_reason: finish }],
        });

        send(chunk({ role: 'assistant', content: '' }, null));
        const all = [...reasoningChunks.map((c) => ({ reasoning: c })), ...chunks.map((c) => ({ content: c }))];
        for (let i = 0; i < all.length; i++) {
            await sleep(i === 0 ? sc.firstChunkDelayMs : sc.chunkDelayMs);
            if (res.destroyed) return;
            if (fault.kind === 'truncate' && i === fault.afterChunks) {
                finished = true;
                // Let what was written reach the client, then drop the connection mid-body.
                await new Promise<void>((resolve) => res.write('', () => resolve()));
                res.socket?.destroy();
                return;
            }
            if (fault.kind === 'stream-error' && i === fault.afterChunks) {
                send({ error: { message: fault.message, type: 'InternalServerError', code: 500 } });
                res.write('data: [DONE]\n\n');
                finished = true;
                res.end();
                return;
            }
            if (fault.kind === 'bad-json' && i === 1) {
                res.write('data: {"id": "chatcmpl-broken", "choices": [\n\n');
                continue;
            }
            const part = all[i];
            const delta = 'reasoning' in part ? { [reasoningField(sc.dialect)]: part.reasoning } : { content: part.content };
            send(chunk(delta, i === all.length - 1 ? finishReason : null));
        }
        if (all.length === 0) send(chunk({}, finishReason));
        if (includeUsage && usage) send({ id, object: 'chat.completion.chunk', created, model: sc.model, choices: [], usage, ...extras });
        res.write('data: [DONE]\n\n');
        finished = true;
        res.end();
    }
}

function planAnswer(
    sc: FakeServerScenario,
    maxTokens: number | undefined,
    stop: string | string[] | undefined,
): { chunks: string[]; finishReason: 'stop' | 'length' } {
    let text = sc.answer;
    let finishReason: 'stop' | 'length' = 'stop';
    const stops = stop === undefined ? [] : Array.isArray(stop) ? stop : [stop];
    for (const s of stops) {
        const at = text.indexOf(s);
        if (s && at !== -1) text = text.slice(0, at);
    }
    let chunks = splitChunks(text, sc.charsPerChunk);
    if (typeof maxTokens === 'number' && chunks.length > maxTokens) {
        chunks = chunks.slice(0, maxTokens);
        finishReason = 'length';
    }
    return { chunks, finishReason };
}

function splitChunks(text: string, size: number): string[] {
    const chars = [...text];
    const out: string[] = [];
    for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
    return out;
}

function reasoningField(dialect: UsageDialect): string {
    return dialect === 'vllm' || dialect === 'ollama' || dialect === 'openai' ? 'reasoning' : 'reasoning_content';
}

/** The usage block in each server's dialect (see shared/reference/feasibility.md §3). */
function usageBlock(sc: FakeServerScenario, prompt: number, completion: number, reasoning: number): Record<string, unknown> {
    const base = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    switch (sc.dialect) {
        case 'openai':
            return {
                ...base,
                prompt_tokens_details: { cached_tokens: sc.cachedTokens },
                completion_tokens_details: { reasoning_tokens: reasoning },
            };
        case 'vllm':
            // Cached tokens only with --enable-prompt-tokens-details; reasoning counts only in recent builds.
            return { ...base, prompt_tokens_details: { cached_tokens: sc.cachedTokens }, completion_tokens_details: null };
        case 'sglang':
            return { ...base, prompt_tokens_details: { cached_tokens: sc.cachedTokens }, reasoning_tokens: reasoning };
        case 'llamacpp':
        case 'ollama':
            return base;
    }
}

/** Fields outside `usage`: llama.cpp's `timings` (where its cache count lives). */
function dialectExtras(sc: FakeServerScenario, prompt: number, completion: number): Record<string, unknown> {
    if (sc.dialect !== 'llamacpp') return {};
    return {
        timings: {
            cache_n: sc.cachedTokens,
            prompt_n: prompt - sc.cachedTokens,
            prompt_ms: 1.5,
            predicted_n: completion,
            predicted_ms: 2.5,
            predicted_per_second: 400,
        },
    };
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown): void {
    const body = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        req.on('error', reject);
    });
}

function sleep(ms: number): Promise<void> {
    return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

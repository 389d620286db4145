import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { TokenChunk } from '../../agents/inference/engine';
import {
    BackendHttpError,
    BackendProtocolError,
    BackendUnreachableError,
    EmptyPromptError,
    EngineClosedError,
    InferenceTimeoutError,
    InvalidRequestError,
    ModelNotFoundError,
    TruncatedStreamError,
} from '../../agents/inference/errors';
import { modelHash, writeManifest } from '../../agents/inference/model-identity';
import { mapUsage, OpenAICompatibleEngine, OpenAICompatibleOptions } from '../../agents/inference/openai-compatible';
import { FakeOpenAIServer, UsageDialect } from '../../agents/inference/testing/fake-openai-server';
import { cleanup, tempDir, tinyModel } from './helpers';

const HI = [{ role: 'user', content: 'hi' }];
const ANSWER = 'Hello from the fake server.';

describe('OpenAI-compatible backend', () => {
    let server: FakeOpenAIServer;
    let modelDir: string;
    const engines: OpenAICompatibleEngine[] = [];
    const connect = async (options: Partial<OpenAICompatibleOptions> = {}) => {
        const engine = await OpenAICompatibleEngine.create({
            baseUrl: server.baseUrl,
            model: 'fake-model',
            identity: { modelDir },
            retryDelayMs: 10,
            ...options,
        });
        engines.push(engine);
        return engine;
    };
    const lastBody = () => server.requests.at(-1)!.body as Record<string, unknown>;

    beforeAll(async () => {
        modelDir = await tinyModel();
        server = await FakeOpenAIServer.start();
    });
    beforeEach(() => {
        server.configure({});
        server.requests.length = 0;
        server.clientDisconnects = 0;
    });
    afterAll(async () => {
        for (const e of engines) await e.close();
        await server.close();
    });

    describe('answers', () => {
        it('forwards a chat without streaming and maps the answer and its usage', async () => {
            const engine = await connect();
            const result = await engine.complete({ messages: HI, maxTokens: 100 });
            expect(result).toEqual({
                text: ANSWER,
                finishReason: 'stop',
                usage: { promptTokens: 2, completionTokens: ANSWER.length, totalTokens: 2 + ANSWER.length, cachedPromptTokens: 0, reasoningTokens: 0, source: 'reported' },
                model: 'fake-model',
                modelHash: await modelHash(modelDir),
            });
            expect(lastBody()).toEqual({ model: 'fake-model', messages: HI, temperature: 0, max_tokens: 100, stream: false });
        });

        it('streams token by token and takes usage from the final chunk it asked for', async () => {
            const engine = await connect();
            const chunks: TokenChunk[] = [];
            const result = await engine.complete({ messages: HI, onToken: (c) => chunks.push(c) });
            expect(lastBody()).toMatchObject({ stream: true, stream_options: { include_usage: true }, temperature: 0 });
            expect(chunks).toHaveLength(ANSWER.length);
            expect(chunks[0]).toEqual({ text: 'H', completionTokens: 1 });
            expect(chunks.map((c) => c.text).join('')).toBe(ANSWER);
            expect(result.text).toBe(ANSWER);
            expect(result.usage).toMatchObject({ promptTokens: 2, completionTokens: ANSWER.length, source: 'reported' });
        });

        it('receives chunks at the pace the server streams them', async () => {
            server.configure({ answer: 'abcdef', firstChunkDelayMs: 30, chunkDelayMs: 15 });
            const engine = await connect();
            const started = Date.now();
            const at: number[] = [];
            const result = await engine.complete({ messages: HI, onToken: () => at.push(Date.now()) });
            expect(result.text).toBe('abcdef');
            expect(at[0] - started).toBeGreaterThanOrEqual(25);
            expect(at[5] - at[0]).toBeGreaterThanOrEqual(5 * 15 - 5);
        });

        it('streams without a token callback when configured to always stream', async () => {
            const engine = await connect({ stream: 'always' });
            const result = await engine.complete({ messages: HI });
            expect(lastBody()).toMatchObject({ stream: true });
            expect(result.text).toBe(ANSWER);
        });

        it('passes max_tokens, stop, temperature, top_p and vendor fields, and reports "length"', async () => {
            const engine = await connect({ extraBody: { top_k: 1 }, apiKey: 'sk-local' });
            const cut = await engine.complete({ messages: HI, maxTokens: 5, temperature: 0.7, topP: 0.9 });
            expect(cut).toMatchObject({ text: 'Hello', finishReason: 'length' });
            expect(lastBody()).toMatchObject({ max_tokens: 5, temperature: 0.7, top_p: 0.9, top_k: 1 });
            expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer sk-local');
            const stopped = await engine.complete({ messages: HI, stop: [' from'], onToken: () => undefined });
            expect(stopped).toMatchObject({ text: 'Hello', finishReason: 'stop' });
            expect(lastBody()).toMatchObject({ stop: [' from'] });
        });
    });

    describe('usage dialects (vLLM, SGLang, llama.cpp, Ollama)', () => {
        const cases: [UsageDialect, string, { cachedPromptTokens?: number; reasoningTokens?: number }][] = [
            ['openai', 'reasoning', { cachedPromptTokens: 7, reasoningTokens: 5 }],
            ['vllm', 'reasoning', { cachedPromptTokens: 7 }],
            ['sglang', 'reasoning_content', { cachedPromptTokens: 7, reasoningTokens: 5 }],
            ['llamacpp', 'reasoning_content', { cachedPromptTokens: 7 }],
            ['ollama', 'reasoning', {}],
        ];
        it.each(cases)('maps %s usage and reasoning text (%s), streaming and not', async (dialect, _field, details) => {
            server.configure({ dialect, cachedTokens: 7, reasoning: 'think' });
            const engine = await connect();
            for (const onToken of [undefined, () => undefined]) {
                const result = await engine.complete({ messages: HI, onToken });
                expect(result.text).toBe(ANSWER);
                expect(result.reasoning).toBe('think');
                expect(result.usage).toEqual({
                    promptTokens: 2,
                    completionTokens: ANSWER.length + 5,
                    totalTokens: 2 + ANSWER.length + 5,
                    ...details,
                    source: 'reported',
                });
            }
        });

        it('treats null detail blocks as absent and rejects nonsense counts', () => {
            expect(mapUsage({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: null, completion_tokens_details: null })).toEqual({
                promptTokens: 3,
                completionTokens: 4,
                totalTokens: 7,
                source: 'reported',
            });
            expect(() => mapUsage({ prompt_tokens: -1, completion_tokens: 4 })).toThrow(BackendProtocolError);
            expect(() => mapUsage({ completion_tokens: 4 })).toThrow(/prompt_tokens/);
            expect(mapUsage(null)).toBeUndefined();
        });
    });

    describe('cancellation and timeouts', () => {
        it('cancels a stream when the signal aborts, closes the connection and estimates usage', async () => {
            server.configure({ chunkDelayMs: 20 });
            const engine = await connect();
            const controller = new AbortController();
            const result = await engine.complete({
                messages: HI,
                signal: controller.signal,
                onToken: (c) => {
                    if (c.completionTokens === 3) controller.abort();
                },
            });
            expect(result).toMatchObject({ text: 'Hel', finishReason: 'cancelled', usage: { completionTokens: 3, source: 'estimated' } });
            await waitFor(() => server.clientDisconnects === 1);
        });

        it('fails a request past its wall-clock limit, with the partial answer', async () => {
            server.configure({ chunkDelayMs: 100 });
            const engine = await connect();
            const err = await engine.complete({ messages: HI, timeoutMs: 250, onToken: () => undefined }).catch((e) => e);
            expect(err).toBeInstanceOf(InferenceTimeoutError);
            expect(err.partial.text).toBe(ANSWER.slice(0, err.partial.completionTokens));
            expect(err.partial.completionTokens).toBeGreaterThanOrEqual(1);
            expect(err.partial.completionTokens).toBeLessThan(ANSWER.length);
        });

        it('fails a stream that goes silent for longer than the idle limit', async () => {
            server.configure({ firstChunkDelayMs: 1000 });
            const engine = await connect({ idleTimeoutMs: 100 });
            const err = await engine.complete({ messages: HI, onToken: () => undefined }).catch((e) => e);
            expect(err).toBeInstanceOf(InferenceTimeoutError);
            expect(err.message).toMatch(/sent nothing for 100 ms/);
        });

        it('fails a server that never answers at the request deadline', async () => {
            server.configure({ fault: { kind: 'silent' } });
            const engine = await connect();
            const err = await engine.complete({ messages: HI, timeoutMs: 200 }).catch((e) => e);
            expect(err).toBeInstanceOf(InferenceTimeoutError);
        });
    });

    describe('retries only where safe', () => {
        it('retries a request whose connection dropped before any byte of an answer', async () => {
            server.configure({ fault: { kind: 'reset-before-response', times: 2 } });
            const engine = await connect({ maxRetries: 2 });
            const result = await engine.complete({ messages: HI });
            expect(result.text).toBe(ANSWER);
            expect(server.requests).toHaveLength(3);
        });

        it('gives up after the configured retries with a clear error', async () => {
            server.configure({ fault: { kind: 'reset-before-response', times: 10 } });
            const engine = await connect({ maxRetries: 1 });
            const err = await engine.complete({ messages: HI }).catch((e) => e);
            expect(err).toBeInstanceOf(BackendUnreachableError);
            expect(err.message).toMatch(/after 2 attempt\(s\)/);
            expect(server.requests).toHaveLength(2);
        });

        it('does not retry once the server has answered, even with an error status', async () => {
            server.configure({ fault: { kind: 'status', status: 503, body: '{"error":{"message":"overloaded"}}' } });
            const engine = await connect({ maxRetries: 3 });
            const err = await engine.complete({ messages: HI }).catch((e) => e);
            expect(err).toBeInstanceOf(BackendHttpError);
            expect(err).toMatchObject({ status: 503, code: 'BACKEND_HTTP_STATUS' });
            expect(err.message).toMatch(/HTTP 503: overloaded/);
            expect(server.requests).toHaveLength(1);
        });

        it('does not retry a stream cut off midway, and says it was truncated', async () => {
            server.configure({ fault: { kind: 'truncate', afterChunks: 4 } });
            const engine = await connect({ maxRetries: 3 });
            const err = await engine.complete({ messages: HI, onToken: () => undefined }).catch((e) => e);
            expect(err).toBeInstanceOf(TruncatedStreamError);
            expect(err.partial).toEqual({ text: 'Hell', chunks: 4 });
            expect(server.requests).toHaveLength(1);
        });

        it('names an unreachable server', async () => {
            const closedPort = await freePort();
            const engine = await connect({ baseUrl: `http://127.0.0.1:${closedPort}/v1`, maxRetries: 1 });
            const err = await engine.complete({ messages: HI }).catch((e) => e);
            expect(err).toBeInstanceOf(BackendUnreachableError);
            expect(err.message).toMatch(/ECONNREFUSED/);
            expect(err.message).toMatch(/check that it is running/);
        });
    });

    describe('misbehaving servers', () => {
        it.each([
            ['a non-JSON answer', { kind: 'bad-json' } as const, false, /not valid JSON/],
            ['a non-JSON stream event', { kind: 'bad-json' } as const, true, /not JSON/],
            ['an error event mid-stream', { kind: 'stream-error', afterChunks: 2, message: 'CUDA out of memory' } as const, true, /mid-stream: CUDA out of memory/],
            ['an answer without usage', { kind: 'no-usage' } as const, false, /without a usage block/],
            ['a stream without a usage chunk', { kind: 'no-usage' } as const, true, /without a usage chunk/],
            ['JSON where a stream was asked for', { kind: 'status', status: 200, body: '{}' } as const, true, /content-type "application\/json"/],
            ['a 200 answer without choices', { kind: 'status', status: 200, body: '{"usage":{}}' } as const, false, /choices\[0\]\.message/],
        ])('refuses %s with BackendProtocolError', async (_what, fault, streamed, message) => {
            server.configure({ fault });
            const engine = await connect();
            const err = await engine.complete({ messages: HI, onToken: streamed ? () => undefined : undefined }).catch((e) => e);
            expect(err).toBeInstanceOf(BackendProtocolError);
            expect(err.code).toBe('BACKEND_BAD_RESPONSE');
            expect(err.message).toMatch(message);
        });

        it('explains an authentication failure', async () => {
            server.configure({ fault: { kind: 'status', status: 401, body: 'unauthorized', contentType: 'text/plain' } });
            const engine = await connect();
            await expect(engine.complete({ messages: HI })).rejects.toThrow(/HTTP 401: unauthorized \(check apiKey\)/);
        });

        it('names a model the server does not serve', async () => {
            const engine = await connect({ model: 'other-model' });
            const err = await engine.complete({ messages: HI }).catch((e) => e);
            expect(err).toBeInstanceOf(ModelNotFoundError);
            expect(err.message).toMatch(/does not serve "other-model"/);
            await expect(engine.assertModelServed()).rejects.toThrow(/it lists: fake-model/);
            await expect((await connect()).assertModelServed()).resolves.toBeUndefined();
            expect(await engine.listModels()).toEqual(['fake-model']);
        });
    });

    describe('configuration and bad input', () => {
        it('takes the model identity from a declared folder or manifest file', async () => {
            const manifestDir = await tempDir('manifest');
            try {
                const file = path.join(manifestDir, 'served-model.txt');
                const manifest = await writeManifest(modelDir, file);
                const engine = await connect({ identity: { manifestFile: file } });
                expect(engine.modelHash).toBe(manifest.hash);
                expect((await engine.complete({ messages: HI })).modelHash).toBe(manifest.hash);
            } finally {
                await cleanup(manifestDir);
            }
        });

        it('refuses a missing identity, a bad URL and bad limits', async () => {
            await expect(connect({ identity: {} as never })).rejects.toThrow(/identity must declare/);
            await expect(connect({ baseUrl: 'not a url' })).rejects.toThrow(InvalidRequestError);
            await expect(connect({ baseUrl: 'ftp://x/v1' })).rejects.toThrow(/http or https/);
            await expect(connect({ maxRetries: -1 })).rejects.toThrow(/maxRetries/);
            await expect(connect({ identity: { modelDir: '/nonexistent/model' } })).rejects.toThrow(ModelNotFoundError);
        });

        it('refuses an empty or oversized prompt without contacting the server', async () => {
            const engine = await connect({ maxPromptChars: 10 });
            await expect(engine.complete({ messages: [] })).rejects.toThrow(EmptyPromptError);
            await expect(engine.complete({ messages: [{ role: 'user', content: 'x'.repeat(11) }] })).rejects.toThrow(/over the limit per request of 10 characters/);
            expect(server.requests).toHaveLength(0);
        });

        it('refuses requests after close', async () => {
            const engine = await connect();
            await engine.close();
            await expect(engine.complete({ messages: HI })).rejects.toThrow(EngineClosedError);
        });
    });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > until) throw new Error('condition not met in time');
        await new Promise((r) => setTimeout(r, 5));
    }
}

/** A port nothing listens on: bind one, then release it. */
async function freePort(): Promise<number> {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
}

/** @jest-environment ./agents/inference/testing/jest-environment.ts */
import * as path from 'node:path';
import { EmbeddedEngine } from '../../agents/inference/embedded';
import { ThreadedEmbeddedEngine } from '../../agents/inference/embedded-thread';
import { TokenChunk } from '../../agents/inference/engine';
import { EmptyPromptError, EngineClosedError, InferenceTimeoutError, InvalidRequestError, ModelNotFoundError, PromptTooLongError } from '../../agents/inference/errors';
import { tinyModel } from './helpers';

// The tiny model answers [{user: "hi"}] (20 prompt tokens) with every byte after " " up to "z", then EOS.
const HI = [{ role: 'user', content: 'hi' }];

describe('the embedded engine in its own thread (the worker agent runs it so)', () => {
    let dir: string;
    let threaded: ThreadedEmbeddedEngine;
    let inProcess: EmbeddedEngine;
    beforeAll(async () => {
        dir = await tinyModel();
        [threaded, inProcess] = await Promise.all([ThreadedEmbeddedEngine.load({ model: dir, threads: 1 }), EmbeddedEngine.load({ model: dir, threads: 1 })]);
    });
    afterAll(async () => {
        await threaded?.close();
        await inProcess?.close();
    });

    it('loads the same model identity and answers exactly as the in-process engine', async () => {
        expect(threaded.kind).toBe('embedded');
        expect(threaded.modelHash).toBe(inProcess.modelHash);
        expect(threaded.contextLength).toBe(inProcess.contextLength);
        for (const request of [{ messages: HI }, { messages: HI, maxTokens: 7 }, { messages: HI, stop: ['9'] }]) {
            expect(await threaded.complete(request)).toEqual(await inProcess.complete(request));
        }
    });

    it('counts prompt tokens exactly as the in-process tokenizer does (what the worker bills before it runs)', async () => {
        const conversation = [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'héllo 👋' },
        ];
        expect(await threaded.promptTokenCount(HI)).toBe(20);
        expect(await threaded.promptTokenCount(conversation)).toBe(inProcess.promptTokenIds(conversation).length);
    });

    it('streams every token back as it is generated, adding up to the answer', async () => {
        const chunks: TokenChunk[] = [];
        const result = await threaded.complete({ messages: HI, maxTokens: 12, onToken: (chunk) => chunks.push(chunk) });
        expect(chunks.length).toBe(12);
        expect(chunks.map((c) => c.text).join('')).toBe(result.text);
        expect(chunks.map((c) => c.completionTokens)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    });

    it('serves concurrent requests one at a time in arrival order, each with its own answer', async () => {
        const limits = [3, 9, 1, 5];
        const results = await Promise.all(limits.map((maxTokens) => threaded.complete({ messages: HI, maxTokens })));
        expect(results.map((r) => r.usage.completionTokens)).toEqual(limits);
        expect(results.map((r) => r.text)).toEqual(await Promise.all(limits.map(async (maxTokens) => (await inProcess.complete({ messages: HI, maxTokens })).text)));
    });

    it("brings the thread's errors back as the same classes with their fields", async () => {
        await expect(threaded.complete({ messages: [{ role: 'user', content: '   ' }] })).rejects.toBeInstanceOf(EmptyPromptError);
        const tooLong = await threaded.complete({ messages: [{ role: 'user', content: 'x'.repeat(600) }] }).catch((e: unknown) => e);
        expect(tooLong).toBeInstanceOf(PromptTooLongError);
        expect(tooLong).toMatchObject({ code: 'PROMPT_TOO_LONG', unit: 'tokens', limit: 511, size: 618 });
        expect((tooLong as Error).message).toMatch(/over the model's context of 511 tokens/);
        const late = await threaded.complete({ messages: HI, timeoutMs: 0.001 }).catch((e: unknown) => e);
        expect(late).toBeInstanceOf(InferenceTimeoutError);
        // The deadline is checked between tokens with a millisecond clock: the thread may produce a token before it sees it passed.
        expect(late).toMatchObject({ code: 'TIMEOUT', partial: { text: expect.any(String), completionTokens: expect.any(Number) } });
        const partial = (late as InferenceTimeoutError).partial!;
        expect(partial.text.length).toBe(partial.completionTokens); // one byte per token in the tiny model
        // Checked before anything crosses to the thread.
        await expect(threaded.complete({ messages: HI, maxTokens: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
        // The engine still serves after each.
        expect((await threaded.complete({ messages: HI, maxTokens: 2 })).usage.completionTokens).toBe(2);
    });

    it('a cancelled request resolves at once with what streamed; the thread stops it and serves the next', async () => {
        const controller = new AbortController();
        let streamed = '';
        const result = await threaded.complete({
            messages: HI,
            maxTokens: 64,
            signal: controller.signal,
            onToken: (chunk) => {
                streamed += chunk.text;
                if (chunk.completionTokens === 3) controller.abort();
            },
        });
        expect(result.finishReason).toBe('cancelled');
        expect(result.text).toBe(streamed);
        expect(result.usage.completionTokens).toBe(3);
        const aborted = new AbortController();
        aborted.abort();
        expect((await threaded.complete({ messages: HI, signal: aborted.signal })).finishReason).toBe('cancelled');
        expect(await threaded.complete({ messages: HI, maxTokens: 4 })).toEqual(await inProcess.complete({ messages: HI, maxTokens: 4 }));
    });

    it('a token callback that throws fails its request with that error, as in process', async () => {
        const boom = new Error('the consumer went away');
        await expect(
            threaded.complete({
                messages: HI,
                maxTokens: 20,
                onToken: () => {
                    throw boom;
                },
            }),
        ).rejects.toBe(boom);
        expect((await threaded.complete({ messages: HI, maxTokens: 1 })).usage.completionTokens).toBe(1);
    });

    it('a model that cannot load fails load with the in-process error class', async () => {
        const missing = path.join(dir, 'no-such-model');
        await expect(ThreadedEmbeddedEngine.load({ model: missing })).rejects.toBeInstanceOf(ModelNotFoundError);
    });

    it('after close, requests fail with EngineClosedError', async () => {
        const engine = await ThreadedEmbeddedEngine.load({ model: dir, threads: 1 });
        const running = engine.complete({ messages: HI, maxTokens: 5 });
        await engine.close();
        // A request taken before close still finishes.
        expect((await running).usage.completionTokens).toBe(5);
        await expect(engine.complete({ messages: HI })).rejects.toBeInstanceOf(EngineClosedError);
        await expect(engine.promptTokenCount(HI)).rejects.toBeInstanceOf(EngineClosedError);
    });
});

/** @jest-environment ./agents/inference/testing/jest-environment.ts */
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { EmbeddedEngine, IncrementalDetokenizer } from '../../agents/inference/embedded';
import { CompletionRequest, TokenChunk } from '../../agents/inference/engine';
import {
    DeviceUnavailableError,
    EmptyPromptError,
    EngineClosedError,
    InferenceTimeoutError,
    ModelFilesError,
    ModelIdentityMismatchError,
    ModelNotFoundError,
    PromptTooLongError,
} from '../../agents/inference/errors';
import { modelHash, writeManifest } from '../../agents/inference/model-identity';
import { tinyModelFiles } from '../../agents/inference/testing/tiny-model';
import { cleanup, tempDir, tinyModel, tinyModelCopy } from './helpers';

// The chat template renders [{user: "hi"}] as "user: hi\nassistant: " (20 bytes = 20 tokens);
// the tiny model continues the final space with every following byte up to "z", then EOS.
const HI = [{ role: 'user', content: 'hi' }];
const ANSWER = '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz';

describe('embedded Transformers.js engine', () => {
    let dir: string;
    let engine: EmbeddedEngine;
    beforeAll(async () => {
        dir = await tinyModel();
        engine = await EmbeddedEngine.load({ model: dir });
    });
    afterAll(async () => engine?.close());

    describe('answers', () => {
        it("answers a chat through the model's chat template with exact token counts for billing", async () => {
            const result = await engine.complete({ messages: HI });
            expect(result).toEqual({
                text: ANSWER,
                finishReason: 'stop',
                usage: { promptTokens: 20, completionTokens: 91, totalTokens: 111, source: 'counted' },
                model: 'tiny',
                modelHash: await modelHash(dir),
            });
        });

        it('is greedy by default, so the same request always gets the same answer', async () => {
            const answers = [];
            for (let i = 0; i < 3; i++) answers.push((await engine.complete({ messages: HI, maxTokens: 30 })).text);
            expect(new Set(answers).size).toBe(1);
            expect(answers[0]).toBe(ANSWER.slice(0, 30));
        });

        it('counts prompt tokens exactly as the chat template renders and tokenizes them', async () => {
            const messages = [
                { role: 'system', content: 'be brief' },
                { role: 'user', content: 'héllo' },
            ];
            const rendered = 'system: be brief\nuser: héllo\nassistant: ';
            const result = await engine.complete({ messages, maxTokens: 2 });
            expect(result.usage.promptTokens).toBe(Buffer.byteLength(rendered, 'utf8'));
            expect(engine.promptTokenIds(messages)).toEqual([...Buffer.from(rendered, 'utf8')]);
        });

        it('samples when a temperature is given (and then differs from the greedy answer)', async () => {
            const samples = [];
            for (let i = 0; i < 3; i++) samples.push((await engine.complete({ messages: HI, temperature: 100, maxTokens: 20 })).text);
            expect(samples.some((s) => s !== ANSWER.slice(0, 20))).toBe(true);
        });
    });

    describe('streaming, limits and stopping', () => {
        it('streams every token as it is generated, not word by word', async () => {
            const chunks: TokenChunk[] = [];
            const result = await engine.complete({ messages: HI, onToken: (c) => chunks.push(c) });
            expect(chunks).toHaveLength(90);
            expect(chunks.slice(0, 3)).toEqual([
                { text: '!', completionTokens: 1 },
                { text: '"', completionTokens: 2 },
                { text: '#', completionTokens: 3 },
            ]);
            expect(chunks.map((c) => c.text).join('')).toBe(result.text);
            expect(result.text).toBe(ANSWER);
        });

        it('streams a multi-byte character only once all its byte tokens have arrived', async () => {
            // The tiny model only ever answers in ASCII, so feed the detokenizer a byte stream directly.
            const text = 'héllo 🚀 мир';
            const detokenizer = new IncrementalDetokenizer(await AutoTokenizer.from_pretrained(dir, { local_files_only: true }));
            const pieces = [...Buffer.from(text, 'utf8')].map((b) => detokenizer.push(b));
            pieces.push(detokenizer.finish());
            expect(pieces.join('')).toBe(text);
            expect(pieces.filter((p) => p !== '')).toEqual([...text]);
            // The rocket is four byte tokens: nothing is emitted for the first three.
            const rocket = Buffer.byteLength('héllo ', 'utf8');
            expect(pieces.slice(rocket, rocket + 4)).toEqual(['', '', '', '🚀']);
        });

        it('stops at max_tokens with finish_reason "length"', async () => {
            const result = await engine.complete({ messages: HI, maxTokens: 5 });
            expect(result.text).toBe('!"#$%');
            expect(result.finishReason).toBe('length');
            expect(result.usage.completionTokens).toBe(5);
        });

        it('ends before a stop string, leaves it out, and never streams any part of it', async () => {
            const streamed: string[] = [];
            const result = await engine.complete({ messages: HI, stop: ['XYZ', '56'], onToken: (c) => streamed.push(c.text) });
            expect(result.text).toBe('!"#$%&\'()*+,-./01234');
            expect(result.finishReason).toBe('stop');
            expect(streamed.join('')).toBe(result.text);
            // The tokens that formed the stop string were generated, so they are billed.
            expect(result.usage.completionTokens).toBe(22);
        });

        it('caps the completion at the model context and reports "length"', async () => {
            // "user: " + 490 chars + "\nassistant: " = 508 tokens of the 512-position context.
            const result = await engine.complete({ messages: [{ role: 'user', content: 'a'.repeat(490) }], maxTokens: 100 });
            expect(result.usage.promptTokens).toBe(508);
            expect(result.usage.completionTokens).toBe(4);
            expect(result.text).toBe('!"#$');
            expect(result.finishReason).toBe('length');
        });
    });

    describe('cancellation and timeouts', () => {
        it('cancels at the next token when the signal aborts, keeping what was generated', async () => {
            const controller = new AbortController();
            const result = await engine.complete({
                messages: HI,
                signal: controller.signal,
                onToken: (c) => {
                    if (c.completionTokens === 3) controller.abort();
                },
            });
            expect(result.finishReason).toBe('cancelled');
            expect(result.text).toBe('!"#');
            expect(result.usage.completionTokens).toBe(3);
        });

        it('does not run a request whose signal is already aborted', async () => {
            const result = await engine.complete({ messages: HI, signal: AbortSignal.abort() });
            expect(result).toMatchObject({ text: '', finishReason: 'cancelled', usage: { promptTokens: 20, completionTokens: 0 } });
        });

        it('fails a request past its wall-clock limit with a TimeoutError carrying the partial answer', async () => {
            const err = await engine
                .complete({
                    messages: HI,
                    timeoutMs: 300,
                    onToken: (c) => {
                        if (c.completionTokens === 2) {
                            const until = Date.now() + 350;
                            while (Date.now() < until); // a slow step
                        }
                    },
                })
                .catch((e) => e);
            expect(err).toBeInstanceOf(InferenceTimeoutError);
            expect(err.code).toBe('TIMEOUT');
            expect(err.partial).toEqual({ text: '!"', completionTokens: 2 });
        });

        it('reports an error thrown by the token callback and stays usable', async () => {
            const boom = new Error('client went away');
            await expect(
                engine.complete({
                    messages: HI,
                    onToken: () => {
                        throw boom;
                    },
                }),
            ).rejects.toBe(boom);
            expect((await engine.complete({ messages: HI, maxTokens: 2 })).text).toBe('!"');
        });

        it('serves concurrent requests one after another, each with its own answer', async () => {
            const requests: CompletionRequest[] = [
                { messages: HI, maxTokens: 3 },
                { messages: [{ role: 'user', content: 'hello' }], stop: ['#'] },
                { messages: HI, maxTokens: 200 },
            ];
            const results = await Promise.all(requests.map((r) => engine.complete(r)));
            expect(results.map((r) => [r.text, r.finishReason])).toEqual([
                ['!"#', 'length'],
                ['!"', 'stop'],
                [ANSWER, 'stop'],
            ]);
        });
    });

    describe('bad input', () => {
        it('refuses an empty prompt', async () => {
            await expect(engine.complete({ messages: [] })).rejects.toThrow(EmptyPromptError);
            await expect(engine.complete({ messages: [{ role: 'user', content: '' }] })).rejects.toThrow(EmptyPromptError);
        });

        it("refuses a prompt longer than the model's context", async () => {
            const err = await engine.complete({ messages: [{ role: 'user', content: 'a'.repeat(600) }] }).catch((e) => e);
            expect(err).toBeInstanceOf(PromptTooLongError);
            expect(err).toMatchObject({ size: 618, limit: 511, unit: 'tokens' });
            expect(err.message).toMatch(/model's context/);
        });

        it('refuses a prompt over the configured token and character limits', async () => {
            const limited = await EmbeddedEngine.load({ model: dir, maxPromptTokens: 25, maxPromptChars: 50 });
            try {
                const tooManyTokens = await limited.complete({ messages: [{ role: 'user', content: 'abcdefghij' }] }).catch((e) => e);
                expect(tooManyTokens).toMatchObject({ code: 'PROMPT_TOO_LONG', size: 28, limit: 25, unit: 'tokens' });
                expect(tooManyTokens.message).toMatch(/configured limit/);
                const tooManyChars = await limited.complete({ messages: [{ role: 'user', content: 'x'.repeat(51) }] }).catch((e) => e);
                expect(tooManyChars).toMatchObject({ code: 'PROMPT_TOO_LONG', size: 51, limit: 50, unit: 'characters' });
                expect((await limited.complete({ messages: HI, maxTokens: 1 })).text).toBe('!');
            } finally {
                await limited.close();
            }
        });

        it('refuses requests after close', async () => {
            const shortLived = await EmbeddedEngine.load({ model: dir });
            await shortLived.close();
            await expect(shortLived.complete({ messages: HI })).rejects.toThrow(EngineClosedError);
        });

        it('closing lets the running request finish and refuses the queued ones', async () => {
            const shortLived = await EmbeddedEngine.load({ model: dir });
            let closing: Promise<void> | undefined;
            const running = shortLived.complete({
                messages: HI,
                onToken: (c) => {
                    if (c.completionTokens === 5) closing = shortLived.close();
                },
            });
            const queued = shortLived.complete({ messages: HI });
            await expect(running).resolves.toMatchObject({ text: ANSWER, finishReason: 'stop' });
            await expect(queued).rejects.toThrow(EngineClosedError);
            await closing;
        });
    });
});

describe('loading models', () => {
    it('reads a local folder without touching the network', async () => {
        const dir = await tinyModel();
        const realFetch = globalThis.fetch;
        const fetched: string[] = [];
        globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
            fetched.push(String(input));
            return realFetch(input, init);
        }) as typeof fetch;
        try {
            const engine = await EmbeddedEngine.load({ model: dir });
            await engine.complete({ messages: HI, maxTokens: 1 });
            await engine.close();
        } finally {
            globalThis.fetch = realFetch;
        }
        expect(fetched).toEqual([]);
        expect(env.allowRemoteModels).toBe(false);
    });

    it('names an unknown model folder', async () => {
        await expect(EmbeddedEngine.load({ model: '/nonexistent/model-folder' })).rejects.toThrow(ModelNotFoundError);
    });

    it('does not download a hub id unless asked to', async () => {
        const err = await EmbeddedEngine.load({ model: 'some-org/some-model-that-is-not-here' }).catch((e) => e);
        expect(err).toBeInstanceOf(ModelNotFoundError);
        expect(err.message).toMatch(/downloads are off/);
    });

    it('refuses a folder whose files no longer match the registered identity', async () => {
        const dir = await tinyModelCopy();
        try {
            const registered = await writeManifest(dir);
            const ok = await EmbeddedEngine.load({ model: dir, expectedIdentity: { hash: registered.hash } });
            expect(ok.modelHash).toBe(registered.hash);
            await ok.close();
            await fs.appendFile(path.join(dir, 'generation_config.json'), '\n');
            const err = await EmbeddedEngine.load({ model: dir, expectedIdentity: { manifestFile: path.join(dir, 'cocoon-model-manifest.txt') } }).catch(
                (e) => e,
            );
            expect(err).toBeInstanceOf(ModelIdentityMismatchError);
            expect(err.changes.changed).toEqual(['generation_config.json']);
        } finally {
            await cleanup(path.dirname(dir));
        }
    });

    it.each([
        ['a missing tokenizer.json', (d: string) => fs.rm(path.join(d, 'tokenizer.json')), /has no tokenizer\.json/],
        ['a missing tokenizer_config.json', (d: string) => fs.rm(path.join(d, 'tokenizer_config.json')), /has no tokenizer_config\.json/],
        ['missing weights', (d: string) => fs.rm(path.join(d, 'onnx'), { recursive: true }), /no onnx\/\*\.onnx weights/],
        ['weights under another name only', (d: string) => fs.rename(path.join(d, 'onnx/model.onnx'), path.join(d, 'onnx/model_q4.onnx')), /missing a file/],
        ['corrupt weights', (d: string) => fs.writeFile(path.join(d, 'onnx/model.onnx'), 'not a protobuf at all'), /ONNX weights are corrupt/],
        ['truncated weights', async (d: string) => fs.truncate(path.join(d, 'onnx/model.onnx'), 1000), /ONNX weights are corrupt/],
        ['a corrupt config.json', (d: string) => fs.writeFile(path.join(d, 'config.json'), '{"model_type": "llama",'), /config\.json is not valid JSON/],
        [
            'an unknown model type',
            (d: string) => fs.writeFile(path.join(d, 'config.json'), JSON.stringify({ model_type: 'my_tiny_lm', num_hidden_layers: 1 })),
            /model type/,
        ],
        [
            'no chat template',
            async (d: string) => {
                const cfg = JSON.parse(await fs.readFile(path.join(d, 'tokenizer_config.json'), 'utf8'));
                delete cfg.chat_template;
                await fs.writeFile(path.join(d, 'tokenizer_config.json'), JSON.stringify(cfg));
            },
            /no chat template/,
        ],
    ])('refuses a folder with %s, naming the problem', async (_what, breakIt, message) => {
        const dir = await tinyModelCopy();
        try {
            await breakIt(dir);
            const err = await EmbeddedEngine.load({ model: dir }).catch((e) => e);
            expect(err).toBeInstanceOf(ModelFilesError);
            expect(err.code).toBe('MODEL_FILES_INVALID');
            expect(err.message).toMatch(message);
        } finally {
            await cleanup(path.dirname(dir));
        }
    });

    it('runs with a chosen number of ONNX Runtime threads and refuses nonsensical options', async () => {
        const dir = await tinyModel();
        const oneThread = await EmbeddedEngine.load({ model: dir, threads: 1 });
        expect((await oneThread.complete({ messages: HI, maxTokens: 3 })).text).toBe('!"#');
        await oneThread.close();
        await expect(EmbeddedEngine.load({ model: dir, threads: 0 })).rejects.toThrow(/threads must be a positive integer/);
        await expect(EmbeddedEngine.load({ model: dir, device: 'tpu' as never })).rejects.toThrow(/device must be cpu, cuda or webgpu/);
        await expect(EmbeddedEngine.load({ model: '' })).rejects.toThrow(/options\.model must name a model folder/);
    });

    it('says how to enable CUDA when its provider is not installed', async () => {
        const err = await EmbeddedEngine.load({ model: await tinyModel(), device: 'cuda' }).catch((e) => e);
        expect(err).toBeInstanceOf(DeviceUnavailableError);
        expect(err.message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    });

    describe('from a hub when explicitly allowed', () => {
        // A local server with the hub's URL layout (/{id}/resolve/{revision}/{file}) stands in for huggingface.co.
        let server: http.Server;
        let hubHost: string;
        const served: string[] = [];
        beforeAll(async () => {
            const files = tinyModelFiles();
            server = http.createServer((req, res) => {
                served.push(req.url ?? '');
                const m = /^\/cocoon-test\/tiny\/resolve\/main\/(.+)$/.exec(req.url ?? '');
                const body = m ? files.get(decodeURIComponent(m[1])) : undefined;
                if (!body) {
                    res.writeHead(404).end();
                    return;
                }
                res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
                res.end(body);
            });
            await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
            hubHost = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        });
        afterAll(async () => new Promise<void>((r) => server.close(() => r())));

        it('downloads into the cache folder, identifies the model by those files, and switches downloads off again', async () => {
            const cacheDir = await tempDir('hub');
            try {
                const engine = await EmbeddedEngine.load({ model: 'cocoon-test/tiny', allowDownload: true, hubHost, cacheDir });
                expect(engine.model).toBe('cocoon-test/tiny');
                expect((await engine.complete({ messages: HI, maxTokens: 4 })).text).toBe('!"#$');
                expect(engine.modelHash).toBe(await modelHash(path.join(cacheDir, 'cocoon-test', 'tiny')));
                expect(served.some((u) => u.endsWith('/onnx/model.onnx'))).toBe(true);
                await engine.close();
                expect(env.allowRemoteModels).toBe(false);
            } finally {
                await cleanup(cacheDir);
            }
        });

        it('fails clearly when the hub cannot be reached', async () => {
            const cacheDir = await tempDir('hub');
            try {
                const err = await EmbeddedEngine.load({ model: 'cocoon-test/tiny', allowDownload: true, hubHost: 'http://127.0.0.1:9/', cacheDir }).catch(
                    (e) => e,
                );
                expect(err).toBeInstanceOf(ModelNotFoundError);
                expect(err.message).toMatch(/could not fetch "cocoon-test\/tiny"/);
                expect(env.allowRemoteModels).toBe(false);
            } finally {
                await cleanup(cacheDir);
            }
        });
    });
});

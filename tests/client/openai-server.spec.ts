// The OpenAI-compatible API on 127.0.0.1, driven by a plain HTTP client, in front of the real
// client SDK, the real contracts (sandbox chain) and a real worker agent.
import { connect } from 'node:net';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { CocoonClient } from '../../agents/client/client';
import {
    ChannelError,
    InsufficientDepositError,
    InvalidChatRequestError,
    NoWorkerAvailableError,
    OnChainJobError,
    ReceiptRejectedError,
    UnknownModelError,
    WorkerRequestError,
    WorkerUnreachableError,
} from '../../agents/client/errors';
import { ClientServer, httpErrorOf, startClientServer } from '../../agents/client/openai-server';
import { endpointRelay, EndpointRelay, jobRequestsSeen } from './helpers';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { simulatedMeasurement } from '../../agents/enclave/binding';
import { COMPLETION_PRICE, fundedWallet, promptTokensOf, PROMPT_PRICE, removeDir, SandboxWorld, sandboxWorld, startAgent, tempDir, TINY_ANSWER, workerConfig } from '../worker-agent/helpers';

jest.setTimeout(180_000);

describe('the OpenAI-compatible API (cocoon client serve)', () => {
    let world: SandboxWorld;
    let agent: WorkerAgentHandle;
    let client: CocoonClient;
    let server: ClientServer;
    let dir: string;
    let modelId: string;
    let relay: EndpointRelay;

    beforeAll(async () => {
        world = await sandboxWorld();
        dir = tempDir('client-openai');
        // The worker listens on a free port; its registered endpoint is a relay that reaches it.
        relay = await endpointRelay();
        agent = await startAgent(world, workerConfig(world, join(dir, 'worker'), { http: { port: 0, publicUrl: relay.url } }), await fundedWallet(world.net));
        relay.setTarget(Number(new URL(agent.url).port));
        client = await CocoonClient.create({
            chain: world.chain,
            root: world.net.root.address,
            wallet: await fundedWallet(world.net),
            stateDir: join(dir, 'client'),
            pollIntervalMs: 10,
            autoDeposit: toNano('5'),
        });
        server = await startClientServer({ client, port: 0, maxBodyBytes: 64 * 1024, requestTimeoutMs: 1_000 });
        modelId = (await client.listModels())[0].id;
    });

    afterAll(async () => {
        await server?.close();
        await client?.close();
        await agent?.stop();
        await relay?.cut();
        await world?.engine.close();
        removeDir(dir);
    });

    const post = (body: unknown, headers: Record<string, string> = {}, url = server.url) =>
        fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

    async function expectError(res: Response, status: number, code: string) {
        expect(res.status).toBe(status);
        const body = (await res.json()) as { error: { message: string; type: string; code: string; param: unknown } };
        expect(body.error.code).toBe(code);
        expect(typeof body.error.message).toBe('string');
        expect(body.error.message.length).toBeGreaterThan(10);
        expect(body.error).toHaveProperty('type');
        expect(body.error).toHaveProperty('param');
        return body.error;
    }

    it('GET /v1/models lists the verified workers\' models with their hash and prices', async () => {
        const res = await fetch(`${server.url}/v1/models`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { object: string; data: Record<string, unknown>[] };
        expect(body.object).toBe('list');
        expect(body.data).toEqual([
            {
                id: modelId,
                object: 'model',
                created: 0,
                owned_by: 'cocoon',
                cocoon: { hash: world.modelHash, workers: 1, prompt_price_nanoton: PROMPT_PRICE.toString(), completion_price_nanoton: COMPLETION_PRICE.toString() },
            },
        ]);
        expect((await fetch(`${server.url}/v1/models/${encodeURIComponent(modelId)}`)).status).toBe(200);
        await expectError(await fetch(`${server.url}/v1/models/gpt-4`), 404, 'model_not_found');
    });

    it('POST /v1/chat/completions answers like OpenAI, with usage and the cost in nanoTON', async () => {
        const res = await post({ model: modelId, messages: [{ role: 'user', content: 'hello' }], max_tokens: 10, temperature: 0.7, user: 'bot-42' });
        expect(res.status).toBe(200);
        const body = (await res.json()) as Record<string, any>;
        expect(body.object).toBe('chat.completion');
        expect(body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: TINY_ANSWER.slice(0, 10) }, logprobs: null, finish_reason: 'length' }]);
        const prompt = promptTokensOf('hello');
        const cost = BigInt(prompt) * PROMPT_PRICE + 10n * COMPLETION_PRICE;
        expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 10, total_tokens: prompt + 10, cost_nanoton: cost.toString() });
        expect(body.cocoon.worker).toBe(agent.worker.toString());
        expect(body.cocoon.path).toBe('fast');
        expect(body.cocoon.cost_nanoton).toBe(cost.toString());
        // The voucher the client signed for it is in its ledger.
        expect(client.ledger.channel(Address.parse(body.cocoon.channel))!.voucher!.cumulative).toBe(BigInt(body.cocoon.voucher_cumulative_nanoton));
    });

    it('accepts message content given as an array of text parts (as newer OpenAI SDKs send it)', async () => {
        const res = await post({ model: modelId, messages: [{ role: 'user', content: [{ type: 'text', text: 'hel' }, { type: 'text', text: 'lo' }] }], max_tokens: 3 });
        expect(res.status).toBe(200);
        const body = (await res.json()) as Record<string, any>;
        expect(body.usage.prompt_tokens).toBe(promptTokensOf('hello'));
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), 400, 'unsupported_content');
    });

    it('streams server-sent events: role, content deltas, the finish with usage, [DONE]', async () => {
        const res = await post({ model: modelId, messages: [{ role: 'user', content: 'stream' }], max_tokens: 12, stream: true, stream_options: { include_usage: true } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const events = (await res.text()).split('\n\n').filter((e) => e.trim() !== '').map((e) => e.replace(/^data: /, ''));
        expect(events[events.length - 1]).toBe('[DONE]');
        const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
        expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
        expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
        const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
        expect(text).toBe(TINY_ANSWER.slice(0, 12));
        expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
        const finish = chunks.find((c) => c.choices[0]?.finish_reason);
        expect(finish.choices[0].finish_reason).toBe('length');
        const cost = BigInt(promptTokensOf('stream')) * PROMPT_PRICE + 12n * COMPLETION_PRICE;
        expect(finish.usage.cost_nanoton).toBe(cost.toString());
        const usageOnly = chunks[chunks.length - 1];
        expect(usageOnly.choices).toEqual([]);
        expect(usageOnly.usage.completion_tokens).toBe(12);
        expect(new Set(chunks.map((c) => c.id)).size).toBeLessThanOrEqual(2);
    });

    it('refuses malformed requests with OpenAI-style 400 bodies and sends nothing to the worker', async () => {
        const seen = await jobRequestsSeen(agent.url);
        await expectError(await post('{"model": "x", "messages": ['), 400, 'invalid_json');
        await expectError(await post([1, 2]), 400, 'invalid_request');
        await expectError(await post({ messages: [{ role: 'user', content: 'x' }] }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [] }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [{ content: 'x' }] }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'x' }], n: 2 }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'x' }], stream: 'yes' }), 400, 'invalid_request');
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'x' }], stop: [1] }), 400, 'invalid_request');
        // Above the worker's limit (64 tokens in this configuration).
        await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 5000 }), 400, 'invalid_request');
        expect(await jobRequestsSeen(agent.url)).toBe(seen);
    });

    it('answers 404 for an unknown model or route', async () => {
        await expectError(await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), 404, 'model_not_found');
        await expectError(await fetch(`${server.url}/v1/completions`, { method: 'POST', body: '{}' }), 404, 'unknown_url');
        await expectError(await fetch(`${server.url}/v1/chat/completions`), 404, 'unknown_url');
    });

    it('refuses an oversized body with 413, whether announced or streamed in chunks', async () => {
        const big = JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
        await expectError(await post(big), 413, 'request_too_large');
        const chunked = new ReadableStream({
            start(controller) {
                for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
                controller.close();
            },
        });
        const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit);
        await expectError(res, 413, 'request_too_large');
    });

    it('times out a client too slow to send its request (408) and stays available', async () => {
        const answer = await new Promise<string>((resolve, reject) => {
            const socket = connect(server.port, '127.0.0.1');
            let data = '';
            socket.on('data', (d) => (data += d));
            socket.on('close', () => resolve(data));
            socket.on('error', reject);
            socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"model":');
        });
        expect(answer).toMatch(/^HTTP\/1\.1 408/);
        expect(answer).toMatch(/request_timeout/);
        expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
    });

    it('limits completions in flight: one more gets 429', async () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const slow = { chat: async (r: Parameters<CocoonClient['chat']>[0]) => (await gate, client.chat(r)), listModels: () => client.listModels() };
        const limited = await startClientServer({ client: slow, port: 0, maxConcurrent: 1 });
        try {
            const first = post({ model: modelId, messages: [{ role: 'user', content: 'a' }], max_tokens: 2 }, {}, limited.url);
            await new Promise((r) => setTimeout(r, 100));
            await expectError(await post({ model: modelId, messages: [{ role: 'user', content: 'b' }], max_tokens: 2 }, {}, limited.url), 429, 'too_many_requests');
            release();
            expect((await first).status).toBe(200);
        } finally {
            await limited.close();
        }
    });

    it('requires the API key when started with one (401 otherwise)', async () => {
        const guarded = await startClientServer({ client, port: 0, apiKey: 'sk-local-test' });
        try {
            const body = { model: modelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
            const missing = await post(body, {}, guarded.url);
            await expectError(missing, 401, 'invalid_api_key');
            await expectError(await post(body, { authorization: 'Bearer sk-wrong' }, guarded.url), 401, 'invalid_api_key');
            await expectError(await fetch(`${guarded.url}/v1/models`), 401, 'invalid_api_key');
            expect((await post(body, { authorization: 'Bearer sk-local-test' }, guarded.url)).status).toBe(200);
        } finally {
            await guarded.close();
        }
    });

    it('answers 503 when no verified worker offers the model (the only one fails attestation)', async () => {
        const gov = world.net.governance.getSender();
        const measurement = BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex'));
        await world.net.root.send(gov, { value: toNano('0.05') }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement });
        const fresh = await CocoonClient.create({ chain: world.chain, root: world.net.root.address, wallet: await fundedWallet(world.net), stateDir: join(dir, 'fresh'), pollIntervalMs: 10, autoDeposit: toNano('5') });
        const other = await startClientServer({ client: fresh, port: 0 });
        try {
            const models = (await (await fetch(`${other.url}/v1/models`)).json()) as { data: unknown[] };
            expect(models.data).toEqual([]);
            await expectError(await post({ model: world.modelHash, messages: [{ role: 'user', content: 'x' }] }, {}, other.url), 503, 'no_worker');
        } finally {
            await other.close();
            await fresh.close();
            await world.net.root.send(gov, { value: toNano('0.05') }, { $$type: 'AddMeasurement', queryId: 0n, measurement, teeType: 2n });
        }
    });

    it('maps every SDK error to its OpenAI status', () => {
        const cases: [Error, number, string][] = [
            [new InvalidChatRequestError('bad'), 400, 'invalid_request'],
            [new UnknownModelError('no'), 404, 'model_not_found'],
            [new InsufficientDepositError(2n, 1n, 'poor'), 429, 'insufficient_deposit'],
            [new WorkerRequestError(429, 'busy', 'busy'), 429, 'worker_busy'],
            [new WorkerRequestError(500, 'internal', 'x'), 502, 'worker_error'],
            [new ReceiptRejectedError('cost', 'x'), 502, 'receipt_rejected'],
            [new OnChainJobError('expired', 'x'), 502, 'onchain_expired'],
            [new WorkerUnreachableError('http://x', 'x'), 502, 'worker_unreachable'],
            [new NoWorkerAvailableError('none'), 503, 'no_worker'],
            [new ChannelError('closing'), 503, 'channel'],
            [new TypeError('boom'), 500, 'internal'],
        ];
        for (const [error, status, code] of cases) {
            const http = httpErrorOf(error);
            expect([error.name, http.status, http.code]).toEqual([error.name, status, code]);
        }
        // Internal errors never leak their message.
        expect(httpErrorOf(new TypeError('secret detail')).message).not.toMatch(/secret/);
    });
});

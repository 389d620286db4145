// Adversarial tests of the client's OpenAI-compatible server (docs/security.md, "Agents"): the
// real `cocoon client serve` server in front of the real client SDK, a real worker agent and the
// real contracts on a sandbox chain, attacked over real HTTP on 127.0.0.1 with dribbled requests,
// malformed HTTP and malformed JSON. Each gets a named JSON error, nothing reaches the worker (no
// job, nothing charged), and honest requests are answered meanwhile.
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { CocoonClient } from '../../../agents/client/client';
import { ClientServer, startClientServer } from '../../../agents/client/openai-server';
import { WorkerAgentHandle } from '../../../agents/worker/agent';
import { endpointRelay, EndpointRelay, jobRequestsSeen } from '../../client/helpers';
import { fundedWallet, removeDir, SandboxWorld, sandboxWorld, startAgent, tempDir, workerConfig } from '../../worker-agent/helpers';
import { dribble, rawJsonBody, rawRequest, rawStatus } from './helpers';

jest.setTimeout(180_000);

const REQUEST_TIMEOUT_MS = 1_000;

describe("the client's OpenAI-compatible server under attack", () => {
    let world: SandboxWorld;
    let agent: WorkerAgentHandle;
    let client: CocoonClient;
    let server: ClientServer;
    let dir: string;
    let relay: EndpointRelay;
    let modelId: string;

    beforeAll(async () => {
        world = await sandboxWorld();
        dir = tempDir('sec-client');
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
        server = await startClientServer({ client, port: 0, maxBodyBytes: 64 * 1024, requestTimeoutMs: REQUEST_TIMEOUT_MS });
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

    const completion = (content: string) =>
        fetch(`${server.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content }], max_tokens: 2 }),
        });

    it('cuts connections that dribble headers or a body with a JSON 408, sends nothing to the worker, and answers honest requests meanwhile', async () => {
        const body = JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'never finished' }], max_tokens: 2 });
        const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: client\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
        const seen = await jobRequestsSeen(agent.url);
        const attacks = [
            ...Array.from({ length: 4 }, () => dribble(server.port, head + body, 50, REQUEST_TIMEOUT_MS + 4_000)),
            ...Array.from({ length: 4 }, () => dribble(server.port, body, 50, REQUEST_TIMEOUT_MS + 4_000, head)),
        ];
        const honest = await completion('served meanwhile');
        expect(honest.status).toBe(200);
        const answer = (await honest.json()) as { choices: { message: { content: string } }[] };
        expect(answer.choices[0].message.content.length).toBeGreaterThan(0);
        for (const o of await Promise.all(attacks)) {
            expect(o.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
            expect(rawStatus(o.response)).toBe(408);
            expect(rawJsonBody(o.response).error.code).toBe('request_timeout');
        }
        // Only the honest completion reached the worker.
        expect(await jobRequestsSeen(agent.url)).toBe(seen + 1);
    });

    it('answers malformed HTTP, an oversized header block and malformed JSON with named JSON errors, and keeps serving', async () => {
        const seen = await jobRequestsSeen(agent.url);
        const garbage = await rawRequest(server.port, 'HELLO\r\n\r\n');
        expect(rawStatus(garbage)).toBe(400);
        expect(rawJsonBody(garbage).error).toHaveProperty('message');
        const huge = await rawRequest(server.port, `GET /v1/models HTTP/1.1\r\nhost: c\r\nx-big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
        expect(rawStatus(huge)).toBe(431);
        const broken = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
        expect(broken.status).toBe(400);
        const error = ((await broken.json()) as { error: { code: string; type: string; message: string } }).error;
        expect(error.type).toBe('invalid_request_error');
        expect(error.message).toMatch(/JSON/);
        expect(await jobRequestsSeen(agent.url)).toBe(seen);
        expect((await completion('still here')).status).toBe(200);
    });
});

// Adversarial tests of the auditor agent's HTTP API (docs/security.md, "Agents"): the real
// auditor on a sandbox chain with the real contracts, a real worker agent with a real channel,
// attacked over real HTTP on 127.0.0.1 with dribbled requests, malformed HTTP and JSON, and a
// forged equivocation proof. Each gets a named JSON error, nothing is sent on-chain, and the
// auditor keeps serving.
import { randomBytes } from 'node:crypto';
import { Cell, toNano } from '@ton/core';
import { AuditorHandle } from '../../../agents/auditor/agent';
import { WorkerAgentHandle } from '../../../agents/worker/agent';
import { parseReceipt, receiptCell, signCell } from '../../../wrappers/signed';
import { auditorConfig, startAuditorOn, walletSeqno, workerInfo } from '../../auditor/helpers';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, TestClient, workerConfig } from '../../worker-agent/helpers';
import { dribble, rawJsonBody, rawRequest, rawStatus } from './helpers';

jest.setTimeout(120_000);

const REQUEST_TIMEOUT_MS = 1_000;

describe('auditor agent under attack', () => {
    let world: SandboxWorld;
    let dir: string;
    let agent: WorkerAgentHandle;
    let client: TestClient;
    let auditor: AuditorHandle;
    let auditorWallet: Awaited<ReturnType<typeof fundedWallet>>;

    beforeAll(async () => {
        world = await sandboxWorld();
        dir = tempDir('sec-auditor');
        agent = await startAgent(world, workerConfig(world, `${dir}/worker`), await fundedWallet(world.net));
        client = await TestClient.open(world, agent, toNano('5'));
        auditorWallet = await fundedWallet(world.net);
        auditor = await startAuditorOn(world, auditorConfig(world, `${dir}/auditor`, [world.net.auditors[0]], { http: { port: 0, requestTimeoutMs: REQUEST_TIMEOUT_MS } }), auditorWallet);
    });
    afterAll(async () => {
        await auditor?.stop();
        await agent?.stop();
        await world?.engine.close();
        removeDir(dir);
    });

    const port = () => Number(new URL(auditor.url).port);
    const healthy = async () => expect((await fetch(`${auditor.url}/healthz`)).status).toBe(200);

    it('cuts clients that dribble their headers or body with a JSON 408 close to requestTimeoutMs, and keeps serving', async () => {
        const body = JSON.stringify({ first: { receipt: 'x', signature: 'y' }, second: { receipt: 'x', signature: 'y' } });
        const head = `POST /v1/equivocations HTTP/1.1\r\nhost: auditor\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
        const [headers, bodies] = await Promise.all([
            dribble(port(), head + body, 50, REQUEST_TIMEOUT_MS + 4_000),
            dribble(port(), body, 50, REQUEST_TIMEOUT_MS + 4_000, head),
        ]);
        for (const o of [headers, bodies]) {
            expect(o.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
            expect(rawStatus(o.response)).toBe(408);
            expect(rawJsonBody(o.response).error.code).toBe('request_timeout');
        }
        await healthy();
    });

    it('answers malformed HTTP and malformed JSON with named JSON errors', async () => {
        const garbage = await rawRequest(port(), 'NOT HTTP AT ALL\r\n\r\n');
        expect(rawStatus(garbage)).toBe(400);
        expect(rawJsonBody(garbage).error.code).toBe('bad_request');
        const huge = await rawRequest(port(), `GET /healthz HTTP/1.1\r\nhost: a\r\nx-big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
        expect(rawStatus(huge)).toBe(431);
        const res = await fetch(`${auditor.url}/v1/equivocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"first": ' });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('bad-json');
        await healthy();
    });

    it('refuses a forged equivocation proof (a receipt the worker never signed): no transaction, the worker keeps its stake', async () => {
        const job = await client.chat(1n, 'genuine', 2);
        expect(job.status).toBe(200);
        const genuine = job.v!.cell;
        const forged = receiptCell({ ...parseReceipt(genuine), resultHash: parseReceipt(genuine).resultHash ^ 1n });
        const seqnoBefore = await walletSeqno(world, auditorWallet);
        const stakeBefore = (await workerInfo(world, agent.worker)).stake;
        const res = await fetch(`${auditor.url}/v1/equivocations`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
                first: { receipt: genuine.toBoc().toString('base64'), signature: job.v!.signature.toString('base64') },
                second: { receipt: forged.toBoc().toString('base64'), signature: signCell(forged, randomBytes(32)).toString('base64') },
            }),
        });
        const body = (await res.json()) as { error: { code: string; reason: string; message: string } };
        expect({ status: res.status, reason: body.error.reason }).toEqual({ status: 422, reason: 'bad-signature' });
        expect(body.error.message).toMatch(/not signed by the worker's enclave key/);
        expect(await walletSeqno(world, auditorWallet)).toBe(seqnoBefore);
        expect((await workerInfo(world, agent.worker)).stake).toBe(stakeBefore);
        expect(Cell.fromBoc(genuine.toBoc())[0].hash()).toEqual(genuine.hash());
        await healthy();
    });
});

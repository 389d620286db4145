// The worker agent's lifecycle: bounded concurrency (429 when full), graceful shutdown (stop
// taking work, finish in-flight jobs, flush the journal, exit 0), handing back a job that outlives
// the grace period and finishing it after a restart, and stopping with a non-zero exit when the
// journal cannot be written.
import { toNano } from '@ton/core';
import { Wallet } from '../../agents/chain/wallet';
import { CompletionRequest, CompletionResult, InferenceEngine } from '../../agents/inference/engine';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { JournalStore } from '../../agents/store/store';
import { jobKey, JobRecord } from '../../agents/worker/signing-journal';
import { join } from 'node:path';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, TestClient, TINY_ANSWER, workerConfig } from './helpers';

jest.setTimeout(120_000);

/** The real tiny model behind a gate the test opens: jobs can be held in flight on purpose. */
class GatedEngine implements InferenceEngine {
    readonly kind = 'embedded' as const;
    private release!: () => void;
    private gate!: Promise<void>;
    started = 0;
    private startedWaiters: (() => void)[] = [];

    constructor(private readonly inner: InferenceEngine) {
        this.close_();
    }

    get model() {
        return this.inner.model;
    }

    get modelHash() {
        return this.inner.modelHash;
    }

    /** Closes the gate (jobs wait at it). */
    close_(): void {
        this.gate = new Promise((resolve) => (this.release = resolve));
    }

    open(): void {
        this.release();
    }

    /** Resolves once `count` generations have started. */
    async waitStarted(count: number): Promise<void> {
        while (this.started < count) await new Promise<void>((r) => this.startedWaiters.push(r));
    }

    async complete(request: CompletionRequest): Promise<CompletionResult> {
        this.started += 1;
        for (const w of this.startedWaiters.splice(0)) w();
        await Promise.race([this.gate, new Promise<void>((resolve) => request.signal?.addEventListener('abort', () => resolve(), { once: true }))]);
        // An aborted request reaches the real engine, which answers finishReason "cancelled".
        return this.inner.complete(request);
    }

    async close(): Promise<void> {}
}

describe('worker agent lifecycle', () => {
    let world: SandboxWorld;

    beforeAll(async () => {
        world = await sandboxWorld();
    });
    afterAll(async () => world?.engine.close());

    async function setup(overrides: Record<string, unknown> = {}, slot = 0) {
        const wallet = await fundedWallet(world.net);
        const dir = tempDir('worker-life');
        const engine = new GatedEngine(world.engine);
        const config = workerConfig(world, dir, { slot, ...overrides });
        const agent = await startAgent(world, config, wallet, { engine });
        const client = await TestClient.open(world, agent, toNano('5'));
        return { wallet, dir, engine, agent, client, config };
    }

    it('refuses a job with 429 busy when every slot and the queue are taken, journalling nothing for it', async () => {
        const { dir, engine, agent, client } = await setup({ limits: { maxConcurrentJobs: 1, maxQueuedJobs: 1 } });
        try {
            const running = client.chat(1n, 'one', 3, { pay: false });
            await engine.waitStarted(1);
            const queued = client.chat(2n, 'two', 3, { pay: false });
            await new Promise((r) => setTimeout(r, 100));
            expect(agent.scheduler.queued).toBe(1);
            const { res } = await client.post(3n, { messages: [{ role: 'user', content: 'three' }], max_tokens: 3 });
            expect(res.status).toBe(429);
            expect(res.headers.get('retry-after')).toBe('1');
            expect(((await res.json()) as any).error.code).toBe('busy');
            expect(agent.journal.job(client.address, 3n)).toBeUndefined();
            engine.open();
            expect((await running).status).toBe(200);
            expect((await queued).status).toBe(200);
        } finally {
            engine.open();
            await agent.stop();
            removeDir(dir);
        }
    });

    it('shuts down gracefully: takes no new work, finishes the job in flight, flushes the journal, exits 0', async () => {
        const { dir, engine, agent, client } = await setup({}, 1);
        const inFlight = client.chat(1n, 'finish me', 4, { pay: false });
        await engine.waitStarted(1);
        const stopped = agent.stop();
        await new Promise((r) => setTimeout(r, 50));
        const refused = await client.post(2n, { messages: [{ role: 'user', content: 'late' }], max_tokens: 2 });
        expect(refused.res.status).toBe(503);
        expect(((await refused.res.json()) as any).error.code).toBe('draining');
        const health = (await (await fetch(`${agent.url}/healthz`)).json()) as any;
        expect(health.status).toBe('draining');
        engine.open();
        const answer = await inFlight;
        expect(answer.status).toBe(200);
        expect(answer.v!.answer.content).toBe(TINY_ANSWER.slice(0, 4));
        expect(answer.v!.signatureValid).toBe(true);
        await stopped;
        expect(await agent.done).toEqual({ exitCode: 0 });
        await expect(fetch(`${agent.url}/healthz`)).rejects.toThrow();
        // The journal was closed cleanly and holds the signed receipt.
        const store = JournalStore.open(join(dir, 'worker.journal'));
        const record = store.get<JobRecord>(jobKey(client.address, 1n))!;
        expect(record.state).toBe('signed');
        expect(record.signature).toEqual(answer.v!.signature);
        expect(store.get(jobKey(client.address, 2n))).toBeUndefined();
        expect(store.repairedBytes).toBe(0);
        store.close();
        removeDir(dir);
    });

    it('hands back a job that outlives the grace period unsigned, and finishes it after a restart with one signature', async () => {
        const { dir, engine, agent, client, config, wallet } = await setup({ shutdownGraceMs: 200 }, 2);
        const payload = { messages: [{ role: 'user', content: 'slow' }], max_tokens: 5 };
        const first = client.post(1n, payload);
        await engine.waitStarted(1);
        await agent.stop();
        const { res, sealed } = await first;
        expect(res.status).toBe(503);
        expect(((await res.json()) as any).error.message).toMatch(/handed back/);
        // Nothing signed: the intent (with its encrypted request) stays journalled.
        const store = JournalStore.open(join(dir, 'worker.journal'));
        const handedBack = store.get<JobRecord>(jobKey(client.address, 1n))!;
        expect(handedBack.state).toBe('intent');
        expect(handedBack.signature).toBeUndefined();
        store.close();

        // Restart on the same data dir (same sealed keys): the agent finishes the job by itself.
        const restarted = await startAgent(world, config, wallet);
        try {
            const deadline = Date.now() + 20_000;
            while (restarted.journal.job(client.address, 1n)?.state !== 'signed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
            const record = restarted.journal.job(client.address, 1n)!;
            expect(record.state).toBe('signed');
            expect(restarted.metrics.receiptsSigned.get()).toBe(1);
            // The client's retry (the same envelope: its reply key opens the journalled answer) gets that receipt.
            client.agent = restarted;
            const retry = await client.post(1n, payload, { resend: sealed });
            expect(retry.res.status).toBe(200);
            const body = (await retry.res.json()) as Record<string, string>;
            const v = client.verify(1n, payload, body, retry.sealed.replyKeyPair.secretKey);
            expect(v.signature).toEqual(record.signature);
            expect(v.signatureValid).toBe(true);
            expect(v.answer.content).toBe(TINY_ANSWER.slice(0, 5));
            expect(restarted.metrics.receiptsSigned.get()).toBe(1);
        } finally {
            await restarted.stop();
            removeDir(dir);
        }
    });

    it('ends a stream that fails after it began with an error event, signs nothing, and lets the same input run again', async () => {
        const { dir, engine, agent, client } = await setup({}, 4);
        engine.open();
        let failNext = true;
        const original = engine.complete.bind(engine);
        engine.complete = async (request) => {
            if (!failNext) return original(request);
            failNext = false;
            request.onToken?.({ text: '!', completionTokens: 1 });
            const { InferenceTimeoutError } = await import('../../agents/inference/errors');
            throw new InferenceTimeoutError('generation ran past its limit', { text: '!', completionTokens: 1 });
        };
        try {
            const payload = { messages: [{ role: 'user', content: 'stream' }], max_tokens: 3 };
            const { res } = await client.post(1n, payload, { stream: true });
            expect(res.status).toBe(200);
            const { readEvents } = await import('./helpers');
            const events = await readEvents(res);
            expect(events.map((e) => e.event)).toEqual(['chunk', 'error']);
            expect(events[1].data).toMatchObject({ code: 'internal', message: expect.stringMatching(/past its limit/) });
            expect(agent.journal.job(client.address, 1n)?.state).toBe('failed');
            expect(agent.metrics.receiptsSigned.get()).toBe(0);
            const again = await client.chat(1n, 'stream', 3);
            expect(again.status).toBe(200);
            expect(again.v!.answer.content).toBe(TINY_ANSWER.slice(0, 3));
        } finally {
            await agent.stop();
            removeDir(dir);
        }
    });

    it('stops taking work and exits non-zero when its journal cannot be written, signing nothing without a record', async () => {
        const { dir, agent, client, engine } = await setup({}, 3);
        engine.open();
        expect((await client.chat(1n, 'fine', 2)).status).toBe(200);
        const signed = agent.metrics.receiptsSigned.get();
        agent.store.close(); // the journal file can no longer be appended to
        const { res } = await client.post(2n, { messages: [{ role: 'user', content: 'no record' }], max_tokens: 2 });
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('journal_unwritable');
        const done = await agent.done;
        expect(done.exitCode).toBe(1);
        expect(done.error?.message).toMatch(/cannot be written/);
        expect(agent.metrics.receiptsSigned.get()).toBe(signed);
        await expect(fetch(`${agent.url}/healthz`)).rejects.toThrow();
        removeDir(dir);
    });
});

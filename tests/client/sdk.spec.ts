// The client SDK end to end on the sandbox chain with the real contracts and a real worker agent
// (the tiny model, a simulated enclave) serving its HTTP API on 127.0.0.1.
import { toNano } from '@ton/core';
import { join } from 'node:path';
import { CocoonClient } from '../../agents/client/client';
import { sealRequest } from '../../agents/core/envelope';
import { signJobRequest } from '../../agents/core/job-auth';
import { walletDerivedVoucherKeys } from '../../agents/client/ledger';
import { NoWorkerAvailableError, OnChainJobError } from '../../agents/client/errors';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { createLogger } from '../../agents/worker/logger';
import { simulatedMeasurement } from '../../agents/enclave/binding';
import { Channel, eventsOf, voucherCell, verifyCell, Worker } from '../../wrappers';
import { fundedWallet, removeDir, SandboxWorld, sandboxWorld, startAgent, tempDir, TINY_ANSWER, workerConfig, promptTokensOf, PROMPT_PRICE, COMPLETION_PRICE } from '../worker-agent/helpers';
import { endpointRelay, EndpointRelay, jobRequestsSeen } from './helpers';

jest.setTimeout(180_000);

describe('the client SDK against a real worker agent', () => {
    let world: SandboxWorld;
    let agent: WorkerAgentHandle;
    let relay: EndpointRelay;
    let dir: string;

    beforeAll(async () => {
        world = await sandboxWorld();
        dir = tempDir('client-sdk');
        relay = await endpointRelay();
        const config = workerConfig(world, join(dir, 'worker'), { http: { port: 0, publicUrl: relay.url } });
        agent = await startAgent(world, config, await fundedWallet(world.net), process.env.COCOON_TEST_LOG ? { log: createLogger({ level: 'warn' }) } : {});
        relay.setTarget(Number(new URL(agent.url).port));
    });

    afterAll(async () => {
        await relay?.cut(); // closes its listener (already closed when the unreachable-endpoint tests ran)
        await agent?.stop();
        await world?.engine.close();
        removeDir(dir);
    });

    async function newClient(name: string, options: Partial<Parameters<typeof CocoonClient.create>[0]> = {}) {
        return CocoonClient.create({
            chain: world.chain,
            root: world.net.root.address,
            wallet: await fundedWallet(world.net),
            stateDir: join(dir, name),
            pollIntervalMs: 10,
            autoDeposit: toNano('5'),
            ...options,
        });
    }

    it("discovers the worker from Root's events, verifies it and lists its model", async () => {
        const client = await newClient('discovery');
        try {
            const workers = await client.refresh();
            expect(workers.map((w) => w.address.toString())).toEqual([agent.worker.toString()]);
            expect(workers[0].endpoint).toBe(relay.url);
            expect(workers[0].latencyMs).toBeGreaterThan(0);
            const models = await client.listModels();
            expect(models).toEqual([{ id: expect.any(String), hash: world.modelHash, workers: 1, promptPrice: PROMPT_PRICE, completionPrice: COMPLETION_PRICE }]);
            expect(await client.resolveModel(models[0].id)).toBe(world.modelHash);
        } finally {
            await client.close();
        }
    });

    it('sends several encrypted requests: each receipt is checked and the vouchers grow by exactly each cost', async () => {
        const client = await newClient('fast');
        try {
            const results = [];
            for (const content of ['hi', 'hello', 'hey there']) {
                results.push(await client.chat({ model: world.modelHash, messages: [{ role: 'user', content }], max_tokens: 8 }));
            }
            let cumulative = 0n;
            results.forEach((r, i) => {
                expect(r.path).toBe('fast');
                expect(r.content).toBe(TINY_ANSWER.slice(0, 8));
                expect(r.usage.promptTokens).toBe(promptTokensOf(['hi', 'hello', 'hey there'][i]));
                expect(r.usage.completionTokens).toBe(8);
                expect(r.usage.cost).toBe(BigInt(r.usage.promptTokens) * PROMPT_PRICE + 8n * COMPLETION_PRICE);
                cumulative += r.usage.cost;
                expect(r.voucherCumulative).toBe(cumulative);
            });
            expect(new Set(results.map((r) => r.seq)).size).toBe(3);
            const channel = client.ledger.channel(results[0].channel)!;
            expect(channel.owed).toBe(cumulative);
            // The last voucher is signed by the key the channel holds, and the worker confirmed it.
            const state = await world.net.blockchain.openContract(Channel.fromAddress(channel.address)).getState();
            expect(verifyCell(voucherCell({ channel: channel.address, cumulative }), channel.voucher!.signature, Buffer.from(state.clientKey.toString(16).padStart(64, '0'), 'hex'))).toBe(true);
            // The voucher for the last answer is delivered after chat() returns; the next request waits for it.
            await client.voucherDelivered(channel.address);
            expect(client.ledger.channel(channel.address)!.deliveredCumulative).toBe(cumulative);
            expect(client.ledger.receipts(channel.address)).toHaveLength(3);
        } finally {
            await client.close();
        }
    });

    it('sends the voucher for an answer along with the next request; the last one goes on its own after voucherDelayMs', async () => {
        const client = await newClient('carried', { voucherDelayMs: 600_000 });
        try {
            const first = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
            const vouchersBefore = await jobRequestsSeen(agent.url, 'vouchers');
            const results = [];
            for (const content of ['one', 'two', 'three']) results.push(await client.chat({ model: world.modelHash, messages: [{ role: 'user', content }], max_tokens: 4 }));
            // No voucher request of its own: each job request carried the voucher for the answers before it.
            expect(await jobRequestsSeen(agent.url, 'vouchers')).toBe(vouchersBefore);
            expect(agent.journal.books(first.channel).voucher?.cumulative).toBe(results[1].voucherCumulative);
            expect(client.ledger.channel(first.channel)!.deliveredCumulative).toBe(results[1].voucherCumulative);
            // The last answer's voucher has no request to ride on: voucherDelivered (and close) send it at once.
            await client.voucherDelivered(first.channel);
            expect(await jobRequestsSeen(agent.url, 'vouchers')).toBe(vouchersBefore + 1);
            expect(agent.journal.books(first.channel).voucher?.cumulative).toBe(results[2].voucherCumulative);
            expect(client.ledger.channel(first.channel)!.deliveredCumulative).toBe(results[2].voucherCumulative);
        } finally {
            await client.close();
        }
        const idle = await newClient('carried-idle', { voucherDelayMs: 20 });
        try {
            const only = await idle.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
            // Nobody calls voucherDelivered: the timer sends it.
            for (let i = 0; i < 100 && idle.ledger.channel(only.channel)!.deliveredCumulative < only.voucherCumulative!; i++) await new Promise((r) => setTimeout(r, 50));
            expect(idle.ledger.channel(only.channel)!.deliveredCumulative).toBe(only.voucherCumulative!);
            expect(agent.journal.books(only.channel).voucher?.cumulative).toBe(only.voucherCumulative);
        } finally {
            await idle.close();
        }
    });

    it('takes a new seq when the worker has seen its next one already (409 seq_used, as after a power cut lost the last seq)', async () => {
        const logged: Record<string, unknown>[] = [];
        const client = await newClient('seq-used', { log: (e) => logged.push(e) });
        try {
            const first = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
            await client.voucherDelivered(first.channel);
            // The client's next seq was used with another input: its own request, sent just before a power cut lost the seq.
            const next = first.seq + 1n;
            const sealed = sealRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'other' }], max_tokens: 4 })), {
                recipientKey: agent.enclave.publicKeys.encryptionKey,
                context: { channel: first.channel, seq: next },
            });
            const res = await fetch(`${agent.url}/v1/jobs`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({
                    channel: first.channel.toString(),
                    seq: next.toString(),
                    model: world.modelHash,
                    envelope: sealed.envelope.toString('base64'),
                    auth: signJobRequest(first.channel, next, sealed.envelope, walletDerivedVoucherKeys(client.options.wallet.key).keyFor(first.channel).seed).toString('base64'),
                }),
            });
            expect(res.status).toBe(200);
            const second = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 });
            expect(second.seq).toBe(next + 1n);
            expect(logged.filter((e) => e.event === 'client-seq-retry')).toHaveLength(1);
        } finally {
            await client.close();
        }
    });

    it('serves several requests in flight on one channel; the worker ends up holding the voucher for every answer', async () => {
        const client = await newClient('concurrent');
        try {
            // Open the channel first, then four requests at once (the worker runs one and queues four).
            await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
            const results = await Promise.all(
                Array.from({ length: 4 }, (_, i) => client.chat({ model: world.modelHash, messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 8 })),
            );
            expect(results.every((r) => r.path === 'fast')).toBe(true);
            const channel = results[0].channel;
            await client.voucherDelivered(channel);
            const record = client.ledger.channel(channel)!;
            expect(client.ledger.receipts(channel)).toHaveLength(5);
            // Every answer is paid for, and the worker holds the voucher for all of them.
            expect(record.voucher!.cumulative).toBe(record.owed);
            expect(record.deliveredCumulative).toBe(record.owed);
        } finally {
            await client.close();
        }
    });

    it('streams the answer piece by piece and checks that the pieces are what the receipt signs', async () => {
        const client = await newClient('stream');
        try {
            const deltas: string[] = [];
            const result = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'stream please' }], max_tokens: 12, onDelta: (d) => deltas.push(d) });
            expect(deltas.length).toBeGreaterThan(1);
            expect(deltas.join('')).toBe(result.content);
            expect(result.content).toBe(TINY_ANSWER.slice(0, 12));
        } finally {
            await client.close();
        }
    });

    it('keeps its seqs and vouchers across a restart: never a seq twice, never a lower voucher', async () => {
        let client = await newClient('restart');
        const first = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'one' }], max_tokens: 4 });
        const wallet = client.wallet;
        await client.close();
        client = await CocoonClient.create({ chain: world.chain, root: world.net.root.address, wallet, stateDir: join(dir, 'restart'), pollIntervalMs: 10, autoDeposit: toNano('5') });
        try {
            const second = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'two' }], max_tokens: 4 });
            expect(second.channel.equals(first.channel)).toBe(true);
            expect(second.seq).toBe(first.seq + 1n);
            expect(second.voucherCumulative).toBe(first.voucherCumulative! + second.usage.cost);
        } finally {
            await client.close();
        }
    });

    it('refuses a worker whose evidence fails verification, and sends it nothing', async () => {
        const client = await newClient('refusal');
        const seenBefore = await jobRequestsSeen(agent.url);
        const gov = world.net.governance.getSender();
        const measurement = BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex'));
        await world.net.root.send(gov, { value: toNano('0.05') }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement });
        try {
            const error = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'secret prompt' }] }).catch((e) => e);
            expect(error).toBeInstanceOf(NoWorkerAvailableError);
            expect(error.message).toMatch(/attestation_refused.*measurement-not-allowed/);
            expect(client.refused).toHaveLength(1);
            expect(await jobRequestsSeen(agent.url)).toBe(seenBefore);
            // No channel was opened either: no money moved toward the refused worker.
            expect(client.ledger.channels()).toHaveLength(0);
        } finally {
            await world.net.root.send(gov, { value: toNano('0.05') }, { $$type: 'AddMeasurement', queryId: 0n, measurement, teeType: 2n });
            await client.close();
        }
    });

    describe('when the worker endpoint becomes unreachable', () => {
        let client: CocoonClient;
        let warm: Awaited<ReturnType<CocoonClient['chat']>>;

        beforeAll(async () => {
            client = await newClient('fallback', { fallback: { deadlineSeconds: 120 } });
            warm = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'warm' }], max_tokens: 4 });
        });
        afterAll(() => client.close());

        it('falls back to an on-chain job: the worker agent commits the result on-chain and the client reads it', async () => {
            await relay.cut();
            const result = await client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'on chain' }], max_tokens: 6 });
            expect(result.path).toBe('onchain');
            expect(result.channel.equals(warm.channel)).toBe(true);
            expect(result.seq).toBe(1n << 63n);
            expect(result.content).toBe(TINY_ANSWER.slice(0, 6));
            expect(result.usage.cost).toBe(BigInt(promptTokensOf('on chain')) * PROMPT_PRICE + 6n * COMPLETION_PRICE);
            const txs = await world.chain.getTransactions(result.channel, { limit: 30 });
            const committed = txs.flatMap((tx) => eventsOf(tx)).filter((e) => e.$$type === 'ResultCommitted');
            expect(committed).toHaveLength(1);
            expect(client.ledger.onChainJob(result.channel, result.seq)?.status).toBe('committed');
        });

        it('when the worker stays down past the deadline, expires the job and is compensated from its stake', async () => {
            await agent.stop();
            const walletBefore = (await world.chain.getAccount(client.wallet.address)).balance;
            // The committed job of the previous test stays locked until its challenge window ends.
            const lockedBefore = (await world.net.blockchain.openContract(Channel.fromAddress(warm.channel)).getState()).locked;
            const stakeBefore = await world.net.blockchain.openContract(Worker.fromAddress(agent.worker)).getStake();
            const pending = client.chat({ model: world.modelHash, messages: [{ role: 'user', content: 'anyone there?' }], max_tokens: 4 }).catch((e) => e);
            // Wait until the job is posted, then let chain time pass its deadline.
            let posted;
            for (let i = 0; i < 500 && !posted; i++) {
                posted = client.ledger.openOnChainJobs().find((j) => j.status === 'posted');
                if (!posted) await new Promise((r) => setTimeout(r, 20));
            }
            expect(posted).toBeDefined();
            const locked = (await world.net.blockchain.openContract(Channel.fromAddress(warm.channel)).getState()).locked;
            expect(locked - lockedBefore).toBe(posted!.maxPayment);
            world.net.blockchain.now = posted!.deadline + 1;
            const error = await pending;
            expect(error).toBeInstanceOf(OnChainJobError);
            expect(error.reason).toBe('expired');
            const timeoutSlash = world.net.params.timeoutSlash;
            expect(error.message).toContain(`paid ${timeoutSlash} nanoTON in compensation`);
            const state = await world.net.blockchain.openContract(Channel.fromAddress(warm.channel)).getState();
            expect(state.locked).toBe(lockedBefore);
            expect(state.openJobs).toBe(1n);
            const stakeAfter = await world.net.blockchain.openContract(Worker.fromAddress(agent.worker)).getStake();
            expect(stakeBefore - stakeAfter).toBe(timeoutSlash);
            // The wallet got the compensation, less the gas of posting and expiring.
            const gained = (await world.chain.getAccount(client.wallet.address)).balance - walletBefore;
            expect(gained).toBeGreaterThan(timeoutSlash - toNano('0.2'));
            expect(client.ledger.onChainJob(warm.channel, posted!.seq)?.status).toBe('expired');
        });
    });
});

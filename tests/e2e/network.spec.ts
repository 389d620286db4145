// The whole network as separate processes over HTTP, the way operators run it: `cocoon devnet`,
// `cocoon deploy`, two `cocoon worker start`, `cocoon auditor start`, `cocoon client channel
// open|chat|serve`, each a `node bin/cocoon.js` child; the OpenAI-compatible endpoint is driven by
// plain fetch. The model backend is the fake OpenAI-compatible server (a real HTTP server in this
// process) so the test can hold a job in the model while the worker is killed.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Wallet } from '../../agents/chain/wallet';
import { ClientLedger } from '../../agents/client/ledger';
import { ed25519FromSeed } from '../../agents/core/ed25519';
import { FakeOpenAIServer } from '../../agents/inference/testing/fake-openai-server';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';
import { computeManifest } from '../../agents/inference/model-identity';
import { JournalStore } from '../../agents/store/store';
import { openOnChain } from '../../agents/worker/chain-access';
import { readWorkerInfo } from '../../agents/worker/registration';
import { JobRecord } from '../../agents/worker/signing-journal';
import { Channel, channelFor } from '../../wrappers';
import { DevnetProcess, faucet, startDevnet } from '../agents/helpers/devnet-process';
import { removeDir, tempDir, TINY_MODEL_DIR } from '../worker-agent/helpers';
import { CocoonProcess, killAll, runCocoon, spawnCocoon } from './helpers/cocoon-process';
import { freePort, walletWithMnemonicFile as mnemonicFile } from '../helpers/process-fixtures';

jest.setTimeout(300_000);

const PROMPT_PRICE = 1000n;
const COMPLETION_PRICE = 2000n;
const ANSWER = 'Hello from the backend.';

/** A request with a raw body; returns the status and the parsed JSON body (or the text). */
async function send(url: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
    const res = await fetch(url, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), body: init.body, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const text = await res.text();
    let body: unknown = text;
    try {
        body = JSON.parse(text);
    } catch {
        /* not JSON */
    }
    return { status: res.status, body };
}

function metric(text: string, name: string, labels: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
    return line ? Number(line.split(' ').pop()) : 0;
}

describe('the network as separate processes: devnet, deploy, workers, auditor, client', () => {
    let dir: string;
    let devnet: DevnetProcess;
    let chain: ToncenterChain;
    let backendA: FakeOpenAIServer;
    let backendB: FakeOpenAIServer;
    let root: Address;
    let modelHash: string;
    let client: { wallet: Wallet; file: string };
    let auditorWallet: { wallet: Wallet; file: string };
    let workerAConfig: string;
    let workerADataDir: string;
    let workerA: CocoonProcess;
    let workerB: CocoonProcess;
    let workerAAddress: Address;
    let workerBAddress: Address;
    let clientConfig: string;
    let clientStateDir: string;
    let channelA: Address;
    const auditorSeed = randomBytes(32);

    const startWorker = async (config: string, env: NodeJS.ProcessEnv = {}) => {
        const p = spawnCocoon(['worker', 'start', '--config', config], env);
        await p.waitFor('ready');
        return p;
    };

    beforeAll(async () => {
        dir = tempDir('network');
        devnet = await startDevnet({ dataDir: join(dir, 'devnet') });
        chain = new ToncenterChain({ endpoint: devnet.jsonRpc });
        await ensureTinyModel(TINY_MODEL_DIR);
        modelHash = (await computeManifest(TINY_MODEL_DIR)).hash;
        backendA = await FakeOpenAIServer.start({ answer: ANSWER });
        backendB = await FakeOpenAIServer.start({ answer: 'B should never be asked.' });

        const governance = await mnemonicFile(dir, 'governance');
        const ownerA = await mnemonicFile(dir, 'worker-a');
        const ownerB = await mnemonicFile(dir, 'worker-b');
        client = await mnemonicFile(dir, 'client');
        auditorWallet = await mnemonicFile(dir, 'auditor');
        for (const w of [governance, ownerA, ownerB, client, auditorWallet]) await faucet(devnet.url, w.wallet.address.toString(), toNano('100'));

        // Short dev windows: the devnet's time is the wall clock.
        const params = join(dir, 'params.json');
        writeFileSync(
            params,
            JSON.stringify({
                instance: 0,
                params: {
                    minWorkerStake: '10',
                    unbondingDelay: 600,
                    attestationTtl: 2592000,
                    attestationApprovals: 0,
                    allowSimulatedTee: true,
                    timeoutSlash: '1',
                    equivocationSlashBps: 5000,
                    faultSlashBps: 1000,
                    reporterRewardBps: 1000,
                    channel: { challengeWindow: 5, disputeWindow: 5, maxJobDeadline: 120, clientCloseDelay: 5, protocolFeeBps: 100, minChannelDeposit: '1', maxOpenJobs: 16, disputeBond: '1' },
                },
            }),
        );
        const auditorKey = ed25519FromSeed(auditorSeed).publicKey.toString('hex');
        const deployArgs = ['deploy', '--params', params, '--network', 'devnet', '--endpoint', devnet.jsonRpc, '--mnemonic-file', governance.file, '--state-dir', join(dir, 'deploy')];
        const deployed = await runCocoon([...deployArgs, '--measurement', 'image:cocoon-worker-dev', '--model', TINY_MODEL_DIR, '--auditor', auditorKey]);
        expect(deployed.stderr).toBe('');
        expect(deployed.code).toBe(0);
        expect(deployed.events[0]).toMatchObject({ event: 'deployed', owner: governance.wallet.address.toString(), models: [modelHash], auditors: [auditorKey], paramsVersion: expect.any(String) });
        root = Address.parse(deployed.events[0].root);
        // Idempotent: a second run reuses the Root and sends nothing new.
        const again = await runCocoon([...deployArgs, '--model', modelHash]);
        expect(again.code).toBe(0);
        expect(again.events[0].root).toBe(root.toString());

        const workerConfig = async (name: string, owner: string, backend: FakeOpenAIServer, extra: Record<string, unknown> = {}) => {
            const dataDir = join(dir, `${name}-data`);
            mkdirSync(dataDir);
            const file = join(dir, `${name}.json`);
            writeFileSync(
                file,
                JSON.stringify({
                    network: 'devnet',
                    chain: { endpoint: devnet.jsonRpc },
                    root: root.toString(),
                    wallet: { mnemonicFile: owner },
                    dataDir,
                    model: { engine: 'openai-compatible', baseUrl: backend.baseUrl, model: 'fake-model', modelDir: TINY_MODEL_DIR },
                    prices: { prompt: String(PROMPT_PRICE), completion: String(COMPLETION_PRICE) },
                    http: { port: await freePort(), maxBodyBytes: 64 * 1024 },
                    limits: { maxTokens: 64, maxPromptBytes: 16 * 1024, jobTimeoutMs: 60_000 },
                    watcher: { pollIntervalMs: 200 },
                    ...extra,
                }),
            );
            return { file, dataDir };
        };
        const a = await workerConfig('worker-a', ownerA.file, backendA);
        workerAConfig = a.file;
        workerADataDir = a.dataDir;
        // Worker B's simulated evidence is signed by an attestation key no client trusts.
        const b = await workerConfig('worker-b', ownerB.file, backendB, { enclave: { attestationSeedEnv: 'WORKER_B_ATTESTATION_SEED' } });
        [workerA, workerB] = await Promise.all([startWorker(a.file), startWorker(b.file, { WORKER_B_ATTESTATION_SEED: randomBytes(32).toString('hex') })]);
        workerAAddress = Address.parse(workerA.events[0].worker);
        workerBAddress = Address.parse(workerB.events[0].worker);
        expect(workerA.events[0]).toMatchObject({ status: 'active', actions: ['registered'], model: modelHash });
        expect(workerB.events[0]).toMatchObject({ status: 'active', actions: ['registered'] });

        clientStateDir = join(dir, 'client-state');
        clientConfig = join(dir, 'client.json');
        writeFileSync(
            clientConfig,
            JSON.stringify({
                network: 'devnet',
                chain: { endpoint: devnet.jsonRpc },
                root: root.toString(),
                wallet: { mnemonicFile: client.file },
                stateDir: clientStateDir,
                pollIntervalMs: 200,
                requestTimeoutMs: 60_000,
                fallback: { deadlineSeconds: 90 },
                server: { maxBodyBytes: 16 * 1024 },
            }),
        );
        channelA = (await channelFor(root, client.wallet.address, workerAAddress)).address;
    });

    afterAll(async () => {
        killAll();
        await backendA?.close();
        await backendB?.close();
        await devnet?.stop();
        if (dir) removeDir(dir);
    });

    it('refuses a worker whose evidence fails verification: no deposit, no job request reaches it', async () => {
        const balance = (await chain.getAccount(client.wallet.address)).balance;
        const open = await runCocoon(['client', 'channel', 'open', '--config', clientConfig, '--worker', workerBAddress.toString(), '--deposit', '2']);
        expect(open.code).toBe(1);
        expect(open.stderr).toMatch(/cocoon client channel open: attestation_refused: worker .* attestation refused/);
        const chat = await runCocoon(['client', 'chat', '--config', clientConfig, '--model', modelHash, '--worker', workerBAddress.toString(), 'secret prompt']);
        expect(chat.code).toBe(1);
        expect(chat.stderr).toMatch(/no_worker: worker .* is not verified; candidates refused: .*attestation refused/);
        // Nothing moved: the client wallet sent nothing, no channel with B exists.
        expect((await chain.getAccount(client.wallet.address)).balance).toBe(balance);
        const channelB = (await channelFor(root, client.wallet.address, workerBAddress)).address;
        expect((await chain.getAccount(channelB)).status).not.toBe('active');
        // Worker B served its attestation, and never saw a job, a voucher or a result request.
        const metrics = await (await fetch(`${workerB.events[0].url}/metrics`)).text();
        expect(metric(metrics, 'cocoon_worker_http_requests_total', 'route="attestation"')).toBeGreaterThan(0);
        for (const route of ['jobs', 'vouchers', 'results']) expect(metric(metrics, 'cocoon_worker_http_requests_total', `route="${route}"`)).toBe(0);
        expect(backendB.requests).toHaveLength(0);
        expect(chat.stderr).not.toContain('secret prompt');
        await workerB.stop();
    });

    let serve: CocoonProcess;
    let serveUrl: string;

    it('opens a channel with the CLI and chats through the OpenAI endpoint, streaming and not, with the cost in nanoTON', async () => {
        const open = await runCocoon(['client', 'channel', 'open', '--config', clientConfig, '--worker', workerAAddress.toString(), '--deposit', '5']);
        expect(open.stderr).not.toMatch(/error/i);
        expect(open.code).toBe(0);
        expect(open.events[0]).toMatchObject({ event: 'channel-open', channel: channelA.toString(), worker: workerAAddress.toString(), deposit: '5' });
        const topUp = await runCocoon(['client', 'channel', 'topup', '--config', clientConfig, '--channel', channelA.toString(), '--amount', '1']);
        expect(topUp.code).toBe(0);
        expect(topUp.events[0]).toMatchObject({ event: 'channel-topup', deposit: '6' });

        // The prompt from stdin ("-"), with a system message and a token budget.
        const chat = await runCocoon(['client', 'chat', '--config', clientConfig, '--model', modelHash, '--system', 'Be brief.', '--max-tokens', '32', '-'], {}, 'Say hello.');
        expect(chat.code).toBe(0);
        const seen = backendA.requests[backendA.requests.length - 1].body as { messages: unknown; max_tokens?: number; max_completion_tokens?: number };
        expect(seen.messages).toEqual([
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Say hello.' },
        ]);
        expect(seen.max_tokens ?? seen.max_completion_tokens).toBe(32);
        const answer = chat.events[0];
        expect(answer).toMatchObject({ event: 'answer', content: ANSWER, path: 'fast', worker: workerAAddress.toString(), channel: channelA.toString() });
        expect(BigInt(answer.usage.cost)).toBe(BigInt(answer.usage.promptTokens) * PROMPT_PRICE + BigInt(answer.usage.completionTokens) * COMPLETION_PRICE);
        expect(answer.usage.completionTokens).toBeGreaterThan(0);

        serve = spawnCocoon(['client', 'serve', '--config', clientConfig, '--port', '0']);
        serveUrl = (await serve.waitFor('listening')).url;
        const models = await send(`${serveUrl}/v1/models`);
        expect(models.status).toBe(200);
        expect(models.body.data.map((m: { id: string }) => m.id)).toContain('fake-model');

        const plain = await send(`${serveUrl}/v1/chat/completions`, { body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'Hi' }] }) });
        expect(plain.status).toBe(200);
        expect(plain.body.choices[0].message).toEqual({ role: 'assistant', content: ANSWER });
        const usage = plain.body.usage;
        expect(BigInt(usage.cost_nanoton)).toBe(BigInt(usage.prompt_tokens) * PROMPT_PRICE + BigInt(usage.completion_tokens) * COMPLETION_PRICE);
        expect(plain.body.cocoon).toMatchObject({ path: 'fast', worker: workerAAddress.toString(), cost_nanoton: usage.cost_nanoton });

        const res = await fetch(`${serveUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'Hi again' }] }) });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
        const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
        expect(events[events.length - 1]).toBe('[DONE]');
        const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
        expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(ANSWER);
        const last = chunks[chunks.length - 1];
        expect(last.choices[0].finish_reason).toBe('stop');
        expect(BigInt(last.usage.cost_nanoton)).toBe(BigInt(last.usage.prompt_tokens) * PROMPT_PRICE + BigInt(last.usage.completion_tokens) * COMPLETION_PRICE);
    });

    it('answers oversized and malformed requests at the worker and the client server with the right status and an error body, moving nothing', async () => {
        const workerUrl = workerA.events[0].url as string;
        const channelState = async () => {
            const st = await openOnChain(chain, Channel.fromAddress(channelA)).getState();
            return { status: st.status, deposit: st.deposit, settled: st.settled, locked: st.locked, free: st.free, openJobs: st.openJobs, nextSeq: st.nextSeq };
        };
        const before = { channel: await channelState(), balance: (await chain.getAccount(client.wallet.address)).balance, backend: backendA.requests.length };
        const metricsBefore = await (await fetch(`${workerUrl}/metrics`)).text();

        const cases: [string, { method?: string; body?: string | Buffer }, number][] = [
            [`${workerUrl}/v1/jobs`, { body: '{"channel": ' }, 400],
            [`${workerUrl}/v1/jobs`, { body: JSON.stringify({ channel: channelA.toString(), seq: '-1', model: modelHash, envelope: 'AAAA' }) }, 400],
            [`${workerUrl}/v1/jobs`, { body: Buffer.alloc(100 * 1024, 0x20) }, 413],
            [`${workerUrl}/v1/vouchers`, { body: '[]' }, 400],
            [`${workerUrl}/v1/vouchers`, { body: Buffer.alloc(100 * 1024, 0x20) }, 413],
            [`${workerUrl}/v1/results/nope/1`, {}, 400],
            [`${workerUrl}/v1/nothing`, {}, 404],
            [`${workerUrl}/v1/attestation`, { method: 'DELETE' }, 405],
            [`${serveUrl}/v1/chat/completions`, { body: 'not json' }, 400],
            [`${serveUrl}/v1/chat/completions`, { body: JSON.stringify({ model: 'fake-model' }) }, 400],
            [`${serveUrl}/v1/chat/completions`, { body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }) }, 400],
            [`${serveUrl}/v1/chat/completions`, { body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }) }, 404],
            [`${serveUrl}/v1/chat/completions`, { body: Buffer.alloc(32 * 1024, 0x20) }, 413],
            [`${serveUrl}/v1/nothing`, {}, 404],
        ];
        for (const [url, init, status] of cases) {
            const res = await send(url, init);
            expect({ url, status: res.status }).toEqual({ url, status });
            expect(typeof res.body).toBe('object');
            const message = res.body.error?.message ?? res.body.message;
            expect(typeof message).toBe('string');
            expect(message.length).toBeGreaterThan(0);
        }
        // Nothing moved: the channel, the client wallet and the model saw nothing.
        expect(await channelState()).toEqual(before.channel);
        expect((await chain.getAccount(client.wallet.address)).balance).toBe(before.balance);
        expect(backendA.requests.length).toBe(before.backend);
        const metricsAfter = await (await fetch(`${workerUrl}/metrics`)).text();
        expect(metric(metricsAfter, 'cocoon_worker_receipts_signed_total', '')).toBe(metric(metricsBefore, 'cocoon_worker_receipts_signed_total', ''));
    });

    it('kill -9 of the worker mid-job, then restart: the request completes, each job is signed once, no receipt is lost', async () => {
        backendA.configure({ answer: ANSWER, fault: { kind: 'silent' } });
        const requestsBefore = backendA.requests.length;
        const inFlight = send(`${serveUrl}/v1/chat/completions`, { body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'during the crash' }] }) });
        while (backendA.requests.length === requestsBefore) await new Promise((r) => setTimeout(r, 20));
        expect(await workerA.kill9()).toBeNull();

        backendA.configure({ answer: 'After the restart.' });
        workerA = await startWorker(workerAConfig);
        expect(workerA.events[0].actions).toEqual([]);
        const done = await inFlight;
        expect(done.status).toBe(200);
        expect(done.body.choices[0].message.content).toMatch(/^(After the restart\.|Hello from the backend\.)$/);
        expect(BigInt(done.body.usage.cost_nanoton)).toBeGreaterThan(0n);
        const path = done.body.cocoon.path;

        // The client's fast-path request died with the worker: it posted the job on-chain instead.
        expect(path).toBe('onchain');
        // The restarted worker also finishes the interrupted fast-path job by itself (from its journal).
        const restartedUrl = workerA.events[0].url as string;
        for (let i = 0; i < 100; i++) {
            const m = await (await fetch(`${restartedUrl}/metrics`)).text();
            if (metric(m, 'cocoon_worker_jobs_total', 'path="fast",outcome="signed"') >= 1) break;
            await new Promise((r) => setTimeout(r, 200));
        }
        // Stop the worker and the client server to read their journals (each holds its lock).
        expect(await workerA.stop()).toBe(0);
        expect(await serve.stop()).toBe(0);
        const store = JournalStore.open(join(workerADataDir, 'worker.journal'));
        const records = store.keys(`job/${channelA.toRawString()}/`).map((k) => store.get<JobRecord>(k)!);
        store.close();
        const seqs = records.map((r) => r.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
        const signatures = records.filter((r) => r.signature).map((r) => r.signature!.toString('hex'));
        expect(new Set(signatures).size).toBe(signatures.length);
        const clientStore = JournalStore.open(join(clientStateDir, 'client.journal'));
        const receipts = new ClientLedger(clientStore).receipts(channelA);
        clientStore.close();
        // Every receipt the client holds is the one the worker journalled for that seq.
        for (const r of receipts) {
            const record = records.find((j) => j.seq === r.seq);
            expect(record?.signature?.toString('hex')).toBe(r.signature.toString('hex'));
        }
        // Fast-path seqs 1-3 (CLI chat, plain, stream) were answered before the crash: the client
        // holds their receipts. Seq 4 was in the model at the kill: signed once, after the restart
        // (unpaid: the client never saw it, so it signed no voucher for it). The on-chain job
        // (on-chain seqs start at 2^63) carried the answer.
        expect(receipts.map((r) => r.seq)).toEqual([1n, 2n, 3n]);
        expect(records.map((r) => [r.seq, r.state])).toEqual([
            [1n, 'signed'],
            [2n, 'signed'],
            [3n, 'signed'],
            [4n, 'signed'],
            [1n << 63n, 'signed'],
        ]);
        // The model ran the interrupted job, its rerun after the restart, and the on-chain job.
        expect(backendA.requests.length - requestsBefore).toBe(3);
    });

    it('the auditor agent runs as a process and answers malformed and oversized requests with the right status, moving nothing', async () => {
        const auditorConfig = join(dir, 'auditor.json');
        writeFileSync(
            auditorConfig,
            JSON.stringify({ network: 'devnet', chain: { endpoint: devnet.jsonRpc }, root: root.toString(), wallet: { mnemonicFile: auditorWallet.file }, dataDir: join(dir, 'auditor-data'), http: { port: 0, maxBodyBytes: 16 * 1024 }, watcher: { pollIntervalMs: 500 } }),
        );
        const auditor = spawnCocoon(['auditor', 'start', '--config', auditorConfig], { COCOON_AUDITOR_SEEDS: auditorSeed.toString('hex') });
        const ready = await auditor.waitFor('ready');
        expect(ready).toMatchObject({ root: root.toString(), keys: [ed25519FromSeed(auditorSeed).publicKey.toString('hex')], network: 'devnet' });
        const url = ready.url as string;
        const stakeBefore = (await readWorkerInfo(chain, workerAAddress))!.stake;
        expect((await send(`${url}/healthz`)).status).toBe(200);
        const cases: [string, { method?: string; body?: string | Buffer }, number][] = [
            [`${url}/v1/equivocations`, { body: '{"a": ' }, 400],
            [`${url}/v1/equivocations`, { body: '' }, 400],
            [`${url}/v1/equivocations`, { body: JSON.stringify({ worker: 'nope' }) }, 400],
            [`${url}/v1/equivocations`, { body: Buffer.alloc(64 * 1024, 0x20) }, 413],
            [`${url}/v1/disputes`, { body: '[1, 2' }, 400],
            [`${url}/v1/disputes`, { body: Buffer.alloc(64 * 1024, 0x20) }, 413],
            [`${url}/v1/cosign`, { body: JSON.stringify({}) }, 400],
            [`${url}/v1/nothing`, {}, 404],
        ];
        for (const [target, init, status] of cases) {
            const res = await send(target, init);
            expect({ target, status: res.status }).toEqual({ target, status });
            const message = res.body?.error?.message ?? res.body?.message;
            expect(typeof message).toBe('string');
        }
        // No slash, no money out of the Worker.
        expect((await readWorkerInfo(chain, workerAAddress))!.stake).toBe(stakeBefore);
        expect(await auditor.stop()).toBe(0);
        expect(auditor.events.some((e) => e.event === 'stopped' && e.exitCode === 0)).toBe(true);
        expect(auditor.stderr.join('')).not.toContain(auditorSeed.toString('hex'));
    });

    it('an unreachable worker: the client falls back to an on-chain job, expires it at the deadline and is compensated from the stake', async () => {
        const shortConfig = join(dir, 'client-short.json');
        writeFileSync(
            shortConfig,
            JSON.stringify({ network: 'devnet', chain: { endpoint: devnet.jsonRpc }, root: root.toString(), wallet: { mnemonicFile: client.file }, stateDir: clientStateDir, pollIntervalMs: 200, requestTimeoutMs: 10_000, fallback: { deadlineSeconds: 10 } }),
        );
        workerA = await startWorker(workerAConfig);
        const serve2 = spawnCocoon(['client', 'serve', '--config', shortConfig, '--port', '0']);
        const url = (await serve2.waitFor('listening')).url as string;
        expect((await send(`${url}/v1/models`)).status).toBe(200); // verifies worker A while it is up
        expect(await workerA.stop()).toBe(0);

        const stakeBefore = (await readWorkerInfo(chain, workerAAddress))!.stake;
        const balanceBefore = (await chain.getAccount(client.wallet.address)).balance;
        const channelBefore = await openOnChain(chain, Channel.fromAddress(channelA)).getState();
        const requestsBefore = backendA.requests.length;
        const res = await send(`${url}/v1/chat/completions`, { body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'anyone there?' }] }) });
        expect(res.status).toBe(502);
        expect(res.body.error.code).toBe('onchain_expired');
        expect(res.body.error.message).toMatch(/did not answer on-chain job \d+ by its deadline: the job was expired, its \d+ nanoTON unlocked, and the worker's stake paid 1000000000 nanoTON in compensation/);
        // The stake paid exactly timeoutSlash (1 TON) to the client wallet; the channel's lock is released.
        expect((await readWorkerInfo(chain, workerAAddress))!.stake).toBe(stakeBefore - toNano('1'));
        const channelAfter = await openOnChain(chain, Channel.fromAddress(channelA)).getState();
        expect(channelAfter).toMatchObject({ locked: 0n, openJobs: 0n, settled: channelBefore.settled });
        // PostJob's unspent value is credited to the deposit: nothing of the client's is lost.
        expect(channelAfter.deposit).toBeGreaterThanOrEqual(channelBefore.deposit);
        expect(channelAfter.nextSeq).toBeGreaterThan(channelBefore.nextSeq);
        const gained = (await chain.getAccount(client.wallet.address)).balance - balanceBefore;
        expect(gained).toBeGreaterThan(toNano('0.5')); // 1 TON in, less the gas of PostJob and ExpireJob
        expect(gained).toBeLessThan(toNano('1'));
        expect(backendA.requests.length).toBe(requestsBefore);
        expect(serve2.stderr.join('')).toMatch(/client-fallback-onchain/);
        expect(await serve2.stop()).toBe(0);
    });

    it('closes the channel with the CLI: RequestClose, then FinalizeClose after the close delay returns the deposit', async () => {
        const close = () => runCocoon(['client', 'channel', 'close', '--config', clientConfig, '--channel', channelA.toString()]);
        const first = await close();
        expect(first.code).toBe(0);
        expect(first.events[0]).toMatchObject({ event: 'channel-close', channel: channelA.toString(), closed: false });
        const state = await openOnChain(chain, Channel.fromAddress(channelA)).getState();
        expect(state.closeAt).toBeGreaterThan(0n);
        const balanceBefore = (await chain.getAccount(client.wallet.address)).balance;
        // clientCloseDelay is 5 s on this Root; the devnet's time is the wall clock.
        while (BigInt(Math.floor(Date.now() / 1000)) <= state.closeAt) await new Promise((r) => setTimeout(r, 500));
        const second = await close();
        expect(second.code).toBe(0);
        expect(second.events[0]).toMatchObject({ event: 'channel-close', closed: true });
        // The worker stayed down and settled nothing: the client gets its free deposit back (give or take gas).
        const returned = (await chain.getAccount(client.wallet.address)).balance - balanceBefore;
        expect(returned).toBeGreaterThan(state.free - toNano('0.2'));
        expect(returned).toBeLessThan(state.free + toNano('0.2'));
        const again = await runCocoon(['client', 'channel', 'topup', '--config', clientConfig, '--channel', channelA.toString(), '--amount', '1']);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/is not open; top-ups are refused while opening, closing or closed/);
    });
});

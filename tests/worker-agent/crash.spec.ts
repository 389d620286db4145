import { signJobRequest } from '../../agents/core/job-auth';
// The worker agent as separate processes against the devnet, the way it runs in production:
// `cocoon worker start` is killed with SIGKILL in the middle of a job and restarted; it finishes
// the job by itself, the client's retry gets that one receipt (no second signature, no lost
// receipt), SIGTERM stops it with exit code 0, and the owner commands work against the same chain.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Address, beginCell, Cell, internal, toNano } from '@ton/core';
import { IdempotentSender, newQueryId } from '../../agents/chain/sender';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Wallet } from '../../agents/chain/wallet';
import { ed25519FromSeed } from '../../agents/core/ed25519';
import { openResponse, sealRequest } from '../../agents/core/envelope';
import { simulatedMeasurement } from '../../agents/enclave/binding';
import { FakeOpenAIServer } from '../../agents/inference/testing/fake-openai-server';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';
import { computeManifest, modelHashToUint256 } from '../../agents/inference/model-identity';
import { JournalStore } from '../../agents/store/store';
import { openOnChain } from '../../agents/worker/chain-access';
import { deployDevRoot } from '../../agents/worker/dev-network';
import { jobKey, JobRecord } from '../../agents/worker/signing-journal';
import { Channel, channelFor, CHANNEL_OPEN, OPEN_FEE, storeOpen, TEE_SIMULATED } from '../../wrappers';
import { parseReceipt, publicKeyToInt, verifySigned } from '../../wrappers/signed';
import { DevnetProcess, faucet, startDevnet } from '../agents/helpers/devnet-process';
import { REPO_ROOT, removeDir, tempDir, TINY_MODEL_DIR } from './helpers';
import { freePort, walletWithMnemonicFile } from '../helpers/process-fixtures';

jest.setTimeout(240_000);

interface WorkerProcess {
    child: ChildProcess;
    ready: Record<string, any>;
    stdout: string[];
    stderr: string[];
    exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function startWorker(configFile: string, env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'cocoon.js'), 'worker', 'start', '--config', configFile], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: string[] = [];
    const stderr: string[] = [];
    child.stderr!.on('data', (chunk) => stderr.push(String(chunk)));
    running.add(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    void exited.then(() => running.delete(child));
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<Record<string, any>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker not ready in 90 s:\n${stderr.join('')}`)), 90_000);
        lines.on('line', (line) => {
            stdout.push(line);
            try {
                const event = JSON.parse(line);
                if (event.event === 'ready') {
                    clearTimeout(timer);
                    resolve(event);
                }
            } catch {
                /* not JSON */
            }
        });
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`worker exited with ${code} before ready:\n${stderr.join('')}`));
        });
    });
    return ready.then((r) => ({ child, ready: r, stdout, stderr, exited }));
}

describe('worker agent processes on the devnet: kill -9 mid-job and restart', () => {
    let dir: string;
    let devnet: DevnetProcess;
    let chain: ToncenterChain;
    let backend: FakeOpenAIServer;
    let root: Address;
    let configFile: string;
    let dataDir: string;
    let workerWallet: Wallet;
    const env = { COCOON_WALLET_MNEMONIC: '' };

    beforeAll(async () => {
        dir = tempDir('worker-crash');
        devnet = await startDevnet({ dataDir: join(dir, 'devnet') });
        chain = new ToncenterChain({ endpoint: devnet.jsonRpc });
        await ensureTinyModel(TINY_MODEL_DIR);
        const modelHash = (await computeManifest(TINY_MODEL_DIR)).hash;
        backend = await FakeOpenAIServer.start({ answer: 'Hello from the backend.' });

        const governance = await walletWithMnemonicFile(dir, 'governance');
        await faucet(devnet.url, governance.wallet.address.toString(), toNano('100'));
        const govStore = JournalStore.open(join(dir, 'governance.journal'));
        root = await deployDevRoot({
            chain,
            sender: new IdempotentSender({ chain, wallet: governance.wallet, store: govStore, pollIntervalMs: 100 }),
            owner: governance.wallet.address,
            measurements: [{ measurement: BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex')), teeType: TEE_SIMULATED }],
            models: [modelHashToUint256(modelHash)],
        });
        govStore.close();

        const worker = await walletWithMnemonicFile(dir, 'worker');
        workerWallet = worker.wallet;
        await faucet(devnet.url, workerWallet.address.toString(), toNano('100'));
        dataDir = join(dir, 'worker-data');
        mkdirSync(dataDir);
        configFile = join(dir, 'worker.json');
        writeFileSync(
            configFile,
            JSON.stringify({
                network: 'devnet',
                chain: { endpoint: devnet.jsonRpc },
                root: root.toString(),
                wallet: { mnemonicFile: worker.file },
                dataDir,
                model: { engine: 'openai-compatible', baseUrl: backend.baseUrl, model: 'fake-model', modelDir: TINY_MODEL_DIR },
                prices: { prompt: '1000', completion: '2000' },
                http: { port: await freePort() },
                limits: { maxTokens: 64, jobTimeoutMs: 60_000 },
                watcher: { pollIntervalMs: 200 },
                logLevel: 'info',
            }),
        );
    });
    afterAll(async () => {
        for (const child of running) child.kill('SIGKILL');
        await backend?.close();
        await devnet?.stop();
        removeDir(dir);
    });

    it('finishes the job it was killed in, gives the retry that one receipt, and keeps the receipts signed before the kill', async () => {
        let worker = await startWorker(configFile, env);
        expect(worker.ready).toMatchObject({ network: 'devnet', status: 'active', actions: ['registered'] });
        const url = worker.ready.url as string;
        const workerAddress = Address.parse(worker.ready.worker);
        const attestation = (await (await fetch(`${url}/v1/attestation`)).json()) as { encryptionKey: string; signingKey: string };
        const encryptionKey = Buffer.from(attestation.encryptionKey, 'hex');
        const signingKey = Buffer.from(attestation.signingKey, 'hex');

        // A client opens a channel on the devnet.
        const client = await walletWithMnemonicFile(dir, 'client');
        await faucet(devnet.url, client.wallet.address.toString(), toNano('50'));
        const clientStore = JournalStore.open(join(dir, 'client.journal'));
        const clientSender = new IdempotentSender({ chain, wallet: client.wallet, store: clientStore, pollIntervalMs: 100 });
        const clientKey = ed25519FromSeed(Buffer.alloc(32, 0x42));
        const channel = await channelFor(root, client.wallet.address, workerAddress);
        const open = beginCell().store(storeOpen({ $$type: 'Open', queryId: 1n, clientKey: publicKeyToInt(clientKey.publicKey) })).endCell();
        await clientSender.send({ queryId: newQueryId(), messages: [internal({ to: channel.address, value: toNano('5') + OPEN_FEE, bounce: false, init: channel.init!, body: open })] });
        expect((await openOnChain(chain, Channel.fromAddress(channel.address)).getState()).status).toBe(CHANNEL_OPEN);
        clientStore.close();

        const job = (seq: bigint, content: string) => {
            const sealed = sealRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: 64 })), {
                recipientKey: encryptionKey,
                context: { channel: channel.address, seq },
            });
            const body = JSON.stringify({ channel: channel.address.toString(), seq: seq.toString(), model: worker.ready.model, envelope: sealed.envelope.toString('base64'), auth: signJobRequest(channel.address, seq, sealed.envelope, clientKey.seed).toString('base64') });
            const send = (to: string) => fetch(`${to}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
            const read = (answer: Record<string, string>) => {
                const cell = Cell.fromBoc(Buffer.from(answer.receipt, 'base64'))[0];
                const plaintext = openResponse(Buffer.from(answer.envelope, 'base64'), { replySecretKey: sealed.replyKeyPair.secretKey, expectedSenderKey: encryptionKey, expect: { channel: channel.address, seq } });
                return { cell, plaintext: JSON.parse(plaintext.toString()), valid: verifySigned({ cell, signature: Buffer.from(answer.signature, 'base64') }, signingKey) };
            };
            return { send, read };
        };

        // Seq 1 completes before the crash.
        const first = job(1n, 'before the crash');
        const firstRes = await first.send(url);
        expect(firstRes.status).toBe(200);
        const firstAnswer = (await firstRes.json()) as Record<string, string>;
        expect(first.read(firstAnswer)).toMatchObject({ valid: true, plaintext: { content: 'Hello from the backend.', finish_reason: 'stop' } });

        // Seq 2 is in the model when the worker is killed.
        backend.configure({ answer: 'After the restart.', fault: { kind: 'silent' } });
        const second = job(2n, 'during the crash');
        const requestsBefore = backend.requests.length;
        const inFlight = second.send(url).then(
            (r) => r.status,
            (e: Error) => e.name,
        );
        while (backend.requests.length === requestsBefore) await new Promise((r) => setTimeout(r, 20));
        worker.child.kill('SIGKILL');
        expect(await worker.exited).toBeNull();
        expect(await inFlight).toBe('TypeError'); // the connection died with the process

        // Restarted (same data dir: same sealed keys, same journal), it finishes seq 2 by itself.
        backend.configure({ answer: 'After the restart.' });
        worker = await startWorker(configFile, env);
        expect(worker.ready.actions).toEqual([]);
        const retryUrl = worker.ready.url as string;
        let retryRes = await second.send(retryUrl);
        for (let i = 0; i < 100 && retryRes.status !== 200; i++) {
            await new Promise((r) => setTimeout(r, 100));
            retryRes = await second.send(retryUrl);
        }
        expect(retryRes.status).toBe(200);
        const secondAnswer = (await retryRes.json()) as Record<string, string>;
        const read = second.read(secondAnswer);
        expect(read).toMatchObject({ valid: true, plaintext: { content: 'After the restart.', finish_reason: 'stop' } });
        expect(parseReceipt(read.cell).seq).toBe(2n);
        // One interrupted generation and one that completed: the retry got the journalled answer.
        expect(backend.requests.length).toBe(requestsBefore + 2);
        // The receipt signed before the kill is still there, byte for byte.
        const firstAgain = (await (await first.send(retryUrl)).json()) as Record<string, string>;
        expect(firstAgain).toEqual(firstAnswer);

        // SIGTERM: graceful stop, exit code 0.
        worker.child.kill('SIGTERM');
        expect(await worker.exited).toBe(0);
        expect(worker.stdout.some((l) => l.includes('"event":"stopped"') && l.includes('"exitCode":0'))).toBe(true);
        // No secret in the logs.
        const logs = worker.stderr.join('');
        expect(logs).toMatch(/"event":"listening"/);
        expect(logs).not.toContain(clientKey.seed.toString('hex'));

        const store = JournalStore.open(join(dataDir, 'worker.journal'));
        const records = store.keys(`job/${channel.address.toRawString()}/`).map((k) => store.get<JobRecord>(k)!);
        expect(records.map((r) => [r.seq, r.state])).toEqual([
            [1n, 'signed'],
            [2n, 'signed'],
        ]);
        expect(store.get<JobRecord>(jobKey(channel.address, 2n))!.signature!.toString('base64')).toBe(secondAnswer.signature);
        store.close();
    });

    it('the owner commands read and change the Worker on the devnet, with clear errors', async () => {
        const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'cocoon.js'), 'worker', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
        const status = cli('status', '--config', configFile);
        expect(status.status).toBe(0);
        expect(JSON.parse(status.stdout)).toMatchObject({ registered: true, status: 'active', stake: '10', owner: workerWallet.address.toString() });

        const early = cli('withdraw', '--config', configFile);
        expect(early.status).toBe(1);
        expect(early.stderr).toMatch(/not unbonding: run `cocoon worker unbond` first/);

        const unbond = cli('unbond', '--config', configFile);
        expect(unbond.status).toBe(0);
        expect(JSON.parse(unbond.stdout)).toMatchObject({ event: 'unbonding', status: 'unbonding' });
        const notYet = cli('withdraw', '--config', configFile);
        expect(notYet.status).toBe(1);
        expect(notYet.stderr).toMatch(/the stake unlocks at .* try again then/);

        const bad = join(dir, 'bad.json');
        writeFileSync(bad, JSON.stringify({ network: 'devnet', root: 'nope', prices: { prompt: 'x' } }));
        const invalid = cli('status', '--config', bad);
        expect(invalid.status).toBe(2);
        expect(invalid.stderr).toMatch(/root: must be the Root contract's address/);
        expect(invalid.stderr).toMatch(/prices.prompt: must be a whole number of nanoTON/);
        expect(invalid.stderr).toMatch(/model: is required/);
        const usage = cli('status', '--config', configFile, '--network', 'moon');
        expect(usage.status).toBe(2);
        expect(usage.stderr).toMatch(/--network must be one of local, devnet, testnet, mainnet/);
        const missing = cli('start');
        expect(missing.status).toBe(2);
        expect(missing.stderr).toMatch(/--config FILE is required/);
    });
});

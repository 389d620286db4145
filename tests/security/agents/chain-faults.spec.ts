import { signJobRequest } from '../../../agents/core/job-auth';
// The worker agent with its chain API failing (docs/security.md, "Agents"): the real agent talks
// to a real devnet child process through tests/agents/helpers/fault-proxy.ts, which answers 429
// and 5xx, delays past the client's timeout, and loses answers after the chain applied a send.
// The agent waits and recovers: it registers, serves and settles, and every send lands once
// (its wallet's seqno counts the sends; the Worker's stake and the channel's settled amount are
// what one send of each gives).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Address, beginCell, Cell, internal, toNano, Transaction } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { IdempotentSender, newQueryId } from '../../../agents/chain/sender';
import { ToncenterChain } from '../../../agents/chain/toncenter';
import { Wallet } from '../../../agents/chain/wallet';
import { ed25519FromSeed } from '../../../agents/core/ed25519';
import { openResponse, sealRequest } from '../../../agents/core/envelope';
import { simulatedMeasurement } from '../../../agents/enclave/binding';
import { EmbeddedEngine } from '../../../agents/inference/embedded';
import { modelHashToUint256 } from '../../../agents/inference/model-identity';
import { ensureTinyModel } from '../../../agents/inference/testing/tiny-model';
import { JournalStore } from '../../../agents/store/store';
import { startWorkerAgent, WorkerAgentHandle } from '../../../agents/worker/agent';
import { openOnChain } from '../../../agents/worker/chain-access';
import { parseWorkerConfig } from '../../../agents/worker/config';
import { deployDevRoot } from '../../../agents/worker/dev-network';
import { silentLogger } from '../../../agents/worker/logger';
import { Channel, channelFor, CHANNEL_OPEN, OPEN_FEE, storeOpen, TEE_SIMULATED, Worker } from '../../../wrappers';
import { publicKeyToInt, signVoucher, verifySigned } from '../../../wrappers/signed';
import { DevnetProcess, faucet, startDevnet } from '../../agents/helpers/devnet-process';
import { Fault, FaultProxy } from '../../agents/helpers/fault-proxy';
import { tempDir, TINY_MODEL_DIR } from '../../worker-agent/helpers';
import { dribble, rawJsonBody, rawRequest, rawStatus } from './helpers';

jest.setTimeout(240_000);

const OP_SETTLE = 0x43000003;
const SEND_METHODS = new Set(['sendBoc', 'sendBocReturnHash', 'sendMessage']);

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const started = Date.now();
    for (;;) {
        const value = await probe();
        if (value) return value;
        if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

describe('worker agent with its chain API failing (429, 5xx, timeouts, lost answers)', () => {
    let dir: string;
    let devnet: DevnetProcess;
    let proxy: FaultProxy;
    let direct: ToncenterChain;
    let engine: EmbeddedEngine;
    let root: Address;
    let agent: WorkerAgentHandle | undefined;
    let proxyBase: string;

    beforeAll(async () => {
        dir = tempDir('sec-chain');
        devnet = await startDevnet({ dataDir: join(dir, 'devnet') });
        proxy = new FaultProxy(devnet.url, 11);
        proxyBase = await proxy.start();
        direct = new ToncenterChain({ endpoint: devnet.jsonRpc });
        await ensureTinyModel(TINY_MODEL_DIR);
        engine = await EmbeddedEngine.load({ model: TINY_MODEL_DIR, threads: 1 });
        const governance = await Wallet.fromMnemonic(await mnemonicNew());
        await faucet(devnet.url, governance.address.toString(), toNano('100'));
        const govStore = JournalStore.open(join(dir, 'governance.journal'));
        root = await deployDevRoot({
            chain: direct,
            sender: new IdempotentSender({ chain: direct, wallet: governance, store: govStore, pollIntervalMs: 100 }),
            owner: governance.address,
            measurements: [{ measurement: BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex')), teeType: TEE_SIMULATED }],
            models: [modelHashToUint256(engine.modelHash)],
        });
        govStore.close();
    });
    afterAll(async () => {
        await agent?.stop();
        await proxy?.close();
        await devnet?.stop();
        await engine?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('registers, serves and settles through the faults, each send landing once', async () => {
        const wallet = await Wallet.fromMnemonic(await mnemonicNew());
        await faucet(devnet.url, wallet.address.toString(), toNano('100'));
        const endpoint = proxyBase + new URL(devnet.jsonRpc).pathname;
        // Every method: the 2nd call of each four is rate-limited, every seventh a 503, the 6th
        // outlives the 1 s client timeout; each message sent applies the first time but that answer is lost.
        const faulted = new Map<string, number>();
        const seenBocs = new Set<string>();
        proxy.plan = (request): Fault | undefined => {
            let fault: Fault | undefined;
            if (SEND_METHODS.has(request.method)) {
                const boc = JSON.stringify(request.params.boc ?? request.body);
                fault = seenBocs.has(boc) ? undefined : { kind: 'lose-answer', status: 502 };
                seenBocs.add(boc);
            }
            else if (request.nth === 5) fault = { kind: 'delay', ms: 1_500 };
            else if (request.nth % 4 === 1) fault = { kind: 'error', status: 429 };
            else if (request.nth % 7 === 3) fault = { kind: 'error', status: 503 };
            if (fault) {
                const key = fault.kind + (fault.kind === 'error' || fault.kind === 'lose-answer' ? String(fault.status) : '');
                faulted.set(key, (faulted.get(key) ?? 0) + 1);
            }
            return fault;
        };
        const dataDir = join(dir, 'worker');
        mkdirSync(dataDir);
        const config = parseWorkerConfig(
            {
                network: 'devnet',
                chain: { endpoint, timeoutMs: 1_000 },
                root: root.toString(),
                slot: 0,
                dataDir,
                model: { engine: 'embedded', path: TINY_MODEL_DIR },
                prices: { prompt: '1000000', completion: '2000000' },
                registration: { stake: '10' },
                http: { port: 0 },
                limits: { maxTokens: 16, maxPromptBytes: 4096, maxConcurrentJobs: 1, maxQueuedJobs: 4 },
                settlement: { minAmount: '0.001' },
                watcher: { pollIntervalMs: 200 },
                logLevel: 'warn',
            },
            // The wallet itself is passed to the agent below; the config only needs to name one.
            { env: { COCOON_WALLET_MNEMONIC: 'passed-as-a-dependency' } },
        );
        const viaProxy = new ToncenterChain({ endpoint, timeoutMs: 1_000 });
        agent = await startWorkerAgent(config, {
            chain: viaProxy,
            wallet,
            engine,
            log: silentLogger,
            senderOptions: { pollIntervalMs: 100, rebroadcastIntervalMs: 1_000, retry: { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 10 } },
        });
        const actions = agent.registration.actions;
        expect(actions).toContain('registered');
        const info = await openOnChain(direct, Worker.fromAddress(agent.worker)).getInfo();
        expect(info.stake).toBe(toNano('10'));
        // One wallet send per action, whatever answers were lost.
        expect(await wallet.getSeqno(direct)).toBe(actions.length);

        // A client opens a channel directly on the devnet and runs a job; the worker reads it through the faults.
        const clientWallet = await Wallet.fromMnemonic(await mnemonicNew());
        await faucet(devnet.url, clientWallet.address.toString(), toNano('50'));
        const clientStore = JournalStore.open(join(dir, 'client.journal'));
        const clientKey = ed25519FromSeed(Buffer.alloc(32, 0x21));
        const channel = await channelFor(root, clientWallet.address, agent.worker);
        const open = beginCell().store(storeOpen({ $$type: 'Open', queryId: 1n, clientKey: publicKeyToInt(clientKey.publicKey) })).endCell();
        await new IdempotentSender({ chain: direct, wallet: clientWallet, store: clientStore, pollIntervalMs: 100 }).send({
            queryId: newQueryId(),
            messages: [internal({ to: channel.address, value: toNano('5') + OPEN_FEE, bounce: false, init: channel.init!, body: open })],
        });
        clientStore.close();
        expect((await openOnChain(direct, Channel.fromAddress(channel.address)).getState()).status).toBe(CHANNEL_OPEN);

        const attestation = (await (await fetch(`${agent.url}/v1/attestation`)).json()) as { encryptionKey: string; signingKey: string };
        const payload = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'through the faults' }], max_tokens: 3 }));
        const sealed = sealRequest(payload, { recipientKey: Buffer.from(attestation.encryptionKey, 'hex'), context: { channel: channel.address, seq: 1n } });
        const res = await fetch(`${agent.url}/v1/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ channel: channel.address.toString(), seq: '1', model: engine.modelHash, envelope: sealed.envelope.toString('base64'), auth: signJobRequest(channel.address, 1n, sealed.envelope, clientKey.seed).toString('base64') }),
        });
        const answer = (await res.json()) as Record<string, string>;
        expect({ status: res.status, answer }).toEqual({ status: 200, answer: expect.objectContaining({ receipt: expect.any(String) }) });
        const cell = Cell.fromBoc(Buffer.from(answer.receipt, 'base64'))[0];
        expect(verifySigned({ cell, signature: Buffer.from(answer.signature, 'base64') }, Buffer.from(attestation.signingKey, 'hex'))).toBe(true);
        openResponse(Buffer.from(answer.envelope, 'base64'), { replySecretKey: sealed.replyKeyPair.secretKey, expectedSenderKey: Buffer.from(attestation.encryptionKey, 'hex'), expect: { channel: channel.address, seq: 1n } });

        // The client pays; the worker settles through the faults: one Settle, the voucher's amount once.
        const cost = BigInt(answer.cost);
        const voucher = signVoucher({ channel: channel.address, cumulative: cost }, clientKey.seed);
        const paid = await fetch(`${agent.url}/v1/vouchers`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ channel: channel.address.toString(), cumulative: cost.toString(), signature: voucher.signature.toString('base64') }),
        });
        expect(paid.status).toBe(200);
        const channelView = openOnChain(direct, Channel.fromAddress(channel.address));
        await until('the settlement', async () => (await channelView.getState()).settled === cost);
        await until('the confirmed batch', async () => agent!.journal.batches(channel.address.toRawString()).some((b) => b.state === 'confirmed'));
        const settles = (await direct.getTransactions(channel.address, { limit: 100 })).filter((tx: Transaction) => {
            const body = tx.inMessage?.body.beginParse();
            return body !== undefined && body.remainingBits >= 32 && body.loadUint(32) === OP_SETTLE;
        });
        expect(settles).toHaveLength(1);
        expect(await wallet.getSeqno(direct)).toBe(actions.length + 1);

        // The faults did happen, of every kind.
        expect(faulted.get('error429')).toBeGreaterThan(0);
        expect(faulted.get('error503')).toBeGreaterThan(0);
        expect(faulted.get('delay')).toBeGreaterThan(0);
        expect(faulted.get('lose-answer502')).toBeGreaterThan(0);
        // Every send (registration and settlement) lost its first answer, and none landed twice (the seqno above).
        expect(proxy.log.filter((e) => SEND_METHODS.has(e.method) && e.fault === 'lose-answer').length).toBe(actions.length + 1);
    });

    it('the devnet cuts a client dribbling its headers with a JSON 408 within its 10 s headers timeout, answers malformed HTTP with JSON, and keeps serving', async () => {
        const head = `POST /jsonRPC HTTP/1.1\r\nhost: devnet\r\ncontent-type: application/json\r\nx-padding: ${'p'.repeat(600)}\r\n\r\n`;
        const slow = await dribble(devnet.port, head, 25, 16_000);
        expect(slow.closedAfterMs).toBeLessThan(12_500);
        expect(rawStatus(slow.response)).toBe(408);
        expect(rawJsonBody(slow.response)).toMatchObject({ ok: false, code: 408 });
        const garbage = await rawRequest(devnet.port, 'NONSENSE\r\n\r\n');
        expect(rawStatus(garbage)).toBe(400);
        expect(rawJsonBody(garbage)).toMatchObject({ ok: false, code: 400 });
        expect((await fetch(`${devnet.url}/health`)).status).toBe(200);
    });
});

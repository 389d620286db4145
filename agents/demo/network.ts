import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, toNano, Transaction } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { AuditorHandle, startAuditor } from '../auditor/agent';
import { parseAuditorConfig } from '../auditor/config';
import { readBodyHead } from '../chain/decoders';
import { SandboxChain } from '../chain/sandbox';
import { Wallet, WalletKey } from '../chain/wallet';
import { ChatResult, CocoonClient } from '../client/client';
import { VerifiedWorker } from '../client/attestation';
import { ed25519FromSeed } from '../core/ed25519';
import { EmbeddedEngine } from '../inference/embedded';
import { ensureTinyModel } from '../inference/testing/tiny-model';
import { startWorkerAgent, WorkerAgentHandle } from '../worker/agent';
import { parseWorkerConfig } from '../worker/config';
import { devParams } from '../worker/dev-network';
import { deployLocalRoot } from '../worker/local-network';
import { Logger, silentLogger } from '../worker/logger';
import { Channel, CHANNEL_CLOSED, eventsOf, Worker, WORKER_STATUS_ACTIVE } from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { DEFAULT_TINY_MODEL_DIR, formatTon } from './prepare';
import { EndpointRelay } from './relay';

/**
 * `npm start`: the whole network in one process, on embedded defaults. An in-process chain
 * (@ton/sandbox behind the agents' SandboxChain), Root deployed with dev params (one auditor
 * approval required), the tiny model allow-listed by its hash, the real worker agent (HTTP API on
 * 127.0.0.1, embedded engine, simulated enclave) approved by the real auditor agent, and the
 * client SDK: discovery, attestation, a channel, encrypted fast-path requests, one on-chain job
 * (the worker's endpoint is cut, the client falls back), finalization after the challenge window
 * (time travel), the worker's final settlement with its batch root, and the close.
 */

export const WORKER_IMAGE = 'cocoon-worker-dev';
export const DEMO_PROMPTS = ['Hello, Cocoon!', 'What comes after the space?', 'Count with me', 'Sealed for the enclave only', 'Paid by voucher'];

export const DEMO_PRICES = { prompt: 1_000_000n, completion: 2_000_000n };
export const DEMO_FUNDS = { worker: toNano('100'), client: toNano('50'), auditor: toNano('10') };
export const DEMO_DEPOSIT = toNano('5');
export const DEMO_STAKE = toNano('10');

export interface DemoOptions {
    /** Fast-path chat requests before the on-chain job (default 3). */
    requests?: number;
    /** Tokens asked for per answer (default 16). */
    maxTokens?: number;
    /** Model folder; default models/tiny (the tiny model is written there when missing). */
    modelDir?: string;
    /** Where the agents keep their state; default a fresh temporary folder, removed by stop(). */
    stateDir?: string;
    /** Called once per finished step. */
    onStep?: (step: DemoStep) => void;
    /** Agents' log (default: silent). */
    log?: Logger;
}

export interface DemoStep {
    index: number;
    name: string;
    detail: string;
    ms: number;
}

export interface DemoAnswer {
    prompt: string;
    content: string;
    path: 'fast' | 'onchain';
    seq: string;
    promptTokens: number;
    completionTokens: number;
    /** nanoTON */
    cost: string;
    /** Fast path: the voucher's cumulative after this answer. */
    voucherCumulative?: string;
}

/** All amounts are nanoTON as decimal strings (JSON-safe). */
export interface DemoReport {
    chain: { root: string; worker: string; channel: string; payee: string; modelHash: string; timeTravelSeconds: number };
    answers: DemoAnswer[];
    tokens: { prompt: number; completion: number; total: number };
    settlement: { cumulative: string; batchRoot: string; receipts: number; final: boolean };
    close: { how: 'final-settle' | 'finalize-close'; refund: string; fees: string };
    money: {
        /** What the client's wallet lost in all: inference paid + gas and fees. */
        clientSpent: string;
        /** Paid for inference: the settled vouchers plus the on-chain job's payment. */
        clientPaidForInference: string;
        clientGasAndFees: string;
        /** What the worker's payee received for its work (payments less the protocol fee). */
        workerEarned: string;
        workerStake: string;
        /** The worker wallet's change: earned − stake − gas and fees. */
        workerWalletChange: string;
        workerGasAndFees: string;
        /** Protocol fees the channel sent Root at the close (its ChannelClosed event). */
        rootFees: string;
        /** What Root counted of them (its feesReceived getter's change). */
        rootFeesCounted: string;
        auditorGasAndFees: string;
        governanceSpent: string;
        /** What the channel account holds after the close. */
        channelLeft: string;
    };
    /** Wall-clock milliseconds per step and in all. */
    timings: { step: string; ms: number }[];
    totalMs: number;
}

export interface DemoNetwork {
    blockchain: Blockchain;
    chain: SandboxChain;
    root: Address;
    worker: WorkerAgentHandle;
    auditor: AuditorHandle;
    client: CocoonClient;
    relay: EndpointRelay;
    engine: EmbeddedEngine;
    wallets: { worker: Wallet; client: Wallet; auditor: Wallet };
    governance: SandboxContract<TreasuryContract>;
    stateDir: string;
    /** Stops the agents, the relay and the engine; removes the state folder when the demo made it. */
    stop(): Promise<void>;
}

export interface DemoRun {
    report: DemoReport;
    network: DemoNetwork;
}

export class DemoError extends Error {
    constructor(
        readonly step: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(`${step}: ${message}`, options);
        this.name = 'DemoError';
    }
}

const OP_CHANNEL_SETTLED = 0xe0430005;
const OP_JOB_FINALIZED = 0xe0430009;
const SENDER_OPTIONS = { pollIntervalMs: 5, rebroadcastIntervalMs: 50, retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 5 } };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 20): Promise<T> {
    const started = Date.now();
    for (;;) {
        const value = await probe();
        if (value) return value;
        if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

const ton = formatTon;

/** Runs the whole flow and leaves the network running: call `network.stop()` when done. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoRun> {
    const requests = options.requests ?? 3;
    const maxTokens = options.maxTokens ?? 16;
    if (!Number.isInteger(requests) || requests < 1 || requests > 100) throw new RangeError(`requests must be a whole number from 1 to 100, got ${requests}`);
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 64) throw new RangeError(`maxTokens must be a whole number from 1 to 64, got ${maxTokens}`);
    const log = options.log ?? silentLogger;
    const ownsState = options.stateDir === undefined;
    const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'cocoon-demo-'));
    const timings: { step: string; ms: number }[] = [];
    const started = Date.now();
    const cleanups: (() => Promise<void> | void)[] = [];
    const stopAll = async () => {
        for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
        if (ownsState) rmSync(stateDir, { recursive: true, force: true });
    };
    cleanups.push(() => undefined);

    const step = async <T>(name: string, fn: () => Promise<{ value: T; detail: string }>): Promise<T> => {
        const t0 = Date.now();
        let out: { value: T; detail: string };
        try {
            out = await fn();
        } catch (error) {
            throw new DemoError(name, (error as Error).message, { cause: error });
        }
        const ms = Date.now() - t0;
        timings.push({ step: name, ms });
        options.onStep?.({ index: timings.length, name, detail: out.detail, ms });
        return out.value;
    };

    try {
        // 1. The chain: a fresh in-process sandbox whose clock starts at the wall clock and moves only when the demo moves it.
        const { blockchain, chain } = await step('chain', async () => {
            const blockchain = await Blockchain.create();
            blockchain.now = Math.floor(Date.now() / 1000);
            return { value: { blockchain, chain: new SandboxChain(blockchain) }, detail: 'in-process @ton/sandbox chain' };
        });
        const startTime = blockchain.now!;

        // 2. The model: the tiny model (written if missing) or the folder given, loaded in the embedded engine.
        const engine = await step('model', async () => {
            const dir = options.modelDir ? resolve(options.modelDir) : await ensureTinyModel(DEFAULT_TINY_MODEL_DIR);
            if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
            const engine = await EmbeddedEngine.load({ model: dir, threads: 1 });
            cleanups.push(() => engine.close());
            return { value: engine, detail: `${engine.model} from ${dir}, hash ${engine.modelHash.slice(0, 16)}…` };
        });

        // 3. Root with dev params (one auditor approval required), the simulated image, the model and one auditor allowed.
        const auditorKey = ed25519FromSeed(randomBytes(32));
        const params = devParams({ attestationApprovals: 1n, minWorkerStake: DEMO_STAKE });
        const { governance, root, governanceStart } = await step('root', async () => {
            const governance = await blockchain.treasury('governance');
            const governanceStart = (await blockchain.getContract(governance.address)).balance;
            const { root } = await deployLocalRoot(blockchain, { imageName: WORKER_IMAGE, modelHashes: [engine.modelHash], params, auditorKeys: [publicKeyToInt(auditorKey.publicKey)] });
            return {
                value: { governance, root, governanceStart },
                detail: `Root ${short(root.address)}: model allowed by hash, simulated image allowed, 1 auditor, ${params.attestationApprovals} approval needed`,
            };
        });
        const rootFeesStart = (await root.getState()).feesReceived;

        // 4. Wallets of the worker, the client and the auditor, funded from the sandbox faucet.
        const wallets = {
            worker: Wallet.fromKey(new WalletKey(randomBytes(32))),
            client: Wallet.fromKey(new WalletKey(randomBytes(32))),
            auditor: Wallet.fromKey(new WalletKey(randomBytes(32))),
        };
        const balance = async (a: Address) => (await chain.getAccount(a)).balance;
        const start = await step('wallets', async () => {
            const faucet = await blockchain.treasury('faucet');
            for (const [name, amount] of Object.entries(DEMO_FUNDS)) {
                await faucet.send({ to: wallets[name as keyof typeof wallets].address, value: amount, bounce: false });
            }
            const start = { worker: await balance(wallets.worker.address), client: await balance(wallets.client.address), auditor: await balance(wallets.auditor.address) };
            return { value: start, detail: `worker ${ton(start.worker)}, client ${ton(start.client)}, auditor ${ton(start.auditor)} TON` };
        });

        // 5. The worker agent: HTTP API on 127.0.0.1 behind a relay (its public endpoint), registered with its stake: Pending.
        const relay = await EndpointRelay.start();
        cleanups.push(() => relay.close());
        const worker = await step('worker', async () => {
            const config = parseWorkerConfig(
                {
                    network: 'local',
                    root: root.address.toString(),
                    slot: 0,
                    dataDir: join(stateDir, 'worker'),
                    model: { engine: 'embedded', path: options.modelDir ? resolve(options.modelDir) : DEFAULT_TINY_MODEL_DIR },
                    prices: { prompt: DEMO_PRICES.prompt.toString(), completion: DEMO_PRICES.completion.toString() },
                    registration: { stake: ton(DEMO_STAKE) },
                    http: { port: 0, publicUrl: relay.url },
                    limits: { maxTokens: 64, maxPromptBytes: 8192, maxConcurrentJobs: 1, maxQueuedJobs: 8 },
                    // Settle only when the client closes: one final Settle pays every voucher with its batch root.
                    settlement: { minAmount: '1000' },
                    watcher: { pollIntervalMs: 20 },
                    shutdownGraceMs: 2_000,
                    channelCacheMs: 0,
                    logLevel: 'warn',
                },
                { env: {} },
            );
            const agent = await startWorkerAgent(config, { chain, wallet: wallets.worker, engine, log, senderOptions: SENDER_OPTIONS });
            cleanups.push(() => agent.stop());
            relay.setTarget(Number(new URL(agent.url).port));
            const status = agent.registration.info.status;
            return { value: agent, detail: `Worker ${short(agent.worker)} registered, stake ${ton(agent.registration.info.stake)} TON, status ${status === WORKER_STATUS_ACTIVE ? 'Active' : 'Pending'}; API ${agent.url}` };
        });
        const workerContract = blockchain.openContract(Worker.fromAddress(worker.worker));

        // 6. The auditor agent reviews the worker's evidence and approves it with a signed verdict: Active.
        const auditor = await step('auditor', async () => {
            const config = parseAuditorConfig(
                {
                    network: 'local',
                    root: root.address.toString(),
                    dataDir: join(stateDir, 'auditor'),
                    http: { port: 0 },
                    watcher: { pollIntervalMs: 20 },
                    attestation: { retryIntervalMs: 50, fetchTimeoutMs: 5_000 },
                    logLevel: 'warn',
                },
                { env: { COCOON_AUDITOR_SEEDS: auditorKey.seed.toString('hex') } },
            );
            const handle = await startAuditor(config, { chain, wallet: wallets.auditor, engine, log, senderOptions: SENDER_OPTIONS });
            cleanups.push(() => handle.stop());
            const reviewOf = () => handle.reviews().find((r) => Address.parse(r.worker).equals(worker.worker));
            // The auditor logs its review once its verdict's transaction is confirmed, which can be
            // just after the Worker turned Active: wait for both.
            await until('the auditor to approve the worker', async () => (await workerContract.getStatus()) === WORKER_STATUS_ACTIVE && reviewOf() !== undefined);
            const review = reviewOf()!;
            return { value: handle, detail: `evidence reviewed (${review.outcome}), approval verdict signed and sent to Root: worker Active` };
        });

        // 7. The client discovers the worker from Root's events and verifies its attestation against Root.
        const client = await step('discover', async () => {
            const client = await CocoonClient.create({
                chain,
                root: root.address,
                wallet: wallets.client,
                stateDir: join(stateDir, 'client'),
                pollIntervalMs: 20,
                autoDeposit: DEMO_DEPOSIT,
            });
            cleanups.push(() => client.close());
            const found = await client.refresh();
            const ours = found.find((w) => w.address.equals(worker.worker));
            if (!ours) throw new Error(`the worker was not discovered and verified (refused: ${JSON.stringify(client.refused)})`);
            if (!ours.models.has(engine.modelHash)) throw new Error('the verified worker does not offer the model');
            return { value: client, detail: `${found.length} worker found in Root's events; attestation verified (${ours.teeType}, measurement allowed by Root, keys bound to the Worker)` };
        });
        const verified = (await client.refresh()).find((w) => w.address.equals(worker.worker)) as VerifiedWorker;

        // 8. A channel with the worker, the deposit from the client's wallet.
        const channel = await step('channel', async () => {
            const record = await client.openChannel(verified, DEMO_DEPOSIT);
            return { value: record.address, detail: `Channel ${short(record.address)} open, deposit ${ton(DEMO_DEPOSIT)} TON` };
        });
        const channelContract = blockchain.openContract(Channel.fromAddress(channel));

        // 9. Encrypted requests on the fast path: each receipt checked by the SDK, each answer paid by a voucher.
        const answers: DemoAnswer[] = [];
        const record = (prompt: string, r: ChatResult): DemoAnswer => ({
            prompt,
            content: r.content,
            path: r.path,
            seq: r.seq.toString(),
            promptTokens: r.usage.promptTokens,
            completionTokens: r.usage.completionTokens,
            cost: r.usage.cost.toString(),
            ...(r.voucherCumulative !== undefined ? { voucherCumulative: r.voucherCumulative.toString() } : {}),
        });
        for (let i = 0; i < requests; i++) {
            const prompt = DEMO_PROMPTS[i % DEMO_PROMPTS.length];
            await step(`request ${i + 1}`, async () => {
                const r = await client.chat({ model: engine.modelHash, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, worker: worker.worker });
                if (r.path !== 'fast') throw new Error(`expected the fast path, got ${r.path}`);
                answers.push(record(prompt, r));
                return { value: r, detail: `fast path seq ${r.seq}: ${JSON.stringify(r.content)} (${r.usage.totalTokens} tokens, ${ton(r.usage.cost)} TON), receipt verified, voucher ${ton(r.voucherCumulative!)} TON signed` };
            });
        }

        // 10. The worker's endpoint is cut: the client posts the job on-chain, the worker agent (watching the chain) commits it.
        const onchainPrompt = 'Answer me on-chain';
        const onchain = await step('on-chain job', async () => {
            await relay.cut();
            let r: ChatResult;
            try {
                r = await client.chat({ model: engine.modelHash, messages: [{ role: 'user', content: onchainPrompt }], max_tokens: maxTokens, worker: worker.worker });
            } finally {
                await relay.restore();
            }
            if (r.path !== 'onchain') throw new Error(`expected the on-chain path, got ${r.path}`);
            answers.push(record(onchainPrompt, r));
            return { value: r, detail: `endpoint cut → PostJob seq ${r.seq}; committed by the worker: ${JSON.stringify(r.content)} (${ton(r.usage.cost)} TON); endpoint restored` };
        });

        // 11. Time travel past the challenge window: the worker agent finalizes the job and is paid.
        const challengeWindow = Number(params.channel.challengeWindow);
        await step('finalize job', async () => {
            blockchain.now = blockchain.now! + challengeWindow + 1;
            await until('the worker to finalize the on-chain job', async () => (await channelContract.getJob(onchain.seq)) === null);
            const done = await client.settleOnChainJobs();
            return { value: done, detail: `chain time +${challengeWindow + 1} s (challenge window over): FinalizeJob by the worker, payment released` };
        });

        // 12. The client closes: RequestClose; the worker settles every voucher with the batch root of its receipts (final), which closes the channel.
        const closed = await step('settle and close', async () => {
            await client.closeChannel(channel);
            let how: 'final-settle' | 'finalize-close' = 'final-settle';
            try {
                await until('the worker\'s final settlement', async () => (await channelContract.getState()).status === CHANNEL_CLOSED, 20_000);
            } catch {
                // The worker did not settle in time: wait out the close delay (time travel) and finalize the close.
                how = 'finalize-close';
                const state = await channelContract.getState();
                blockchain.now = Math.max(blockchain.now!, Number(state.closeAt));
                const result = await client.closeChannel(channel);
                if (!result.closed) throw new Error('the channel did not close');
            }
            // The sandbox runs a cascade message by message: let the close's payouts, fees and refund land before reading balances.
            await settledCascade(chain, channel);
            const raw = channel.toRawString();
            const batch = await until('the confirmed batch', async () => worker.journal.batches(raw).filter((b) => b.state === 'confirmed').at(-1), 10_000);
            const txs = await chain.getTransactions(channel, { limit: 100 });
            const closedEvent = txs.flatMap((tx) => closedEvents(tx)).at(0);
            if (!closedEvent) throw new Error('the channel has no ChannelClosed event');
            return {
                value: { how, batch, ...closedEvent },
                detail: `${how === 'final-settle' ? 'RequestClose → final Settle' : 'RequestClose → FinalizeClose'}: ${batch.count} receipts, batch root ${batch.root.toString('hex').slice(0, 16)}…, ${ton(batch.cumulative)} TON settled; channel Closed, ${ton(closedEvent.refund)} TON refunded, ${ton(closedEvent.fees)} TON fees to Root`,
            };
        });

        // The accounts, read from the chain.
        const state = await channelContract.getState();
        const end = { worker: await balance(wallets.worker.address), client: await balance(wallets.client.address), auditor: await balance(wallets.auditor.address) };
        const payee = state.payee;
        const earned = await payeeEarnings(chain, payee, channel);
        const rootFees = (await root.getState()).feesReceived - rootFeesStart;
        const paidForInference = state.settled + onchain.usage.cost;
        const clientSpent = start.client - end.client;
        const stake = await workerContract.getStake();
        const governanceEnd = (await blockchain.getContract(governance.address)).balance;
        const channelLeft = (await chain.getAccount(channel)).balance;
        const promptTokens = answers.reduce((s, a) => s + a.promptTokens, 0);
        const completionTokens = answers.reduce((s, a) => s + a.completionTokens, 0);
        const report: DemoReport = {
            chain: {
                root: root.address.toString(),
                worker: worker.worker.toString(),
                channel: channel.toString(),
                payee: payee.toString(),
                modelHash: engine.modelHash,
                timeTravelSeconds: blockchain.now! - startTime,
            },
            answers,
            tokens: { prompt: promptTokens, completion: completionTokens, total: promptTokens + completionTokens },
            settlement: { cumulative: closed.batch.cumulative.toString(), batchRoot: closed.batch.root.toString('hex'), receipts: closed.batch.count, final: closed.batch.final },
            close: { how: closed.how, refund: closed.refund.toString(), fees: closed.fees.toString() },
            money: {
                clientSpent: clientSpent.toString(),
                clientPaidForInference: paidForInference.toString(),
                clientGasAndFees: (clientSpent - paidForInference).toString(),
                workerEarned: earned.toString(),
                workerStake: stake.toString(),
                workerWalletChange: (end.worker - start.worker).toString(),
                workerGasAndFees: (earned - stake - (end.worker - start.worker)).toString(),
                rootFees: closed.fees.toString(),
                rootFeesCounted: rootFees.toString(),
                auditorGasAndFees: (start.auditor - end.auditor).toString(),
                governanceSpent: (governanceStart - governanceEnd).toString(),
                channelLeft: channelLeft.toString(),
            },
            timings,
            totalMs: Date.now() - started,
        };
        const network: DemoNetwork = { blockchain, chain, root: root.address, worker, auditor, client, relay, engine, wallets, governance, stateDir, stop: stopAll };
        return { report, network };
    } catch (error) {
        await stopAll();
        throw error;
    }
}

/**
 * Waits until every internal message sent by `account`'s transactions, and by the transactions
 * those messages caused, has been processed by its destination (the sandbox delivers a cascade
 * one message at a time, and other tasks may read the chain in between).
 */
export async function settledCascade(chain: SandboxChain, account: Address, timeoutMs = 10_000): Promise<void> {
    const seen = new Set<string>();
    let frontier = await chain.getTransactions(account, { limit: 100 });
    while (frontier.length > 0) {
        const next: Transaction[] = [];
        for (const tx of frontier) {
            const key = `${tx.lt}:${tx.hash().toString('hex')}`;
            if (seen.has(key)) continue;
            seen.add(key);
            for (const message of tx.outMessages.values()) {
                const info = message.info;
                if (info.type !== 'internal') continue;
                const delivered = await until(
                    `delivery of a message from ${info.src.toString()} to ${info.dest.toString()}`,
                    async () =>
                        (await chain.getTransactions(info.dest, { limit: 100 })).find(
                            (t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(info.src) && t.inMessage.info.createdLt === info.createdLt,
                        ),
                    timeoutMs,
                    5,
                );
                next.push(delivered);
            }
        }
        frontier = next;
    }
}

function short(a: Address): string {
    const s = a.toString();
    return `${s.slice(0, 6)}…${s.slice(-4)}`;
}

/** The channel's ChannelClosed event in `tx`, if it has one. */
function closedEvents(tx: Transaction): { refund: bigint; fees: bigint }[] {
    return eventsOf(tx)
        .filter((e) => e.$$type === 'ChannelClosed')
        .map((e) => ({ refund: (e as { refund: bigint }).refund, fees: (e as { fees: bigint }).fees }));
}

/**
 * What `payee` received for work on `channel`: JobFinalized (payment − fee) and ChannelSettled
 * (amount − fee) messages from the channel, read from the payee's transactions.
 */
export async function payeeEarnings(chain: SandboxChain, payee: Address, channel: Address): Promise<bigint> {
    let earned = 0n;
    for (const tx of await chain.getTransactions(payee, { limit: 100 })) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || !info.src.equals(channel)) continue;
        const op = readBodyHead(tx.inMessage!.body).op;
        const s = tx.inMessage!.body.beginParse();
        if (op === OP_JOB_FINALIZED) {
            s.skip(32 + 64);
            const payment = s.loadUintBig(64);
            const fee = s.loadUintBig(64);
            earned += payment - fee;
        } else if (op === OP_CHANNEL_SETTLED) {
            s.skip(32 + 64);
            const amount = s.loadUintBig(64);
            const fee = s.loadUintBig(64);
            earned += amount - fee;
        }
    }
    return earned;
}


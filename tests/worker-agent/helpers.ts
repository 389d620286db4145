import { signJobRequest } from '../../agents/core/job-auth';
// Test harness of the worker agent: a sandbox network with the real contracts (Root, Worker,
// Channel), the real tiny model, a funded gas wallet, and a client that opens channels, seals
// requests to the worker's attested key, verifies receipts and signs vouchers over real HTTP.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { SandboxChain } from '../../agents/chain/sandbox';
import { Wallet, WalletKey } from '../../agents/chain/wallet';
import { ed25519FromSeed, Ed25519KeyPair } from '../../agents/core/ed25519';
import { openResponse, sealRequest } from '../../agents/core/envelope';
import { simulatedMeasurement } from '../../agents/enclave/binding';
import { EmbeddedEngine } from '../../agents/inference/embedded';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';
import { modelHashToUint256 } from '../../agents/inference/model-identity';
import { startWorkerAgent, WorkerAgentDeps, WorkerAgentHandle } from '../../agents/worker/agent';
import { parseWorkerConfig, WorkerConfig } from '../../agents/worker/config';
import { silentLogger } from '../../agents/worker/logger';
import { Channel, channelFor, OPEN_FEE, TEE_SIMULATED } from '../../wrappers';
import { parseReceipt, publicKeyToInt, signVoucher, verifySigned } from '../../wrappers/signed';
import { createNetwork, devParams, DeepPartialParams, Network } from '../helpers/cocoon';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const TINY_MODEL_DIR = resolve(REPO_ROOT, 'models', 'tiny');
export const PROMPT_PRICE = 1_000n;
export const COMPLETION_PRICE = 2_000n;

export function tempDir(prefix: string): string {
    return mkdtempSync(join(tmpdir(), `cocoon-${prefix}-`));
}

export function removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
}

export interface SandboxWorld {
    net: Network;
    chain: SandboxChain;
    engine: EmbeddedEngine;
    modelHash: string;
    model: bigint;
}

/** Root with dev params, the simulated enclave image and the tiny model allowed; the tiny model loaded. */
export async function sandboxWorld(params: DeepPartialParams = {}): Promise<SandboxWorld> {
    await ensureTinyModel(TINY_MODEL_DIR);
    const engine = await EmbeddedEngine.load({ model: TINY_MODEL_DIR, threads: 1 });
    const net = await createNetwork({ params: devParams(params) });
    const gov = net.governance.getSender();
    const model = modelHashToUint256(engine.modelHash);
    await net.root.send(gov, { value: toNano('0.05') }, { $$type: 'AddModel', queryId: 0n, model, flags: 0n });
    await net.root.send(
        gov,
        { value: toNano('0.05') },
        { $$type: 'AddMeasurement', queryId: 0n, measurement: BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex')), teeType: TEE_SIMULATED },
    );
    if (!(await net.root.getIsModelAllowed(model))) throw new Error('sandboxWorld: model not allowed');
    return { net, chain: new SandboxChain(net.blockchain), engine, modelHash: engine.modelHash, model };
}

/** A v4 wallet with a fresh key, funded from a treasury (the sender deploys it on its first send). */
export async function fundedWallet(net: Network, amount = toNano('100')): Promise<Wallet> {
    const wallet = Wallet.fromKey(new WalletKey(randomBytes(32)));
    const faucet = await net.blockchain.treasury('faucet');
    await faucet.send({ to: wallet.address, value: amount, bounce: false });
    return wallet;
}

export function workerConfig(world: SandboxWorld, dataDir: string, overrides: Record<string, unknown> = {}): WorkerConfig {
    const base: Record<string, unknown> = {
        network: 'local',
        root: world.net.root.address.toString(),
        slot: 0,
        dataDir,
        model: { engine: 'embedded', path: TINY_MODEL_DIR },
        prices: { prompt: PROMPT_PRICE.toString(), completion: COMPLETION_PRICE.toString() },
        registration: { stake: '10' },
        http: { port: 0 },
        limits: { maxTokens: 64, maxPromptBytes: 8192, maxConcurrentJobs: 1, maxQueuedJobs: 4 },
        settlement: { minAmount: '1' },
        watcher: { pollIntervalMs: 50 },
        shutdownGraceMs: 5_000,
        channelCacheMs: 0,
        logLevel: 'warn',
    };
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(overrides)) {
        merged[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? { ...(base[k] as object), ...(v as object) } : v;
    }
    return parseWorkerConfig(merged, { env: {} });
}

export async function startAgent(world: SandboxWorld, config: WorkerConfig, wallet: Wallet, extra: Partial<WorkerAgentDeps> = {}): Promise<WorkerAgentHandle> {
    return startWorkerAgent(config, {
        chain: world.chain,
        wallet,
        engine: world.engine,
        log: silentLogger,
        senderOptions: { pollIntervalMs: 5, rebroadcastIntervalMs: 50, retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 } },
        ...extra,
    });
}

export interface Attestation {
    worker: string;
    signingKey: string;
    encryptionKey: string;
    evidence: string;
    issuedAt: number;
    teeType: string;
    models: { hash: string; promptPrice: string; completionPrice: string }[];
}

export interface JobResponse {
    status: number;
    body: Record<string, unknown>;
}

export interface Verified {
    answer: { content: string; finish_reason: string };
    receipt: ReturnType<typeof parseReceipt>;
    cell: Cell;
    signature: Buffer;
    signatureValid: boolean;
    resultHashMatches: boolean;
    inputHashMatches: boolean;
}

/** A client of one channel: seals requests, checks receipts, signs vouchers. */
export class TestClient {
    readonly key: Ed25519KeyPair = ed25519FromSeed(randomBytes(32));
    channel!: SandboxContract<Channel>;
    treasury!: SandboxContract<TreasuryContract>;
    attestation!: Attestation;
    /** Cost of every receipt received, by seq: what the client owes in total. */
    readonly costs = new Map<bigint, bigint>();

    constructor(
        readonly world: SandboxWorld,
        public agent: WorkerAgentHandle,
    ) {}

    static async open(world: SandboxWorld, agent: WorkerAgentHandle, deposit: bigint, name = `client-${randomBytes(4).toString('hex')}`): Promise<TestClient> {
        const client = new TestClient(world, agent);
        client.treasury = await world.net.blockchain.treasury(name);
        client.channel = world.net.blockchain.openContract(await channelFor(world.net.root.address, client.treasury.address, agent.worker));
        await client.channel.send(client.treasury.getSender(), { value: deposit + OPEN_FEE }, { $$type: 'Open', queryId: 1n, clientKey: publicKeyToInt(client.key.publicKey) });
        client.attestation = (await (await fetch(`${agent.url}/v1/attestation`)).json()) as Attestation;
        return client;
    }

    get address(): Address {
        return this.channel.address;
    }

    /** Seals `payload` for (channel, seq) and POSTs it; returns the raw response and the reply key. */
    /** `auth`: the request's signature field (default: signed by this client's key; `null`: left out). */
    async post(seq: bigint, payload: unknown, options: { stream?: boolean; model?: string; resend?: ReturnType<typeof sealRequest>; voucher?: unknown; auth?: string | null } = {}) {
        const sealed = options.resend ?? sealRequest(Buffer.from(JSON.stringify(payload)), {
            recipientKey: Buffer.from(this.attestation.encryptionKey, 'hex'),
            context: { channel: this.address, seq },
        });
        const res = await fetch(`${this.agent.url}/v1/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
                channel: this.address.toString(),
                seq: seq.toString(),
                model: options.model ?? this.world.modelHash,
                envelope: sealed.envelope.toString('base64'),
                ...(options.auth === null ? {} : { auth: options.auth ?? this.auth(seq, sealed.envelope) }),
                ...(options.stream === undefined ? {} : { stream: options.stream }),
                ...(options.voucher === undefined ? {} : { voucher: options.voucher }),
            }),
        });
        return { res, sealed };
    }

    /** Runs a chat job; verifies the answer envelope and the receipt like the SDK does. */
    /** Runs a chat job, verifies it, and (unless `pay` is false) signs a voucher for everything owed, as the SDK does. */
    async chat(seq: bigint, content: string, maxTokens = 8, options: { pay?: boolean } = {}): Promise<{ status: number; body: Record<string, any>; v?: Verified }> {
        const payload = { messages: [{ role: 'user', content }], max_tokens: maxTokens };
        const { res, sealed } = await this.post(seq, payload);
        const body = (await res.json()) as Record<string, any>;
        if (res.status !== 200) return { status: res.status, body };
        const v = this.verify(seq, payload, body, sealed.replyKeyPair.secretKey);
        if (options.pay !== false) await this.pay();
        return { status: 200, body, v };
    }

    verify(seq: bigint, payload: unknown, body: Record<string, string>, replySecretKey: Buffer): Verified {
        const plaintext = openResponse(Buffer.from(body.envelope, 'base64'), {
            replySecretKey,
            expectedSenderKey: Buffer.from(this.attestation.encryptionKey, 'hex'),
            expect: { channel: this.address, seq },
        });
        const answer = JSON.parse(plaintext.toString('utf8')) as { content: string; finish_reason: string };
        const cell = Cell.fromBoc(Buffer.from(body.receipt, 'base64'))[0];
        const receipt = parseReceipt(cell);
        const signature = Buffer.from(body.signature, 'base64');
        this.costs.set(seq, BigInt(body.cost));
        const signatureValid = verifySigned({ cell, signature }, Buffer.from(this.attestation.signingKey, 'hex'));
        const { createHash } = require('node:crypto') as typeof import('node:crypto');
        const sha = (b: Buffer) => BigInt('0x' + createHash('sha256').update(b).digest('hex'));
        return {
            answer,
            receipt,
            cell,
            signature,
            signatureValid,
            resultHashMatches: receipt.resultHash === sha(plaintext),
            inputHashMatches: receipt.inputHash === sha(Buffer.from(JSON.stringify(payload))),
        };
    }

    get owed(): bigint {
        return [...this.costs.values()].reduce((a, b) => a + b, 0n);
    }

    /** Signs and sends a voucher for everything received so far. */
    async pay() {
        const r = await this.voucher(this.owed);
        if (r.status !== 200) throw new Error(`voucher refused: ${JSON.stringify(r.body)}`);
        return r;
    }

    /** The `auth` field of a job request: this client's (or `key`'s) signature of (channel, seq, envelope). */
    auth(seq: bigint, envelope: Buffer, key: Ed25519KeyPair = this.key): string {
        return signJobRequest(this.address, seq, envelope, key.seed).toString('base64');
    }

    /** The `voucher` field a job request may carry: `{ cumulative, signature }` signed by this client's key (or `key`). */
    voucherField(cumulative: bigint, key: Ed25519KeyPair = this.key): { cumulative: string; signature: string } {
        return { cumulative: cumulative.toString(), signature: signVoucher({ channel: this.address, cumulative }, key.seed).signature.toString('base64') };
    }

    async voucher(cumulative: bigint, options: { key?: Ed25519KeyPair; channel?: Address } = {}) {
        const signed = signVoucher({ channel: options.channel ?? this.address, cumulative }, (options.key ?? this.key).seed);
        const res = await fetch(`${this.agent.url}/v1/vouchers`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ channel: this.address.toString(), cumulative: cumulative.toString(), signature: signed.signature.toString('base64') }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }
}

/** Reads a server-sent-events response into its events. */
export async function readEvents(res: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
    const text = await res.text();
    return text
        .split('\n\n')
        .filter((block) => block.trim() !== '')
        .map((block) => {
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
            const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}');
            return { event, data };
        });
}

/**
 * The tiny model's greedy answer: the chat template ends the prompt with a space and the model
 * continues with every following byte up to "z", then EOS. A user message of n bytes renders to
 * 18 + n prompt tokens.
 */
export const TINY_ANSWER = '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz';

export function promptTokensOf(content: string): number {
    return 18 + Buffer.byteLength(content);
}

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { IdempotentSender } from '../chain/sender';
import { sleep } from '../chain/retry';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';
import { EnvelopeError, openResponse, sealRequest } from '../core/envelope';
import { signJobRequest } from '../core/job-auth';
import { SimulatedVerifier } from '../enclave/simulated';
import { EvidenceVerifier } from '../enclave/types';
import { JournalStore } from '../store/store';
import { eventsOf, JOB_COMMITTED, JOB_POSTED, ResultCommitted } from '../../wrappers';
import { parseWorkerAttestation, VerifiedWorker, verifyWorkerAttestation } from './attestation';
import { bytesToSnakeCell, ChannelManager, snakeCellToBytes, statusName } from './channels';
import {
    ChannelError,
    CocoonClientError,
    InsufficientDepositError,
    InvalidChatRequestError,
    NoWorkerAvailableError,
    OnChainJobError,
    ReceiptRejectedError,
    UnknownModelError,
    WorkerRequestError,
    WorkerUnreachableError,
} from './errors';
import { ChannelRecord, ClientLedger, VoucherKeySource, walletDerivedVoucherKeys } from './ledger';
import { bufferToUint256, JobInput, jobCost, ModelPrices, sha256, verifyJobAnswer } from './receipts';
import { hex256, parseModelHash, RootRegistry, RootSnapshot } from './registry';
import { DEFAULT_SELECTION, rankWorkers, SelectionPolicy } from './selection';
import { fetchAttestation, fetchResult, JobRequestBody, postJob, postVoucher, streamJob } from './worker-api';

/**
 * The client SDK: one object that discovers workers, verifies them, pays them through channels
 * and runs chat requests over the fast path, falling back to on-chain jobs when a worker's
 * endpoint is unreachable. docs/client.md is its guide.
 */
export interface CocoonClientOptions {
    chain: Chain;
    /** The network's Root contract. */
    root: Address;
    /** The client's wallet: pays deposits and gas, and derives the channels' voucher keys. */
    wallet: Wallet;
    /** Directory of the client's crash-safe ledger (seqs, vouchers, receipts, channels). */
    stateDir: string;
    /** Evidence verifiers (default: the simulated verifier with the local devnet's attestation key). */
    verifiers?: EvidenceVerifier[];
    /** Refuse simulated enclaves whatever Root allows (set for mainnet). */
    refuseSimulated?: boolean;
    selection?: Partial<SelectionPolicy>;
    /** Deposit of a channel the client opens by itself when it has none with the chosen worker (nanoTON); unset: never. */
    autoDeposit?: bigint;
    /** When the free deposit cannot cover a job, top up by at least this (nanoTON); unset: never. */
    autoTopUp?: bigint;
    /** Model names → hashes the client trusts (otherwise the names workers advertise). */
    models?: Record<string, string>;
    /** Only these workers (addresses) are used. */
    workers?: Address[];
    /** Fast-path request timeout, ms (default 120 000). */
    requestTimeoutMs?: number;
    /** Re-check a worker's attestation after this many seconds (default 300). */
    reverifySeconds?: number;
    /** The on-chain fallback: on by default; its deadline in seconds (default 300, capped by maxJobDeadline). */
    fallback?: { enabled?: boolean; deadlineSeconds?: number };
    /** Chain polling interval, ms (default 1000; the sandbox can use less). */
    pollIntervalMs?: number;
    /** How long a channel's state may be reused between fast-path requests, ms (default 2000; 0 = read it every time). */
    channelViewCacheMs?: number;
    /**
     * How long the voucher for an answer waits for the channel's next request to carry it before it
     * is sent on its own (POST /v1/vouchers), ms (default 50).
     */
    voucherDelayMs?: number;
    voucherKeys?: VoucherKeySource;
    log?: (entry: Record<string, unknown>) => void;
}

export interface ChatMessage {
    role: string;
    content: string;
}

export interface ChatRequest {
    /** A model name (advertised by workers, or pinned in `models`) or its 64-hex-digit hash. */
    model: string;
    messages: ChatMessage[];
    max_tokens?: number;
    stop?: string | string[];
    /** Receive the answer piece by piece as the worker streams it (before the receipt is checked). */
    onDelta?: (delta: string) => void;
    /** Use this worker only. */
    worker?: Address;
    signal?: AbortSignal;
}

export interface ChatUsage {
    promptTokens: number;
    completionTokens: number;
    totalTokens: number;
    /** What the job costs, nanoTON: tokens × the channel's snapshot prices. */
    cost: bigint;
}

export interface ChatResult {
    id: string;
    model: string;
    modelHash: string;
    content: string;
    finishReason: string;
    usage: ChatUsage;
    worker: Address;
    channel: Address;
    seq: bigint;
    path: 'fast' | 'onchain';
    /** Fast path: the cumulative voucher signed after this job. */
    voucherCumulative?: bigint;
}

export interface ModelOffer {
    /** The name to request it by. */
    id: string;
    hash: string;
    workers: number;
    /** Cheapest prices among the verified workers, nanoTON per token. */
    promptPrice: bigint;
    completionPrice: bigint;
}

const MAX_MESSAGES = 1024;
const MAX_STOP = 16;

export function validateChatRequest(request: ChatRequest): void {
    if (!request || typeof request !== 'object') throw new InvalidChatRequestError('the request must be an object with model and messages');
    if (typeof request.model !== 'string' || request.model.trim() === '') throw new InvalidChatRequestError('model must be a non-empty string (a model name or its hash)');
    if (!Array.isArray(request.messages) || request.messages.length === 0) throw new InvalidChatRequestError('messages must be a non-empty array of {role, content}');
    if (request.messages.length > MAX_MESSAGES) throw new InvalidChatRequestError(`at most ${MAX_MESSAGES} messages per request`);
    request.messages.forEach((m, i) => {
        if (!m || typeof m !== 'object') throw new InvalidChatRequestError(`messages[${i}] must be an object {role, content}`);
        if (typeof m.role !== 'string' || m.role.trim() === '') throw new InvalidChatRequestError(`messages[${i}].role must be a non-empty string`);
        if (typeof m.content !== 'string') throw new InvalidChatRequestError(`messages[${i}].content must be a string`);
    });
    if (request.max_tokens !== undefined && !(Number.isSafeInteger(request.max_tokens) && request.max_tokens > 0)) {
        throw new InvalidChatRequestError(`max_tokens must be a positive integer, got ${JSON.stringify(request.max_tokens)}`);
    }
    if (request.stop !== undefined) {
        const stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
        if (!Array.isArray(stop) || stop.length > MAX_STOP || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
            throw new InvalidChatRequestError(`stop must be a non-empty string or an array of at most ${MAX_STOP} non-empty strings`);
        }
    }
}

/** An upper bound on the prompt tokens a worker can bill for `input` (tokens are at least one byte, plus template overhead). */
export function promptTokenBound(input: Buffer, messages: number): bigint {
    return BigInt(input.length + 16 * messages + 64);
}

interface Candidate {
    worker: VerifiedWorker;
    prices: ModelPrices;
}

export class CocoonClient {
    readonly registry: RootRegistry;
    readonly ledger: ClientLedger;
    readonly channels: ChannelManager;
    readonly store: JournalStore;
    private readonly verifiers: EvidenceVerifier[];
    private readonly voucherKeys: VoucherKeySource;
    private readonly selection: SelectionPolicy;
    private verified = new Map<string, VerifiedWorker>();
    private refusals = new Map<string, string>();
    private lastRefresh = 0;
    private refreshing: Promise<void> | undefined;
    private closed = false;
    /**
     * The voucher for an answer travels with the channel's next job request; when none comes
     * within `voucherDelayMs`, it is sent on its own. Per channel: the pending timer, the highest
     * voucher a job request on its way carries, and the delivery (POST /v1/vouchers) under way,
     * which closeChannel and close wait for.
     */
    private readonly voucherTimers = new Map<string, { timer: NodeJS.Timeout; channel: Address; endpoint: string }>();
    private readonly voucherCarried = new Map<string, bigint>();
    private readonly voucherDeliveries = new Map<string, Promise<void>>();
    /** Fast-path requests on their way, per channel (a credit refusal waits for the others' answers, whose vouchers it then carries). */
    private readonly jobsInFlight = new Map<string, Set<Promise<ChatResult>>>();

    private constructor(
        readonly options: CocoonClientOptions,
        store: JournalStore,
    ) {
        this.store = store;
        this.verifiers = options.verifiers ?? [new SimulatedVerifier()];
        this.voucherKeys = options.voucherKeys ?? walletDerivedVoucherKeys(options.wallet.key);
        this.selection = { ...DEFAULT_SELECTION, ...(options.selection ?? {}) };
        this.registry = new RootRegistry(options.chain, options.root, { store, log: options.log });
        this.ledger = new ClientLedger(store);
        const sender = new IdempotentSender({
            chain: options.chain,
            wallet: options.wallet,
            store,
            pollIntervalMs: options.pollIntervalMs,
            log: options.log,
        });
        this.channels = new ChannelManager({
            chain: options.chain,
            wallet: options.wallet,
            sender,
            root: options.root,
            ledger: this.ledger,
            voucherKeys: this.voucherKeys,
            pollIntervalMs: options.pollIntervalMs,
            viewCacheMs: options.channelViewCacheMs,
            log: options.log,
        });
    }

    /** Opens (or creates) the client's ledger in `stateDir` and checks Root is reachable and configured. */
    static async create(options: CocoonClientOptions): Promise<CocoonClient> {
        mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
        const store = JournalStore.open(join(options.stateDir, 'client.journal'));
        const client = new CocoonClient(options, store);
        try {
            await client.registry.readRoot(true);
        } catch (error) {
            store.close();
            throw error;
        }
        return client;
    }

    get wallet(): Wallet {
        return this.options.wallet;
    }

    private log(entry: Record<string, unknown>): void {
        this.options.log?.(entry);
    }

    // ------------------------------------------------------------------ discovery and trust

    /**
     * Checks one worker before any data leaves: genuine address, on-chain record, evidence.
     * Throws `WorkerNotGenuineError`, `AttestationVerificationError` or `WorkerUnreachableError`.
     */
    async verifyWorker(address: Address): Promise<VerifiedWorker> {
        const [record, root] = await Promise.all([this.registry.readWorker(address), this.registry.readRoot()]);
        const { body, latencyMs } = await fetchAttestation(record.endpoint);
        const attestation = parseWorkerAttestation(body, address.toString());
        const now = await this.options.chain.now();
        const verified = await verifyWorkerAttestation(attestation, record, root, {
            verifiers: this.verifiers,
            now,
            refuseSimulated: this.options.refuseSimulated,
        });
        const worker: VerifiedWorker = { ...verified, latencyMs, verifiedAt: now };
        this.verified.set(address.toRawString(), worker);
        this.refusals.delete(address.toRawString());
        this.log({ event: 'client-worker-verified', worker: address.toString(), teeType: worker.teeType, latencyMs: Math.round(latencyMs) });
        return worker;
    }

    /** Discovers workers from Root's events and verifies each (in parallel); refusals are kept with their reason. */
    async refresh(): Promise<VerifiedWorker[]> {
        if (!this.refreshing) {
            this.refreshing = (async () => {
                await this.registry.readRoot(true);
                const addresses = this.options.workers ?? (await this.registry.discover());
                const verified = new Map<string, VerifiedWorker>();
                const refusals = new Map<string, string>();
                await Promise.all(
                    addresses.map(async (address) => {
                        try {
                            verified.set(address.toRawString(), await this.verifyWorker(address));
                        } catch (error) {
                            if (!(error instanceof CocoonClientError)) throw error;
                            refusals.set(address.toRawString(), `${error.code}: ${error.message}`);
                            this.log({ event: 'client-worker-refused', worker: address.toString(), code: error.code, reason: error.message });
                        }
                    }),
                );
                this.verified = verified;
                this.refusals = refusals;
                this.lastRefresh = Date.now();
            })().finally(() => (this.refreshing = undefined));
        }
        await this.refreshing;
        return [...this.verified.values()];
    }

    private async workers(): Promise<VerifiedWorker[]> {
        const stale = Date.now() - this.lastRefresh > (this.options.reverifySeconds ?? 300) * 1000;
        if (stale || this.verified.size === 0) await this.refresh();
        return [...this.verified.values()];
    }

    /** Workers refused at the last refresh, with the reason. */
    get refused(): { worker: string; reason: string }[] {
        return [...this.refusals].map(([worker, reason]) => ({ worker: Address.parseRaw(worker).toString(), reason }));
    }

    /** Models offered by verified workers (and on Root's allow-list). */
    async listModels(): Promise<ModelOffer[]> {
        const workers = await this.workers();
        const pins = new Map(Object.entries(this.options.models ?? {}).map(([name, hash]) => [hex256(parseModelHash(hash)), name]));
        const offers = new Map<string, ModelOffer>();
        for (const w of workers) {
            for (const [hash, m] of w.models) {
                const offer = offers.get(hash);
                if (!offer) {
                    offers.set(hash, { id: pins.get(hash) ?? m.name, hash, workers: 1, promptPrice: m.prompt, completionPrice: m.completion });
                } else {
                    offer.workers += 1;
                    if (m.prompt + m.completion < offer.promptPrice + offer.completionPrice) {
                        offer.promptPrice = m.prompt;
                        offer.completionPrice = m.completion;
                    }
                }
            }
        }
        return [...offers.values()].sort((a, b) => a.id.localeCompare(b.id));
    }

    /** A model name or hash → its hash (lowercase hex), or `UnknownModelError`. */
    async resolveModel(model: string): Promise<string> {
        const text = model.trim();
        if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) {
            const hash = hex256(parseModelHash(text));
            const root = await this.registry.readRoot();
            if (!root.models.has(hash)) throw new UnknownModelError(`model ${hash} is not on Root's allow-list`);
            return hash;
        }
        const pinned = this.options.models?.[text];
        if (pinned) return hex256(parseModelHash(pinned));
        const matches = new Set((await this.listModels()).filter((m) => m.id === text).map((m) => m.hash));
        if (matches.size === 0) throw new UnknownModelError(`no verified worker offers a model named "${text}"; GET /v1/models lists what is available`);
        if (matches.size > 1) throw new UnknownModelError(`several models are named "${text}" by different workers; request it by hash (${[...matches].join(', ')})`);
        return [...matches][0];
    }

    // ------------------------------------------------------------------ channels

    /** The channel record for a worker, if this client has one open. */
    channelWith(worker: Address): ChannelRecord | undefined {
        return this.ledger.channels().find((c) => c.worker.equals(worker) && c.root.equals(this.options.root) && c.status === 'open');
    }

    /** Opens a channel with a verified worker (it is verified first when given by address). */
    async openChannel(worker: Address | VerifiedWorker, deposit: bigint): Promise<ChannelRecord> {
        const verified = worker instanceof Address ? await this.verifyWorker(worker) : worker;
        const root = await this.registry.readRoot();
        const record = await this.channels.open(verified, deposit, root.params.channel.minChannelDeposit);
        this.log({ event: 'client-channel-open', channel: record.address.toString(), worker: verified.address.toString(), deposit: deposit.toString() });
        return record;
    }

    async topUp(channel: Address, amount: bigint) {
        return this.channels.topUp(channel, amount);
    }

    /**
     * Closes a channel: RequestClose, then FinalizeClose once the close delay has passed (the
     * worker's time to settle). Returns whether the channel is closed yet; call again later otherwise.
     */
    async closeChannel(channel: Address): Promise<{ closed: boolean; closeAt: bigint }> {
        const view = await this.channels.read(channel);
        if (!view) throw new ChannelError(`channel ${channel.toString()} is not deployed`);
        await this.voucherDelivered(channel);
        const voucher = this.ledger.channel(channel)?.voucher;
        const record = this.ledger.channel(channel);
        if (voucher && record && record.deliveredCumulative < voucher.cumulative) await this.deliverVoucher(record).catch(() => undefined);
        let state = view.state;
        if (statusOf(state.status) === 'open') state = await this.channels.requestClose(channel);
        if (statusOf(state.status) === 'closing' && BigInt(await this.options.chain.now()) >= state.closeAt) {
            state = await this.channels.finalizeClose(channel);
        }
        return { closed: statusOf(state.status) === 'closed', closeAt: state.closeAt };
    }

    // ------------------------------------------------------------------ chat

    private async candidates(modelHash: string, pinned?: Address): Promise<Candidate[]> {
        let workers = await this.workers();
        if (pinned) {
            workers = workers.filter((w) => w.address.equals(pinned));
            if (workers.length === 0) {
                const reason = this.refusals.get(pinned.toRawString());
                throw new NoWorkerAvailableError(`worker ${pinned.toString()} is not verified`, reason ? [{ worker: pinned.toString(), reason }] : []);
            }
        }
        const ranked = rankWorkers(workers, modelHash, this.selection);
        // A worker the client already has an open channel with goes first among equals: no new deposit.
        const withChannel = ranked.filter((r) => this.channelWith(r.worker.address));
        const without = ranked.filter((r) => !this.channelWith(r.worker.address));
        const ordered = this.options.autoDeposit !== undefined ? ranked : [...withChannel, ...without];
        return ordered.map((r) => ({ worker: r.worker, prices: r.worker.models.get(modelHash)! }));
    }

    private async channelFor(candidate: Candidate): Promise<ChannelRecord | undefined> {
        const existing = this.channelWith(candidate.worker.address);
        if (existing) return existing;
        if (this.options.autoDeposit === undefined) return undefined;
        return this.openChannel(candidate.worker, this.options.autoDeposit);
    }

    /** Free deposit for new fast-path work: deposit − locked − what is owed (settled or not). */
    private async available(channel: ChannelRecord): Promise<{ available: bigint; limit: bigint }> {
        const view = await this.channels.readRecent(channel.address);
        if (!view || statusOf(view.state.status) !== 'open') {
            if (view) this.ledger.setStatus(channel.address, statusOf(view.state.status));
            throw new ChannelError(`channel ${channel.address.toString()} is no longer open`);
        }
        const limit = view.state.deposit - view.state.locked;
        const owed = channel.owed > view.state.settled ? channel.owed : view.state.settled;
        return { available: limit - owed, limit };
    }

    private async ensureFunds(channel: ChannelRecord, needed: bigint): Promise<bigint> {
        let { available, limit } = await this.available(channel);
        if (available >= needed) return limit;
        if (this.options.autoTopUp === undefined) {
            throw new InsufficientDepositError(needed, available, `channel ${channel.address.toString()} has ${available} nanoTON free, the job may cost up to ${needed}; top up the channel`);
        }
        const amount = needed - available > this.options.autoTopUp ? needed - available : this.options.autoTopUp;
        await this.channels.topUp(channel.address, amount);
        ({ available, limit } = await this.available(channel));
        if (available < needed) throw new InsufficientDepositError(needed, available, `channel ${channel.address.toString()} still lacks funds after a top-up`);
        return limit;
    }

    private async deliverVoucher(channel: ChannelRecord, endpoint?: string): Promise<void> {
        const voucher = this.ledger.lastVoucher(channel.address);
        if (!voucher) return;
        const worker = this.verified.get(channel.worker.toRawString());
        const target = endpoint ?? worker?.endpoint;
        if (!target) return;
        try {
            await this.store.flush();
            await postVoucher(target, { channel: channel.address.toString(), cumulative: voucher.cumulative.toString(), signature: voucher.signature.toString('base64') });
            this.ledger.markDelivered(channel.address, voucher.cumulative);
        } catch (error) {
            if (error instanceof WorkerRequestError && error.status === 409) {
                // The worker already holds this voucher or a higher one: nothing to deliver.
                this.ledger.markDelivered(channel.address, voucher.cumulative);
                return;
            }
            this.log({ event: 'client-voucher-undelivered', channel: channel.address.toString(), cumulative: voucher.cumulative.toString(), error: (error as Error).message });
            throw error;
        }
    }

    /**
     * Runs one chat request: picks a verified worker offering the model (price, reputation,
     * latency), uses or opens a channel, seals the request to the attested key, checks the
     * receipt and pays with a voucher. When the worker's endpoint is unreachable, posts the
     * job on-chain instead and waits for its committed result (or its deadline: then the job
     * is expired and the worker's stake compensates the client, and `OnChainJobError` says so).
     */
    async chat(request: ChatRequest): Promise<ChatResult> {
        if (this.closed) throw new CocoonClientError('closed', 'this client is closed');
        validateChatRequest(request);
        const modelHash = await this.resolveModel(request.model);
        const candidates = await this.candidates(modelHash, request.worker);
        if (candidates.length === 0) {
            throw new NoWorkerAvailableError(`no verified worker offers model ${request.model}`, this.refused);
        }
        const refusals: { worker: string; reason: string }[] = [];
        for (const candidate of candidates) {
            const channel = await this.channelFor(candidate);
            if (!channel) {
                refusals.push({ worker: candidate.worker.address.toString(), reason: 'no open channel with it (open one, or set autoDeposit)' });
                continue;
            }
            try {
                return await this.fastPathCatchingUp(request, modelHash, candidate, channel);
            } catch (error) {
                // A refusal (no credit, channel not open) may come from a state this client reused: read it afresh next time.
                if (error instanceof WorkerRequestError) this.channels.forget(channel.address);
                if (error instanceof WorkerUnreachableError && this.options.fallback?.enabled !== false) {
                    this.log({ event: 'client-fallback-onchain', worker: candidate.worker.address.toString(), reason: error.message });
                    return this.onChainPath(request, modelHash, candidate, channel);
                }
                throw error;
            }
        }
        throw new NoWorkerAvailableError(`no worker offering ${request.model} can take the job`, refusals);
    }

    private jobInput(request: ChatRequest, maxTokens: number): Buffer {
        const input: JobInput = { messages: request.messages.map((m) => ({ role: m.role, content: m.content })), max_tokens: maxTokens };
        if (request.stop !== undefined) input.stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
        return Buffer.from(JSON.stringify(input), 'utf8');
    }

    private limitsFor(request: ChatRequest, candidate: Candidate): { maxTokens: number; input: Buffer; maxCost: bigint } {
        const limits = candidate.worker.limits;
        const maxTokens = request.max_tokens ?? limits.maxTokens;
        if (maxTokens > limits.maxTokens) {
            throw new InvalidChatRequestError(`max_tokens ${maxTokens} is above this worker's limit of ${limits.maxTokens}`);
        }
        const input = this.jobInput(request, maxTokens);
        if (input.length > limits.maxPromptBytes) {
            throw new InvalidChatRequestError(`the prompt is ${input.length} bytes; the worker takes at most ${limits.maxPromptBytes}`);
        }
        const maxCost = jobCost(candidate.prices, promptTokenBound(input, request.messages.length), BigInt(maxTokens));
        return { maxTokens, input, maxCost };
    }

    /**
     * fastPath, tried again (up to twice) when the worker refuses for credit (402) and, once the
     * other requests in flight on the channel are answered, a newer voucher exists than the one the
     * request carried (the worker counted answers whose vouchers were signed after the request
     * left; the retry carries the newest), or refuses the seq as used (409 `seq_used`: a new seq).
     */
    private async fastPathCatchingUp(request: ChatRequest, modelHash: string, candidate: Candidate, channel: ChannelRecord): Promise<ChatResult> {
        const key = channel.address.toRawString();
        const inFlight = this.jobsInFlight.get(key) ?? new Set<Promise<ChatResult>>();
        this.jobsInFlight.set(key, inFlight);
        for (let attempt = 0; ; attempt++) {
            const latestBefore = this.ledger.channel(channel.address)?.voucher?.cumulative ?? 0n;
            const job = this.fastPath(request, modelHash, candidate, channel);
            inFlight.add(job);
            try {
                return await job;
            } catch (error) {
                const refused = (status: number, code: string) => error instanceof WorkerRequestError && error.status === status && error.workerCode === code;
                if (attempt >= 2) throw error;
                if (refused(409, 'seq_used')) {
                    // The worker saw this seq already (our ledger lost its last seqs to a power cut): the next attempt takes a new one.
                    this.log({ event: 'client-seq-retry', channel: channel.address.toString(), attempt: attempt + 1 });
                    continue;
                }
                if (!refused(402, 'payment_required')) throw error;
                // The answers the worker counts but has no voucher for are those of the other requests in flight: once they are in, their vouchers exist.
                inFlight.delete(job);
                await Promise.allSettled([...inFlight]);
                const record = this.ledger.channel(channel.address);
                // No voucher newer than what this request carried (or the worker held): the refusal is about the deposit.
                if ((record?.voucher?.cumulative ?? 0n) <= latestBefore) throw error;
                this.log({ event: 'client-credit-retry', channel: channel.address.toString(), attempt: attempt + 1 });
                channel = record ?? channel;
            } finally {
                inFlight.delete(job);
            }
        }
    }

    private async fastPath(request: ChatRequest, modelHash: string, candidate: Candidate, channel: ChannelRecord): Promise<ChatResult> {
        const prices = channel.prices.get(modelHash);
        if (!prices) throw new ChannelError(`channel ${channel.address.toString()} has no price for model ${modelHash} (the worker priced it after the channel opened)`);
        const { maxTokens, input, maxCost } = this.limitsFor(request, { ...candidate, prices });
        const limit = await this.ensureFunds(channel, maxCost);
        channel = this.ledger.channel(channel.address) ?? channel;
        const key = channel.address.toRawString();
        // The voucher for earlier answers that the worker has not confirmed travels with this request, so the worker never waits on credit.
        const carried = channel.voucher && channel.deliveredCumulative < channel.voucher.cumulative ? channel.voucher : undefined;
        // A voucher leaves only once the ledger holds it on disk (another request's may still be syncing).
        if (carried) await this.store.flush();
        const seq = this.ledger.allocateSeq(channel.address);
        const context = { channel: channel.address, seq };
        const sealed = sealRequest(input, { recipientKey: channel.encryptionKey, context });
        const body: JobRequestBody = {
            channel: channel.address.toString(),
            seq: seq.toString(),
            model: modelHash,
            envelope: sealed.envelope.toString('base64'),
            auth: signJobRequest(channel.address, seq, sealed.envelope, this.voucherKeys.keyFor(channel.address).seed).toString('base64'),
            ...(carried ? { voucher: { cumulative: carried.cumulative.toString(), signature: carried.signature.toString('base64') } } : {}),
        };
        if (carried && carried.cumulative > (this.voucherCarried.get(key) ?? -1n)) this.voucherCarried.set(key, carried.cumulative);
        const expected = {
            channel: channel.address,
            seq,
            model: BigInt('0x' + modelHash),
            input,
            signingKey: channel.signingKey,
            encryptionKey: channel.encryptionKey,
            replySecretKey: sealed.replyKeyPair.secretKey,
            prices,
            maxTokens,
            maxCost,
        };
        const started = Date.now();
        let answer;
        let streamed = '';
        const timeoutMs = this.options.requestTimeoutMs ?? 120_000;
        try {
            if (request.onDelta) {
                for await (const event of streamJob(candidate.worker.endpoint, body, { timeoutMs, signal: request.signal })) {
                    if (event.event === 'chunk') {
                        const delta = this.openChunk(event.data.envelope, expected);
                        streamed += delta;
                        if (delta) request.onDelta(delta);
                    } else if (event.event === 'receipt') {
                        answer = event.data;
                    } else if (event.event === 'error') {
                        throw new WorkerRequestError(502, event.data.code, `worker ${candidate.worker.endpoint} failed mid-stream: ${event.data.message}`);
                    }
                }
                if (!answer) throw new WorkerRequestError(502, 'stream_cut', `worker ${candidate.worker.endpoint} ended the stream without a receipt`);
            } else {
                answer = await postJob(candidate.worker.endpoint, body, { timeoutMs, signal: request.signal });
            }
        } catch (error) {
            // The voucher it carried may not have arrived: send it on its own.
            if (carried) this.scheduleVoucher(channel.address, candidate.worker.endpoint);
            throw error;
        } finally {
            if (carried && this.voucherCarried.get(key) === carried.cumulative) this.voucherCarried.delete(key);
        }
        const verified = verifyJobAnswer(answer, expected);
        if (request.onDelta && streamed !== verified.output.content) {
            if (streamed === '' && verified.output.content !== '') {
                // A worker that answered the stream request in one piece: hand the whole answer over now.
                request.onDelta(verified.output.content);
            } else {
                throw new ReceiptRejectedError('stream', 'the streamed pieces do not add up to the answer the receipt signs');
            }
        }
        const voucher = this.ledger.recordReceiptAndSignVoucher(
            channel.address,
            { seq, cell: verified.receiptCell.toBoc(), signature: verified.signature, cost: verified.cost },
            this.voucherKeys.keyFor(channel.address),
            limit,
            carried?.cumulative,
            { later: true },
        );
        // The receipt and the voucher are on disk before the answer is handed over (the sync runs in the thread pool).
        await this.store.flush();
        this.scheduleVoucher(channel.address, candidate.worker.endpoint);
        this.log({
            event: 'client-job-done',
            path: 'fast',
            channel: channel.address.toString(),
            seq: seq.toString(),
            cost: verified.cost.toString(),
            voucher: voucher.cumulative.toString(),
            ms: Date.now() - started,
        });
        return {
            id: `chatcmpl-${channel.address.hash.subarray(0, 6).toString('hex')}-${seq}`,
            model: candidate.worker.models.get(modelHash)?.name ?? modelHash,
            modelHash,
            content: verified.output.content,
            finishReason: verified.output.finish_reason,
            usage: {
                promptTokens: Number(verified.promptTokens),
                completionTokens: Number(verified.completionTokens),
                totalTokens: Number(verified.promptTokens + verified.completionTokens),
                cost: verified.cost,
            },
            worker: candidate.worker.address,
            channel: channel.address,
            seq,
            path: 'fast',
            voucherCumulative: voucher.cumulative,
        };
    }

    private openChunk(envelopeBase64: string, expected: { channel: Address; seq: bigint; encryptionKey: Buffer; replySecretKey: Buffer }): string {
        let plaintext: Buffer;
        try {
            plaintext = openResponse(Buffer.from(String(envelopeBase64), 'base64'), {
                replySecretKey: expected.replySecretKey,
                expectedSenderKey: expected.encryptionKey,
                expect: { channel: expected.channel, seq: expected.seq },
            });
        } catch (error) {
            if (error instanceof EnvelopeError) throw new ReceiptRejectedError(`envelope-${error.code}`, `a streamed piece does not open: ${error.message}`, { cause: error });
            throw error;
        }
        let chunk: { delta?: unknown };
        try {
            chunk = JSON.parse(plaintext.toString('utf8'));
        } catch {
            throw new ReceiptRejectedError('malformed', 'a streamed piece is not JSON {index, delta}');
        }
        if (typeof chunk.delta !== 'string') throw new ReceiptRejectedError('malformed', 'a streamed piece has no delta');
        return chunk.delta;
    }

    // ------------------------------------------------------------------ on-chain jobs

    private async onChainPath(request: ChatRequest, modelHash: string, candidate: Candidate, channel: ChannelRecord): Promise<ChatResult> {
        const prices = channel.prices.get(modelHash);
        if (!prices) throw new ChannelError(`channel ${channel.address.toString()} has no price for model ${modelHash}`);
        const { input, maxCost } = this.limitsFor(request, { ...candidate, prices });
        const root: RootSnapshot = await this.registry.readRoot();
        const view = await this.channels.read(channel.address);
        if (!view || statusOf(view.state.status) !== 'open') throw new ChannelError(`channel ${channel.address.toString()} is not open`);
        // The free deposit must cover the job's lock on top of every fast-path voucher still owed.
        const owed = channel.owed > view.state.settled ? channel.owed - view.state.settled : 0n;
        const shortfall = maxCost + owed - view.state.free;
        let extra = 0n;
        if (shortfall > 0n) {
            if (this.options.autoTopUp === undefined) {
                throw new InsufficientDepositError(maxCost, view.state.free - owed, `channel ${channel.address.toString()} cannot lock ${maxCost} nanoTON for an on-chain job; top up`);
            }
            extra = shortfall > this.options.autoTopUp ? shortfall : this.options.autoTopUp;
        }
        const seq = view.state.nextSeq;
        const now = await this.options.chain.now();
        const deadlineSeconds = Math.min(this.options.fallback?.deadlineSeconds ?? 300, Number(root.params.channel.maxJobDeadline));
        const deadline = now + deadlineSeconds;
        const sealed = sealRequest(input, { recipientKey: channel.encryptionKey, context: { channel: channel.address, seq } });
        const inputHash = sha256(input);
        this.ledger.recordOnChainJob({
            channel: channel.address.toRawString(),
            seq,
            model: BigInt('0x' + modelHash),
            inputHash,
            maxPayment: maxCost,
            deadline,
            replySecretKey: sealed.replyKeyPair.secretKey,
            status: 'posted',
            postedAt: now,
        });
        await this.channels.postJob(channel.address, {
            seq,
            model: BigInt('0x' + modelHash),
            maxPayment: maxCost,
            inputHash: bufferToUint256(inputHash),
            deadline,
            input: bytesToSnakeCell(sealed.envelope),
            extra,
        });
        this.log({ event: 'client-job-posted', channel: channel.address.toString(), seq: seq.toString(), deadline, maxPayment: maxCost.toString() });
        const outcome = await this.waitForOnChainJob(channel, candidate.worker, seq, deadline, request.signal);
        const plaintext = outcome.plaintext;
        let output: { content: string; finish_reason: string };
        try {
            output = JSON.parse(plaintext.toString('utf8'));
        } catch {
            throw new OnChainJobError('output', `on-chain job ${seq}: the committed answer is not JSON`);
        }
        return {
            id: `chatcmpl-${channel.address.hash.subarray(0, 6).toString('hex')}-${seq}`,
            model: candidate.worker.models.get(modelHash)?.name ?? modelHash,
            modelHash,
            content: String(output.content ?? ''),
            finishReason: String(output.finish_reason ?? 'stop'),
            usage: {
                promptTokens: Number(outcome.event.promptTokens),
                completionTokens: Number(outcome.event.completionTokens),
                totalTokens: Number(outcome.event.promptTokens + outcome.event.completionTokens),
                cost: outcome.event.payment,
            },
            worker: candidate.worker.address,
            channel: channel.address,
            seq,
            path: 'onchain',
        };
    }

    /** The channel's ResultCommitted event for `seq`, if it has one. */
    private async findCommitted(channel: Address, seq: bigint): Promise<ResultCommitted | undefined> {
        let from: { lt: bigint; hash: Buffer } | undefined;
        for (let pages = 0; pages < 20; pages++) {
            const page = await this.options.chain.getTransactions(channel, { limit: 50, from });
            for (const tx of page) {
                for (const event of eventsOf(tx)) if (event.$$type === 'ResultCommitted' && event.seq === seq) return event;
            }
            if (page.length < 50) return undefined;
            const oldest = page[page.length - 1];
            from = { lt: oldest.lt, hash: oldest.hash() };
        }
        return undefined;
    }

    private async waitForOnChainJob(
        channel: ChannelRecord,
        worker: VerifiedWorker,
        seq: bigint,
        deadline: number,
        signal?: AbortSignal,
    ): Promise<{ event: ResultCommitted; plaintext: Buffer }> {
        const record = this.ledger.onChainJob(channel.address, seq)!;
        for (;;) {
            if (signal?.aborted) throw new OnChainJobError('timeout', `on-chain job ${seq} is still open; the client stopped waiting (it stays in the ledger: call settleOnChainJobs() later)`);
            const job = await this.channels.job(channel.address, seq);
            if (job && job.status !== JOB_POSTED) {
                const event = await this.findCommitted(channel.address, seq);
                if (event) {
                    this.ledger.setOnChainJobStatus(channel.address, seq, 'committed');
                    const plaintext = await this.readOnChainOutput(channel, worker, seq, event, record.replySecretKey);
                    return { event, plaintext };
                }
            }
            if (!job) {
                const event = await this.findCommitted(channel.address, seq);
                if (!event) {
                    // Gone without a result: someone else expired it (anyone may, after the deadline).
                    this.ledger.setOnChainJobStatus(channel.address, seq, 'expired');
                    throw new OnChainJobError('expired', `on-chain job ${seq} left the channel without a result (expired by another party after its deadline); its lock was released`);
                }
                const plaintext = await this.readOnChainOutput(channel, worker, seq, event, record.replySecretKey);
                this.ledger.setOnChainJobStatus(channel.address, seq, 'finalized');
                return { event, plaintext };
            }
            const now = await this.options.chain.now();
            if (job.status === JOB_POSTED && now > deadline) {
                const compensation = await this.expireOnChainJob(channel.address, seq);
                throw new OnChainJobError(
                    'expired',
                    `worker ${worker.address.toString()} did not answer on-chain job ${seq} by its deadline: the job was expired, its ${record.maxPayment} nanoTON unlocked, and the worker's stake paid ${compensation} nanoTON in compensation`,
                );
            }
            await sleep(this.options.pollIntervalMs ?? 1000);
        }
    }

    private async readOnChainOutput(channel: ChannelRecord, worker: VerifiedWorker, seq: bigint, event: ResultCommitted, replySecretKey: Buffer): Promise<Buffer> {
        let envelope: Buffer | undefined = event.output ? snakeCellToBytes(event.output) : undefined;
        if (!envelope) {
            const fetched = await fetchResult(worker.endpoint, channel.address.toString(), seq).catch(() => undefined);
            if (fetched) envelope = Buffer.from(fetched.envelope, 'base64');
        }
        if (!envelope) throw new OnChainJobError('output', `on-chain job ${seq} was committed without an inline output and the worker's endpoint does not serve it`);
        let plaintext: Buffer;
        try {
            plaintext = openResponse(envelope, { replySecretKey, expectedSenderKey: channel.encryptionKey, expect: { channel: channel.address, seq } });
        } catch (error) {
            throw new OnChainJobError('output', `on-chain job ${seq}: the committed answer does not open (${(error as Error).message})`, { cause: error });
        }
        if (bufferToUint256(sha256(plaintext)) !== event.resultHash) {
            throw new OnChainJobError('output', `on-chain job ${seq}: the answer does not match the committed result hash; dispute it within the challenge window`);
        }
        return plaintext;
    }

    /** ExpireJob for a job past its deadline: returns the compensation the worker's stake paid the client's wallet. */
    async expireOnChainJob(channel: Address, seq: bigint): Promise<bigint> {
        const tx = await this.channels.expireJob(channel, seq);
        this.ledger.setOnChainJobStatus(channel, seq, 'expired');
        const compensation = await this.compensationFor(channel, tx.lt);
        this.log({ event: 'client-job-expired', channel: channel.toString(), seq: seq.toString(), compensation: compensation.toString() });
        return compensation;
    }

    /** What the Worker paid this wallet (WorkerSlashed to the client) after the channel's transaction at `sinceLt`. */
    private async compensationFor(channel: Address, sinceLt: bigint): Promise<bigint> {
        const view = await this.channels.read(channel);
        if (!view) return 0n;
        const page = await this.options.chain.getTransactions(view.state.worker, { limit: 20 });
        let paid = 0n;
        for (const tx of page) {
            if (tx.lt <= sinceLt) continue;
            for (const event of eventsOf(tx)) if (event.$$type === 'WorkerSlashed' && event.to.equals(this.wallet.address)) paid += event.amount;
        }
        return paid;
    }

    /**
     * Finishes this client's open on-chain jobs where the chain allows: finalizes committed jobs
     * whose challenge window is over (pays the worker) and expires posted jobs past their deadline
     * (unlocks the money, collects the compensation). Returns what it did.
     */
    async settleOnChainJobs(): Promise<{ finalized: bigint[]; expired: bigint[] }> {
        const finalized: bigint[] = [];
        const expired: bigint[] = [];
        const now = BigInt(await this.options.chain.now());
        for (const record of this.ledger.openOnChainJobs()) {
            const channel = Address.parseRaw(record.channel);
            const job = await this.channels.job(channel, record.seq);
            if (!job) {
                this.ledger.setOnChainJobStatus(channel, record.seq, 'finalized');
                continue;
            }
            if (job.status === JOB_COMMITTED) {
                const terms = (await this.channels.read(channel))?.terms;
                if (terms && now >= job.at + terms.params.challengeWindow) {
                    await this.channels.finalizeJob(channel, record.seq);
                    this.ledger.setOnChainJobStatus(channel, record.seq, 'finalized');
                    finalized.push(record.seq);
                }
            } else if (job.status === JOB_POSTED && now > job.deadline) {
                await this.expireOnChainJob(channel, record.seq);
                expired.push(record.seq);
            }
        }
        return { finalized, expired };
    }

    /** Sends the channel's latest voucher after `voucherDelayMs`, unless a job request carries it by then. */
    private scheduleVoucher(channel: Address, endpoint: string): void {
        const key = channel.toRawString();
        if (this.voucherTimers.has(key) || this.closed) return;
        const timer = setTimeout(() => {
            this.voucherTimers.delete(key);
            const record = this.ledger.channel(channel);
            if (!record?.voucher || record.deliveredCumulative >= record.voucher.cumulative) return;
            if ((this.voucherCarried.get(key) ?? -1n) >= record.voucher.cumulative) return;
            this.startDelivery(key, record, endpoint);
        }, this.options.voucherDelayMs ?? 50);
        this.voucherTimers.set(key, { timer, channel, endpoint });
    }

    private startDelivery(key: string, record: ChannelRecord, endpoint: string): void {
        const delivery = this.deliverVoucher(record, endpoint).catch(() => undefined);
        this.voucherDeliveries.set(key, delivery);
        void delivery.then(() => {
            if (this.voucherDeliveries.get(key) === delivery) this.voucherDeliveries.delete(key);
        });
    }

    /**
     * Sends now the vouchers still waiting for a request to carry them, and resolves once the
     * latest voucher on `channel` (or on every channel) has been delivered to the worker or has
     * failed to be (the next request then carries it).
     */
    async voucherDelivered(channel?: Address): Promise<void> {
        for (const [key, pending] of [...this.voucherTimers]) {
            if (channel && key !== channel.toRawString()) continue;
            clearTimeout(pending.timer);
            this.voucherTimers.delete(key);
            const record = this.ledger.channel(pending.channel);
            if (record?.voucher && record.deliveredCumulative < record.voucher.cumulative) this.startDelivery(key, record, pending.endpoint);
        }
        if (channel) {
            await this.voucherDeliveries.get(channel.toRawString());
            return;
        }
        await Promise.all([...this.voucherDeliveries.values()]);
    }

    async close(): Promise<void> {
        if (this.closed) return;
        await this.voucherDelivered();
        this.closed = true;
        await this.refreshing?.catch(() => undefined);
        this.store.close();
    }
}

const statusOf = statusName;


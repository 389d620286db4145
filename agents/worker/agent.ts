import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Address, fromNano } from '@ton/core';
import { IdempotentSender, SenderOptions } from '../chain/sender';
import { ToncenterChain } from '../chain/toncenter';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';
import { ConfigfsTsm } from '../enclave/configfs-tsm';
import { SimulatedEnclave } from '../enclave/simulated';
import { TdxEnclave } from '../enclave/tdx';
import { Enclave } from '../enclave/types';
import { ThreadedEmbeddedEngine } from '../inference/embedded-thread';
import { InferenceEngine } from '../inference/engine';
import { OpenAICompatibleEngine } from '../inference/openai-compatible';
import { computeManifest, modelHashToUint256, readManifest } from '../inference/model-identity';
import { JournalLockedError, JournalStore } from '../store';
import { ChannelDirectory } from './channels';
import { WorkerConfig } from './config';
import { ApiError, WorkerFatalError } from './errors';
import { FastPath } from './fast-path';
import { JobRunner } from './job-runner';
import { createLogger, Logger } from './logger';
import { workerMetrics, WorkerMetrics } from './metrics';
import { OnchainService } from './onchain';
import { CurrentAttestation, ensureRegistration, RegistrationOutcome, statusName, workerAddressOf } from './registration';
import { JobScheduler } from './scheduler';
import { loadOrCreateEnclaveKeys, resolveSealKey } from './sealed-keys';
import { startHttpServer, WorkerHttpServer } from './server';
import { SigningJournal } from './signing-journal';

/**
 * The worker agent as a library: `startWorkerAgent(config, deps)` does everything `cocoon worker
 * start` does and returns a handle (`url`, `stop()`). The one-process demo passes its in-process
 * sandbox chain and a wallet in `deps`; the CLI builds them from the config.
 */
export interface WorkerAgentDeps {
    /** The chain (required for network "local"; otherwise built from config.chain). */
    chain?: Chain;
    /** Root's address when the config names none (network "local": the Root the caller deployed). */
    root?: Address;
    /** The gas wallet (otherwise loaded from config.wallet). */
    wallet?: Wallet;
    /** The inference engine (otherwise loaded from config.model); the agent closes only engines it loaded. */
    engine?: InferenceEngine;
    /** The enclave (otherwise created from config.enclave, keys unsealed from the data dir). */
    enclave?: Enclave;
    log?: Logger;
    /** Tests: faster polling of the sender. */
    senderOptions?: Partial<Omit<SenderOptions, 'chain' | 'wallet' | 'store'>>;
}

export interface WorkerAgentHandle {
    /** Where the HTTP API listens, e.g. http://127.0.0.1:8090. */
    url: string;
    worker: Address;
    owner: Address;
    modelHash: string;
    registration: RegistrationOutcome;
    journal: SigningJournal;
    store: JournalStore;
    onchain: OnchainService;
    fastPath: FastPath;
    scheduler: JobScheduler;
    metrics: WorkerMetrics;
    enclave: Enclave;
    /** Graceful stop: no new work, in-flight jobs finish (or are handed back after the grace period), journal closed. */
    stop(): Promise<void>;
    /** Resolves when the agent has stopped: exit code 0 after stop(), 1 after a fatal error. */
    done: Promise<{ exitCode: number; error?: WorkerFatalError }>;
}

export function chainFromConfig(config: WorkerConfig): Chain {
    if (config.network === 'local') {
        throw new Error('network "local" is the in-process chain: pass it as deps.chain (the CLI and the demo do), or use network "devnet" with `cocoon devnet`');
    }
    return new ToncenterChain({ endpoint: config.chain.endpoint!, apiKey: config.chain.apiKey, timeoutMs: config.chain.timeoutMs, minIntervalMs: config.chain.minIntervalMs });
}

export async function engineFromConfig(config: WorkerConfig): Promise<InferenceEngine> {
    const m = config.model;
    if (m.engine === 'embedded') {
        // In a thread of its own: the model does not take turns with the agent's HTTP, crypto and journal work.
        return ThreadedEmbeddedEngine.load({
            model: m.path,
            modelName: m.name,
            device: m.device,
            threads: m.threads,
            maxPromptChars: config.limits.maxPromptBytes,
            defaultMaxTokens: config.limits.maxTokens,
            defaultTimeoutMs: config.limits.jobTimeoutMs,
        });
    }
    return OpenAICompatibleEngine.create({
        baseUrl: m.baseUrl,
        model: m.model,
        apiKey: m.apiKey,
        identity: m.modelDir ? { modelDir: m.modelDir } : { manifestFile: m.manifestFile! },
        requestTimeoutMs: config.limits.jobTimeoutMs,
        maxPromptChars: config.limits.maxPromptBytes,
    });
}

/** The configured model's identity, computed from its files without loading it. */
export async function modelHashFromConfig(config: WorkerConfig): Promise<string> {
    const m = config.model;
    if (m.engine === 'embedded') return (await computeManifest(m.path)).hash;
    return m.modelDir ? (await computeManifest(m.modelDir)).hash : (await readManifest(m.manifestFile!)).hash;
}

export function enclaveFromConfig(config: WorkerConfig, worker: Address, log: Logger): Enclave {
    const sealKey = resolveSealKey(config.dataDir, config.enclave.type, config.enclave.sealKey);
    const loaded = loadOrCreateEnclaveKeys(config.dataDir, config.enclave.type, worker, sealKey);
    log.info(loaded.created ? 'enclave-keys-created' : 'enclave-keys-unsealed', {
        teeType: config.enclave.type,
        signingKey: loaded.keys.publicKeys.signingKey.toString('hex'),
        persisted: loaded.persisted,
    });
    if (config.enclave.type === 'simulated') {
        return new SimulatedEnclave({ keys: loaded.keys, attestationSeed: config.enclave.attestationSeed, imageName: config.enclave.imageName });
    }
    return new TdxEnclave({ keys: loaded.keys, tsm: new ConfigfsTsm({ root: config.enclave.tsmRoot }) });
}

export async function startWorkerAgent(config: WorkerConfig, deps: WorkerAgentDeps = {}): Promise<WorkerAgentHandle> {
    const log = deps.log ?? createLogger({ level: config.logLevel });
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    let store: JournalStore;
    try {
        store = JournalStore.open(join(config.dataDir, 'worker.journal'));
    } catch (error) {
        if (error instanceof JournalLockedError) throw new Error(`${error.message} (is another worker agent running with data dir ${config.dataDir}?)`);
        throw error;
    }
    const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
    const cleanup = async () => {
        for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    };
    try {
        return await assemble(config, deps, log, store, cleanups, cleanup);
    } catch (error) {
        await cleanup();
        throw error;
    }
}

async function assemble(
    config: WorkerConfig,
    deps: WorkerAgentDeps,
    log: Logger,
    store: JournalStore,
    cleanups: (() => Promise<void> | void)[],
    cleanup: () => Promise<void>,
): Promise<WorkerAgentHandle> {
    if (store.repairedBytes > 0) log.warn('journal-repaired', { droppedBytes: store.repairedBytes });
    const chain = deps.chain ?? chainFromConfig(config);
    const root = config.root ?? deps.root;
    if (!root) throw new Error('no Root address: set "root" in the worker config (or pass deps.root with network "local")');
    const wallet = deps.wallet ?? (await Wallet.load({ file: config.wallet.mnemonicFile, envVar: config.wallet.mnemonicEnv }, { version: config.wallet.version, subwallet: config.wallet.subwallet }));
    const metrics = workerMetrics();
    let fatalError: WorkerFatalError | undefined;
    let resolveDone!: (value: { exitCode: number; error?: WorkerFatalError }) => void;
    const done = new Promise<{ exitCode: number; error?: WorkerFatalError }>((resolve) => (resolveDone = resolve));
    let stopping: Promise<void> | undefined;
    // Assigned once everything is built; a fatal error before that just throws out of start.
    let shutdown: (graceMs: number) => Promise<void> = async () => undefined;
    const onFatal = (error: WorkerFatalError) => {
        if (fatalError) return;
        fatalError = error;
        log.error('fatal', { error: error.message });
        stopping ??= shutdown(0).then(() => resolveDone({ exitCode: 1, error }));
    };

    const sender = new IdempotentSender({ chain, wallet, store, log: (entry) => log.debug('sender', entry), ...deps.senderOptions });
    const resumed = await sender.resume();
    if (resumed) log.info('send-resumed', { queryId: resumed.queryId, succeeded: resumed.succeeded });
    const worker = await workerAddressOf(root, wallet.address, config.slot);
    const wlog = log.child({ worker: worker.toString() });

    let engine = deps.engine;
    if (!engine) {
        engine = await engineFromConfig(config);
        const owned = engine;
        cleanups.push(() => owned.close());
    }
    const model = modelHashToUint256(engine.modelHash);
    const enclave = deps.enclave ?? enclaveFromConfig(config, worker, wlog);
    const journal = new SigningJournal(store, onFatal);

    let registration: RegistrationOutcome | undefined;
    let attestation: CurrentAttestation | undefined;
    const notReady = () => new ApiError('starting', 'the worker is still starting (registering on-chain); retry in a few seconds');

    const channels = new ChannelDirectory(chain, root, worker, config.channelCacheMs);
    const scheduler = new JobScheduler(config.limits.maxConcurrentJobs, config.limits.maxQueuedJobs);
    const runner = new JobRunner({ enclave, engine, journal, model, limits: config.limits, metrics, log: wlog });
    let onchain: OnchainService | undefined;
    const fastPath = new FastPath({
        runner,
        journal,
        channels,
        scheduler,
        engine,
        model,
        signingKey: enclave.publicKeys.signingKey,
        limits: config.limits,
        metrics,
        log: wlog,
        onChannel: (channel) => {
            try {
                onchain?.follow(channel);
            } catch {
                /* a failed write already raised the fatal path */
            }
        },
    });
    onchain = new OnchainService({
        chain,
        store,
        sender,
        journal,
        channels,
        runner,
        scheduler,
        worker,
        root: root,
        model,
        inlineOutputMaxBytes: config.onchain.inlineOutputMaxBytes,
        settlementMin: config.settlement.minAmount,
        settlementMaxPendingReceipts: config.settlement.maxPendingReceipts,
        pollIntervalMs: config.watcher.pollIntervalMs,
        metrics,
        log: wlog,
        onFatal,
    });

    // Finish what a crash left in flight: fast-path jobs journalled but not signed.
    for (const record of journal.openFastJobs()) {
        const channel = Address.parseRaw(record.channel);
        try {
            if (record.state === 'intent') runner.open(record.requestEnvelope, channel, record.seq);
            const snapshot = await channels.get(channel);
            const price = snapshot.prices.get(model);
            const prices = price ? { prompt: price.prompt, completion: price.completion } : { prompt: 0n, completion: 0n };
            wlog.info('job-resumed', { channel: channel.toString(), seq: record.seq, state: record.state });
            fastPath.start(record, prices, record.maxCost, undefined, true).catch((error) => wlog.warn('job-resume-failed', { seq: record.seq, error }));
        } catch (error) {
            // Its envelope no longer opens (new enclave keys): nothing was signed, the client may retry on a new seq.
            wlog.warn('job-dropped', { channel: channel.toString(), seq: record.seq, error });
            journal.fail(record.channel, record.seq, `could not be resumed: ${(error as Error).message}`);
        }
    }

    const modelName = engine.model;
    const handlers = {
        attestation: () => {
            if (!attestation) throw notReady();
            return {
            version: 1,
            worker: worker.toString(),
            owner: wallet.address.toString(),
            root: root.toString(),
            slot: config.slot.toString(),
            teeType: attestation.teeType,
            evidence: attestation.evidence.toString('base64'),
            issuedAt: attestation.issuedAt,
            signingKey: attestation.signingKey.toString('hex'),
            encryptionKey: attestation.encryptionKey.toString('hex'),
            measurement: attestation.measurement.toString('hex'),
            quoteHash: attestation.quoteHash.toString('hex'),
            models: [{ name: modelName, hash: engine!.modelHash, promptPrice: config.prices.prompt.toString(), completionPrice: config.prices.completion.toString() }],
            limits: { maxPromptBytes: config.limits.maxPromptBytes, maxTokens: config.limits.maxTokens },
            };
        },
        prepareJob: async (body: unknown) => {
            if (!registration) throw notReady();
            return fastPath.prepareJob(body);
        },
        voucher: (body: unknown) => fastPath.voucher(body),
        result: (channel: string, seq: string) => fastPath.result(channel, seq),
        health: () => ({
            status: fatalError ? 'failed' : scheduler.draining ? 'draining' : registration ? 'ok' : 'starting',
            worker: worker.toString(),
            workerStatus: registration ? statusName(registration.info.status) : 'unknown',
            chain: { kind: chain.kind, lastPassAt: onchain!.lastPassAt || null },
            queue: { inFlight: scheduler.inFlight, queued: scheduler.queued, maxConcurrent: scheduler.maxConcurrent, maxQueued: scheduler.maxQueued },
        }),
        metrics: () => {
            metrics.inFlight.set(scheduler.inFlight);
            metrics.queued.set(scheduler.queued);
            metrics.draining.set(scheduler.draining ? 1 : 0);
            return metrics.registry.render();
        },
    };
    let server: WorkerHttpServer;
    try {
        server = await startHttpServer({
            host: config.http.host,
            port: config.http.port,
            maxBodyBytes: config.http.maxBodyBytes,
            requestTimeoutMs: config.http.requestTimeoutMs,
            headersTimeoutMs: config.http.headersTimeoutMs,
            handlers,
            metrics,
            log: wlog,
        });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`port ${config.http.port} on ${config.http.host} is in use: choose another http.port`);
        throw error;
    }
    cleanups.push(() => server.close(0));
    wlog.info('listening', { url: server.url, publicUrl: config.http.publicUrl ?? server.url });

    const registrationContext = {
        chain,
        wallet,
        sender,
        journal,
        enclave,
        root: root,
        slot: config.slot,
        model,
        prices: config.prices,
        endpoint: config.http.publicUrl ?? server.url,
        capacity: config.registration.capacity,
        stake: config.registration.stake,
        renewBeforeSeconds: config.registration.renewBeforeSeconds,
        log: wlog,
    };
    registration = await ensureRegistration(registrationContext, { auto: config.registration.auto });
    wlog.info('worker-ready', {
        status: statusName(registration.info.status),
        stake: fromNano(registration.info.stake),
        actions: registration.actions,
        model: engine.modelHash,
    });
    attestation = registration.attestation;

    onchain.start();

    // Attestation upkeep: renew before it expires (and pick up endpoint or price changes).
    const upkeep = setInterval(
        () => {
            if (scheduler.draining) return;
            ensureRegistration(registrationContext, { auto: config.registration.auto })
                .then((next) => {
                    registration = next;
                    attestation = next.attestation;
                    if (next.actions.length > 0) wlog.info('registration-updated', { actions: next.actions });
                })
                .catch((error) => wlog.warn('registration-upkeep-failed', { error }));
        },
        Math.max(60_000, Math.min(3_600_000, (config.registration.renewBeforeSeconds * 1000) / 4)),
    );
    upkeep.unref();

    shutdown = async (graceMs: number) => {
        clearInterval(upkeep);
        metrics.draining.set(1);
        wlog.info('draining', { inFlight: scheduler.inFlight, queued: scheduler.queued, graceMs });
        const { aborted } = await scheduler.drain(graceMs);
        if (aborted > 0) wlog.warn('jobs-handed-back', { count: aborted });
        await onchain!.stop();
        await onchain!.settleExecutions();
        await server.close(Math.min(graceMs, 2_000));
        await cleanup();
        wlog.info('stopped', { handedBack: aborted });
    };

    return {
        url: server.url,
        worker,
        owner: wallet.address,
        modelHash: engine.modelHash,
        get registration() {
            return registration!;
        },
        journal,
        store,
        onchain,
        fastPath,
        scheduler,
        metrics,
        enclave,
        stop: () => {
            stopping ??= shutdown(config.shutdownGraceMs).then(() => resolveDone({ exitCode: 0 }));
            return stopping;
        },
        done,
    };
}

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Address, toNano } from '@ton/core';
import { DEFAULT_MNEMONIC_ENV, WalletVersion } from '../chain/wallet';
import { ConfigFields, ConfigIssue, ConfigObject } from '../core/config-fields';
import { WorkerConfigError } from './errors';
import { LogLevel } from './logger';

/**
 * The worker agent's configuration: a JSON file (docs/worker-agent.md has the reference table),
 * validated in one pass at start. Every problem is reported at once, each naming its field.
 * Secrets are never in the file: the wallet mnemonic, API keys and the sealing key come from
 * environment variables (or a mnemonic file), named by the config.
 */
export type NetworkName = 'local' | 'devnet' | 'testnet' | 'mainnet';
export const NETWORKS: readonly NetworkName[] = ['local', 'devnet', 'testnet', 'mainnet'];

/** Where each network's chain is by default (toncenter v2 JSON-RPC). */
export const DEFAULT_ENDPOINTS: Record<Exclude<NetworkName, 'local'>, string> = {
    devnet: 'http://127.0.0.1:8081/jsonRPC',
    testnet: 'https://testnet.toncenter.com/api/v2/jsonRPC',
    mainnet: 'https://toncenter.com/api/v2/jsonRPC',
};

export const DEFAULT_API_KEY_ENV = 'TONCENTER_API_KEY';
export const DEFAULT_SEAL_KEY_ENV = 'COCOON_SEAL_KEY';
export const DEFAULT_ATTESTATION_SEED_ENV = 'COCOON_DEV_ATTESTATION_SEED';
export const DEFAULT_BACKEND_API_KEY_ENV = 'COCOON_BACKEND_API_KEY';

export type ModelConfig =
    | {
          engine: 'embedded';
          /** Local model folder. */
          path: string;
          name?: string;
          device: 'cpu' | 'cuda';
          threads?: number;
      }
    | {
          engine: 'openai-compatible';
          baseUrl: string;
          /** The model id the server serves. */
          model: string;
          /** The folder the server loads (its manifest is the model identity), or a manifest file. */
          modelDir?: string;
          manifestFile?: string;
          /** The backend's API key, read from this environment variable. */
          apiKey?: string;
      };

export interface WorkerConfig {
    /** Where the config came from (a path, or "<inline>"), for messages. */
    source: string;
    network: NetworkName;
    chain: { endpoint?: string; apiKey?: string; timeoutMs: number; minIntervalMs: number };
    /** Root's address (on network "local" without one: a dev Root deployed on the in-process chain). */
    root?: Address;
    slot: bigint;
    wallet: { mnemonicFile?: string; mnemonicEnv: string; version: WalletVersion; subwallet?: number };
    dataDir: string;
    enclave: {
        type: 'simulated' | 'tdx';
        /** Simulated: the image name whose hash is the measurement. */
        imageName: string;
        /** Simulated: seed of the network's dev attestation key (default: the local devnet's well-known key). */
        attestationSeed?: Buffer;
        /** 32-byte key that seals the enclave keys in the data dir (from the environment). */
        sealKey?: Buffer;
        /** TDX: configfs-tsm report root. */
        tsmRoot?: string;
    };
    model: ModelConfig;
    /** nanoTON per token, for this worker's model. */
    prices: { prompt: bigint; completion: bigint };
    registration: {
        /** Register (or renew the attestation, or update endpoint and prices) by itself at start. */
        auto: boolean;
        stake: bigint;
        capacity: number;
        /** Renew the attestation when it expires within this many seconds. */
        renewBeforeSeconds: number;
    };
    http: {
        host: string;
        port: number;
        /** The URL clients reach this agent at (recorded in the Worker contract); default: the address it listens on. */
        publicUrl?: string;
        maxBodyBytes: number;
        requestTimeoutMs: number;
        headersTimeoutMs: number;
    };
    limits: {
        maxPromptBytes: number;
        maxTokens: number;
        maxConcurrentJobs: number;
        maxQueuedJobs: number;
        jobTimeoutMs: number;
    };
    settlement: {
        /** Settle a channel when its best voucher exceeds what is settled by at least this much. */
        minAmount: bigint;
        /**
         * Settle also when this many receipts wait for a settlement, whatever their amount: the
         * worker keeps every unsettled receipt in memory, so this bounds its memory per channel.
         */
        maxPendingReceipts: number;
    };
    onchain: {
        /** Commit outputs up to this size inline in CommitResult (the rest by hash, served over HTTP). */
        inlineOutputMaxBytes: number;
    };
    /** How often the agent polls its Worker and channels and runs its maintenance pass (jobs, finalization, settlement). */
    watcher: { pollIntervalMs: number };
    /** How long SIGTERM waits for in-flight jobs before handing them back. */
    shutdownGraceMs: number;
    /** How long a channel's on-chain state is trusted before it is read again. */
    channelCacheMs: number;
    logLevel: LogLevel;
}

type Obj = ConfigObject;

export interface ConfigOverrides {
    network?: NetworkName;
    endpoint?: string;
    apiKey?: string;
    dataDir?: string;
    port?: number;
}

/** Reads and validates a config file; relative paths in it are relative to the file. */
export function loadWorkerConfig(file: string, env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): WorkerConfig {
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new WorkerConfigError(file, [
            { path: '(file)', message: code === 'ENOENT' ? 'does not exist; pass the path of your worker config (see docs/worker-agent.md)' : `cannot be read (${code})` },
        ]);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (error) {
        throw new WorkerConfigError(file, [{ path: '(file)', message: `is not valid JSON: ${(error as Error).message}` }]);
    }
    return parseWorkerConfig(raw, { source: file, baseDir: dirname(resolve(file)), env, overrides });
}

/** Validates a config object (the parsed file). One pass: every problem is reported together. */
export function parseWorkerConfig(
    raw: unknown,
    options: { source?: string; baseDir?: string; env?: NodeJS.ProcessEnv; overrides?: ConfigOverrides } = {},
): WorkerConfig {
    const source = options.source ?? '<inline>';
    const env = options.env ?? process.env;
    const overrides = options.overrides ?? {};
    const baseDir = options.baseDir ?? process.cwd();
    const path = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
    const issues: ConfigIssue[] = [];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new WorkerConfigError(source, [{ path: '(file)', message: 'must hold a JSON object' }]);
    }
    const top = new ConfigFields(issues, raw as Obj, '', [
        '$comment',
        'network',
        'chain',
        'root',
        'slot',
        'wallet',
        'dataDir',
        'enclave',
        'model',
        'prices',
        'registration',
        'http',
        'limits',
        'settlement',
        'onchain',
        'watcher',
        'shutdownGraceMs',
        'channelCacheMs',
        'logLevel',
    ]);

    const network = overrides.network ?? top.oneOf('network', NETWORKS) ?? 'devnet';

    const chainReader = top.sub('chain', ['endpoint', 'apiKeyEnv', 'timeoutMs', 'minIntervalMs']);
    let endpoint = overrides.endpoint ?? chainReader.optionalString('endpoint');
    if (network !== 'local') {
        endpoint ??= DEFAULT_ENDPOINTS[network];
        try {
            const url = new URL(endpoint);
            if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
        } catch {
            issues.push({ path: 'chain.endpoint', message: `must be an http(s) URL of a toncenter v2 JSON-RPC endpoint, got ${JSON.stringify(endpoint)}` });
        }
        if (network === 'mainnet' && endpoint.startsWith('http:') && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(endpoint)) {
            issues.push({ path: 'chain.endpoint', message: 'must use https on mainnet (the API key and every transaction travel over it)' });
        }
    } else if (endpoint !== undefined) {
        issues.push({ path: 'chain.endpoint', message: 'network "local" is the in-process chain; it takes no endpoint (use network "devnet" for `cocoon devnet`)' });
    }
    const apiKeyEnv = chainReader.string('apiKeyEnv', DEFAULT_API_KEY_ENV)!;
    const apiKey = overrides.apiKey ?? (env[apiKeyEnv] || undefined);
    const chain = {
        endpoint: network === 'local' ? undefined : endpoint,
        apiKey,
        timeoutMs: chainReader.int('timeoutMs', 10_000, 100, 600_000)!,
        // Keyless toncenter allows 1 request/s; with a key (or the devnet) no spacing is needed.
        minIntervalMs: chainReader.int('minIntervalMs', (network === 'testnet' || network === 'mainnet') && !apiKey ? 1100 : 0, 0, 60_000)!,
    };

    let root: Address | undefined;
    // On network "local" the agent deploys its own Root on the in-process chain unless given one.
    const rootText = network === 'local' ? top.optionalString('root') : top.string('root');
    if (rootText !== undefined) {
        try {
            root = Address.parse(rootText);
        } catch {
            top.issue('root', `must be the Root contract's address (EQ.../UQ... or 0:<64 hex>), got ${JSON.stringify(rootText)}`);
        }
    }
    const slot = BigInt(top.int('slot', 0, 0, 0xffffffff)!);

    const walletReader = top.sub('wallet', ['mnemonicFile', 'mnemonicEnv', 'version', 'subwallet']);
    const mnemonicFile = walletReader.optionalString('mnemonicFile');
    const mnemonicEnv = walletReader.string('mnemonicEnv', DEFAULT_MNEMONIC_ENV)!;
    if (!mnemonicFile && network !== 'local' && !env[mnemonicEnv]) {
        issues.push({
            path: 'wallet',
            message: `no wallet: set the environment variable ${mnemonicEnv} to the gas wallet's 24 words, or set wallet.mnemonicFile`,
        });
    }
    const wallet = {
        mnemonicFile: mnemonicFile ? path(mnemonicFile) : undefined,
        mnemonicEnv,
        version: walletReader.oneOf('version', ['v4', 'v5r1'] as const, 'v4')!,
        subwallet: walletReader.has('subwallet') ? walletReader.int('subwallet', undefined, 0, 0xffffffff) : undefined,
    };

    const dataDir = path(overrides.dataDir ?? top.string('dataDir', '.cocoon-worker')!);

    const enclaveReader = top.sub('enclave', ['type', 'imageName', 'attestationSeedEnv', 'sealKeyEnv', 'tsmRoot']);
    const enclaveType = enclaveReader.oneOf('type', ['simulated', 'tdx'] as const, network === 'mainnet' ? 'tdx' : 'simulated')!;
    if (enclaveType === 'simulated' && network === 'mainnet') {
        issues.push({ path: 'enclave.type', message: 'a simulated enclave gives no confidentiality and mainnet refuses it; use "tdx"' });
    }
    const hexKey = (name: string, field: string): Buffer | undefined => {
        const value = env[name];
        if (!value) return undefined;
        if (!/^[0-9a-fA-F]{64}$/.test(value.trim())) {
            issues.push({ path: field, message: `environment variable ${name} must hold 64 hex digits (32 bytes)` });
            return undefined;
        }
        return Buffer.from(value.trim(), 'hex');
    };
    const sealKeyEnv = enclaveReader.string('sealKeyEnv', DEFAULT_SEAL_KEY_ENV)!;
    const attestationSeedEnv = enclaveReader.string('attestationSeedEnv', DEFAULT_ATTESTATION_SEED_ENV)!;
    const enclave = {
        type: enclaveType,
        imageName: enclaveReader.string('imageName', 'cocoon-worker-dev')!,
        attestationSeed: enclaveType === 'simulated' ? hexKey(attestationSeedEnv, 'enclave.attestationSeedEnv') : undefined,
        sealKey: hexKey(sealKeyEnv, 'enclave.sealKeyEnv'),
        tsmRoot: enclaveReader.optionalString('tsmRoot'),
    };

    const modelReader = top.sub('model', ['engine', 'path', 'name', 'device', 'threads', 'baseUrl', 'model', 'modelDir', 'manifestFile', 'apiKeyEnv'], true);
    const engine = modelReader.oneOf('engine', ['embedded', 'openai-compatible'] as const, 'embedded')!;
    let model: ModelConfig;
    if (engine === 'embedded') {
        for (const k of ['baseUrl', 'model', 'modelDir', 'manifestFile', 'apiKeyEnv']) {
            if (modelReader.has(k)) modelReader.issue(k, 'is for engine "openai-compatible" only');
        }
        model = {
            engine,
            path: path(modelReader.string('path') ?? '.'),
            name: modelReader.optionalString('name'),
            device: modelReader.oneOf('device', ['cpu', 'cuda'] as const, 'cpu')!,
            threads: modelReader.has('threads') ? modelReader.int('threads', undefined, 1, 256) : undefined,
        };
    } else {
        for (const k of ['path', 'device', 'threads', 'name']) {
            if (modelReader.has(k)) modelReader.issue(k, 'is for engine "embedded" only');
        }
        const baseUrl = modelReader.string('baseUrl') ?? '';
        if (baseUrl) {
            try {
                new URL(baseUrl);
            } catch {
                modelReader.issue('baseUrl', `must be a URL like http://127.0.0.1:8000/v1, got ${JSON.stringify(baseUrl)}`);
            }
        }
        const modelDir = modelReader.optionalString('modelDir');
        const manifestFile = modelReader.optionalString('manifestFile');
        if (!modelDir === !manifestFile) {
            issues.push({ path: 'model', message: 'set exactly one of modelDir (the folder the server loads) or manifestFile: the model identity is computed from it' });
        }
        const keyEnv = modelReader.string('apiKeyEnv', DEFAULT_BACKEND_API_KEY_ENV)!;
        model = {
            engine,
            baseUrl,
            model: modelReader.string('model') ?? '',
            modelDir: modelDir ? path(modelDir) : undefined,
            manifestFile: manifestFile ? path(manifestFile) : undefined,
            apiKey: env[keyEnv] || undefined,
        };
    }

    const pricesReader = top.sub('prices', ['prompt', 'completion'], true);
    const prices = { prompt: pricesReader.nano('prompt', undefined) ?? 0n, completion: pricesReader.nano('completion', undefined) ?? 0n };

    const registrationReader = top.sub('registration', ['auto', 'stake', 'capacity', 'renewBeforeSeconds']);
    const registration = {
        auto: registrationReader.bool('auto', true),
        stake: registrationReader.ton('stake', toNano('10'))!,
        capacity: registrationReader.int('capacity', 4, 1, 0xffffffff)!,
        renewBeforeSeconds: registrationReader.int('renewBeforeSeconds', 24 * 3600, 0)!,
    };

    const httpReader = top.sub('http', ['host', 'port', 'publicUrl', 'maxBodyBytes', 'requestTimeoutMs', 'headersTimeoutMs']);
    const host = httpReader.string('host', '127.0.0.1')!;
    const port = overrides.port ?? httpReader.int('port', 8090, 0, 65535)!;
    const publicUrl = httpReader.optionalString('publicUrl');
    if (publicUrl !== undefined) {
        try {
            const url = new URL(publicUrl);
            if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
            if (Buffer.byteLength(publicUrl) > 127) issues.push({ path: 'http.publicUrl', message: 'must be at most 127 bytes (the Worker contract stores it in one cell)' });
        } catch {
            issues.push({ path: 'http.publicUrl', message: `must be an http(s) URL, got ${JSON.stringify(publicUrl)}` });
        }
    }
    const http = {
        host,
        port,
        publicUrl,
        maxBodyBytes: httpReader.int('maxBodyBytes', 1024 * 1024, 1024, 64 * 1024 * 1024)!,
        requestTimeoutMs: httpReader.int('requestTimeoutMs', 30_000, 100, 3_600_000)!,
        headersTimeoutMs: httpReader.int('headersTimeoutMs', 10_000, 100, 600_000)!,
    };

    const limitsReader = top.sub('limits', ['maxPromptBytes', 'maxTokens', 'maxConcurrentJobs', 'maxQueuedJobs', 'jobTimeoutMs']);
    const limits = {
        maxPromptBytes: limitsReader.int('maxPromptBytes', 256 * 1024, 64, 64 * 1024 * 1024)!,
        maxTokens: limitsReader.int('maxTokens', 1024, 1, 1_000_000)!,
        maxConcurrentJobs: limitsReader.int('maxConcurrentJobs', 1, 1, 1024)!,
        maxQueuedJobs: limitsReader.int('maxQueuedJobs', 16, 0, 100_000)!,
        jobTimeoutMs: limitsReader.int('jobTimeoutMs', 120_000, 100, 3_600_000)!,
    };
    if (limits.maxPromptBytes >= http.maxBodyBytes) {
        issues.push({ path: 'limits.maxPromptBytes', message: `must be below http.maxBodyBytes (${http.maxBodyBytes}): the prompt travels inside the request body` });
    }

    const settlementReader = top.sub('settlement', ['minAmount', 'maxPendingReceipts']);
    const settlement = {
        minAmount: settlementReader.ton('minAmount', toNano('1'))!,
        maxPendingReceipts: settlementReader.int('maxPendingReceipts', 1000, 1, 1_000_000)!,
    };
    const onchainReader = top.sub('onchain', ['inlineOutputMaxBytes']);
    const onchain = { inlineOutputMaxBytes: onchainReader.int('inlineOutputMaxBytes', 2048, 0, 64 * 1024)! };
    const watcherReader = top.sub('watcher', ['pollIntervalMs']);
    const watcher = { pollIntervalMs: watcherReader.int('pollIntervalMs', network === 'testnet' || network === 'mainnet' ? 5_000 : 1_000, 10, 600_000)! };

    const config: WorkerConfig = {
        source,
        network,
        chain,
        root,
        slot,
        wallet,
        dataDir,
        enclave,
        model,
        prices,
        registration,
        http,
        limits,
        settlement,
        onchain,
        watcher,
        shutdownGraceMs: top.int('shutdownGraceMs', 30_000, 0, 3_600_000)!,
        channelCacheMs: top.int('channelCacheMs', 2_000, 0, 600_000)!,
        logLevel: top.oneOf('logLevel', ['debug', 'info', 'warn', 'error'] as const, 'info')!,
    };
    if (issues.length > 0) throw new WorkerConfigError(source, issues);
    return config;
}

import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Address, toNano } from '@ton/core';
import { DEFAULT_MNEMONIC_ENV, WalletVersion } from '../chain/wallet';
import { devAttestationPublicKey } from '../enclave/simulated';
import { DEFAULT_API_KEY_ENV, DEFAULT_ENDPOINTS, NETWORKS, NetworkName } from '../worker/config';
import { LogLevel } from '../worker/logger';
import { ConfigFields, ConfigIssue, ConfigObject } from '../core/config-fields';
import { AuditorConfigError } from './errors';

/**
 * The auditor agent's configuration: a JSON file (reference table in docs/auditor.md), validated
 * in one pass at start; every problem is reported at once, each naming its field. Secrets are
 * never in the file: the gas wallet's mnemonic and the auditor signing seeds come from
 * environment variables (or files), named by the config.
 */
export const DEFAULT_AUDITOR_SEEDS_ENV = 'COCOON_AUDITOR_SEEDS';

export interface AuditorConfig {
    source: string;
    network: NetworkName;
    chain: { endpoint?: string; apiKey?: string; timeoutMs: number; minIntervalMs: number };
    root: Address;
    wallet: { mnemonicFile?: string; mnemonicEnv: string; version: WalletVersion; subwallet?: number };
    dataDir: string;
    /** Ed25519 seeds (32 bytes each) of the auditor keys this agent signs verdicts with. */
    seeds: Buffer[];
    /** Other auditor agents asked to co-sign when Root needs more signatures than `seeds` give. */
    peers: string[];
    attestation: {
        /** Dev attestation keys whose simulated evidence is authentic on this network. */
        trustedSimulatedKeys: Buffer[];
        /** Intel DCAP collateral (JSON) for TDX quotes; without it TDX evidence cannot be judged. */
        dcapCollateralFile?: string;
        acceptedTcbStatuses: string[];
        fetchTimeoutMs: number;
        maxEvidenceBytes: number;
        /** How long to wait before reviewing a worker again after an inconclusive review. */
        retryIntervalMs: number;
    };
    verdict: {
        /** Seconds a signed verdict stays valid on-chain (its `expiry`). */
        ttlSeconds: number;
        /** Value sent with AuditVerdict (gas of Root and the target; the rest comes back). */
        value: bigint;
    };
    equivocation: { value: bigint };
    /** The model disputed jobs are re-executed with (embedded engine); without it disputes are refused. */
    model?: { path: string; threads?: number };
    http: { host: string; port: number; maxBodyBytes: number; requestTimeoutMs: number };
    watcher: { pollIntervalMs: number };
    logLevel: LogLevel;
}

type Obj = ConfigObject;

export interface AuditorConfigOverrides {
    network?: NetworkName;
    endpoint?: string;
    apiKey?: string;
    root?: string;
    dataDir?: string;
    port?: number;
}

/** Reads and validates a config file; relative paths in it are relative to the file. */
export function loadAuditorConfig(file: string, env: NodeJS.ProcessEnv = process.env, overrides: AuditorConfigOverrides = {}): AuditorConfig {
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new AuditorConfigError(file, [
            { path: '(file)', message: code === 'ENOENT' ? 'does not exist; pass the path of your auditor config (see docs/auditor.md)' : `cannot be read (${code})` },
        ]);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (error) {
        throw new AuditorConfigError(file, [{ path: '(file)', message: `is not valid JSON: ${(error as Error).message}` }]);
    }
    return parseAuditorConfig(raw, { source: file, baseDir: dirname(resolve(file)), env, overrides });
}

/** Parses hex seeds separated by commas, spaces or new lines (a file's or a variable's content). */
function parseSeeds(text: string, where: string, issues: ConfigIssue[]): Buffer[] {
    const seeds: Buffer[] = [];
    for (const word of text.split(/[\s,]+/).filter(Boolean)) {
        const hex = word.startsWith('0x') ? word.slice(2) : word;
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
            issues.push({ path: where, message: 'must hold auditor seeds of 64 hex digits (32 bytes) each, separated by commas or new lines' });
            return [];
        }
        seeds.push(Buffer.from(hex, 'hex'));
    }
    const distinct = new Set(seeds.map((s) => s.toString('hex')));
    if (distinct.size !== seeds.length) issues.push({ path: where, message: 'names the same auditor seed twice; each key counts once on Root' });
    return seeds;
}

/** Validates a config object (the parsed file). One pass: every problem is reported together. */
export function parseAuditorConfig(
    raw: unknown,
    options: { source?: string; baseDir?: string; env?: NodeJS.ProcessEnv; overrides?: AuditorConfigOverrides } = {},
): AuditorConfig {
    const source = options.source ?? '<inline>';
    const env = options.env ?? process.env;
    const overrides = options.overrides ?? {};
    const baseDir = options.baseDir ?? process.cwd();
    const path = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
    const issues: ConfigIssue[] = [];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new AuditorConfigError(source, [{ path: '(file)', message: 'must hold a JSON object' }]);
    }
    const top = new ConfigFields(issues, raw as Obj, '', [
        '$comment',
        'network',
        'chain',
        'root',
        'wallet',
        'dataDir',
        'keys',
        'peers',
        'attestation',
        'verdict',
        'equivocation',
        'model',
        'http',
        'watcher',
        'logLevel',
    ]);

    const network: NetworkName = overrides.network ?? top.oneOf('network', NETWORKS, 'devnet');
    const chainFields = top.sub('chain', ['endpoint', 'apiKeyEnv', 'timeoutMs', 'minIntervalMs']);
    let endpoint = overrides.endpoint ?? chainFields.string('endpoint', '') ?? '';
    if (network === 'local') {
        if (endpoint) issues.push({ path: 'chain.endpoint', message: 'network "local" is the in-process chain; it takes no endpoint (use network "devnet" for `cocoon devnet`)' });
    } else {
        endpoint ||= DEFAULT_ENDPOINTS[network];
        try {
            const url = new URL(endpoint);
            if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
            if (network === 'mainnet' && url.protocol === 'http:' && !['127.0.0.1', 'localhost'].includes(url.hostname)) {
                issues.push({ path: 'chain.endpoint', message: 'must use https on mainnet (the API key and every transaction travel over it)' });
            }
        } catch {
            issues.push({ path: 'chain.endpoint', message: `must be an http(s) URL of a toncenter v2 JSON-RPC endpoint, got ${JSON.stringify(endpoint)}` });
        }
    }
    const apiKeyEnv = chainFields.string('apiKeyEnv', DEFAULT_API_KEY_ENV)!;
    const apiKey = overrides.apiKey ?? (env[apiKeyEnv] || undefined);
    const chain = {
        endpoint: network === 'local' ? undefined : endpoint,
        apiKey,
        timeoutMs: chainFields.int('timeoutMs', 10_000, 100, 600_000),
        // Keyless toncenter allows one request a second.
        minIntervalMs: chainFields.int('minIntervalMs', (network === 'testnet' || network === 'mainnet') && !apiKey ? 1100 : 0, 0, 60_000),
    };

    let root: Address | undefined;
    const rootText = overrides.root ?? top.string('root');
    if (rootText !== undefined) {
        try {
            root = Address.parse(rootText);
        } catch {
            issues.push({ path: 'root', message: `must be the Root contract's address (EQ.../UQ... or 0:<64 hex>), got ${JSON.stringify(rootText)}` });
        }
    }

    const walletFields = top.sub('wallet', ['mnemonicFile', 'mnemonicEnv', 'version', 'subwallet']);
    const mnemonicFile = walletFields.has('mnemonicFile') ? walletFields.string('mnemonicFile') : undefined;
    const mnemonicEnv = walletFields.string('mnemonicEnv', DEFAULT_MNEMONIC_ENV)!;
    if (!mnemonicFile && network !== 'local' && !env[mnemonicEnv]) {
        issues.push({ path: 'wallet', message: `no gas wallet: set the environment variable ${mnemonicEnv} to its 24 words, or set wallet.mnemonicFile` });
    }
    const wallet = {
        mnemonicFile: mnemonicFile ? path(mnemonicFile) : undefined,
        mnemonicEnv,
        version: walletFields.oneOf('version', ['v4', 'v5r1'] as const, 'v4'),
        subwallet: walletFields.has('subwallet') ? walletFields.int('subwallet', 0, 0, 0xffffffff) : undefined,
    };

    const dataDir = path(overrides.dataDir ?? top.string('dataDir', '.cocoon-auditor')!);

    const keyFields = top.sub('keys', ['seedsEnv', 'seedsFile']);
    const seedsEnv = keyFields.string('seedsEnv', DEFAULT_AUDITOR_SEEDS_ENV)!;
    const seedsFile = keyFields.has('seedsFile') ? keyFields.string('seedsFile') : undefined;
    let seeds: Buffer[] = [];
    if (seedsFile) {
        const file = path(seedsFile);
        try {
            seeds = parseSeeds(readFileSync(file, 'utf8'), 'keys.seedsFile', issues);
            if ((statSync(file).mode & 0o077) !== 0) {
                issues.push({ path: 'keys.seedsFile', message: `${file} is readable by other users; restrict it (chmod 600): it holds auditor signing keys` });
            }
        } catch (error) {
            if (!(error instanceof AuditorConfigError)) issues.push({ path: 'keys.seedsFile', message: `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` });
        }
    } else if (env[seedsEnv]) {
        seeds = parseSeeds(env[seedsEnv]!, `keys.seedsEnv (${seedsEnv})`, issues);
    }
    if (seeds.length === 0 && !issues.some((i) => i.path.startsWith('keys'))) {
        issues.push({
            path: 'keys',
            message: `no auditor key: set the environment variable ${seedsEnv} to the 64-hex-digit seed(s) of your auditor key(s), or set keys.seedsFile`,
        });
    }

    const peers = top.strings('peers');
    peers.forEach((peer, i) => {
        try {
            const url = new URL(peer);
            if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
        } catch {
            issues.push({ path: `peers[${i}]`, message: `must be the http(s) URL of another auditor agent, got ${JSON.stringify(peer)}` });
        }
    });

    const attestationFields = top.sub('attestation', [
        'trustedSimulatedKeys',
        'dcapCollateralFile',
        'acceptedTcbStatuses',
        'fetchTimeoutMs',
        'maxEvidenceBytes',
        'retryIntervalMs',
    ]);
    const trustedText = attestationFields.strings('trustedSimulatedKeys');
    const trustedSimulatedKeys: Buffer[] = [];
    for (const [i, key] of trustedText.entries()) {
        if (/^[0-9a-fA-F]{64}$/.test(key)) trustedSimulatedKeys.push(Buffer.from(key, 'hex'));
        else issues.push({ path: `attestation.trustedSimulatedKeys[${i}]`, message: 'must be an Ed25519 public key of 64 hex digits' });
    }
    // The local devnet's well-known dev attestation key is trusted on dev networks only.
    if (trustedText.length === 0 && (network === 'local' || network === 'devnet')) trustedSimulatedKeys.push(devAttestationPublicKey());
    if (network === 'mainnet' && trustedText.length > 0) {
        issues.push({ path: 'attestation.trustedSimulatedKeys', message: 'simulated enclaves give no confidentiality; mainnet never trusts them' });
    }
    const collateral = attestationFields.has('dcapCollateralFile') ? attestationFields.string('dcapCollateralFile') : undefined;
    const tcb = attestationFields.strings('acceptedTcbStatuses');
    const attestation = {
        trustedSimulatedKeys,
        dcapCollateralFile: collateral ? path(collateral) : undefined,
        acceptedTcbStatuses: tcb.length > 0 ? tcb : ['UpToDate'],
        fetchTimeoutMs: attestationFields.int('fetchTimeoutMs', 10_000, 100, 600_000),
        maxEvidenceBytes: attestationFields.int('maxEvidenceBytes', 256 * 1024, 1024, 16 * 1024 * 1024),
        retryIntervalMs: attestationFields.int('retryIntervalMs', 30_000, 10, 86_400_000),
    };

    const verdictFields = top.sub('verdict', ['ttlSeconds', 'value']);
    const verdict = { ttlSeconds: verdictFields.int('ttlSeconds', 900, 60, 30 * 86_400), value: verdictFields.ton('value', toNano('0.1')) };
    if (verdict.value < toNano('0.05')) issues.push({ path: 'verdict.value', message: 'must be at least 0.05 TON (Root refuses an AuditVerdict carrying less)' });
    const equivocationFields = top.sub('equivocation', ['value']);
    const equivocation = { value: equivocationFields.ton('value', toNano('0.1')) };
    if (equivocation.value < toNano('0.05')) issues.push({ path: 'equivocation.value', message: 'must be at least 0.05 TON (the Worker refuses a ProveEquivocation carrying less)' });

    let model: AuditorConfig['model'];
    if (top.has('model')) {
        const modelFields = top.sub('model', ['path', 'threads']);
        const modelPath = modelFields.string('path');
        if (modelPath) model = { path: path(modelPath), threads: modelFields.has('threads') ? modelFields.int('threads', 1, 1, 256) : undefined };
    }

    const httpFields = top.sub('http', ['host', 'port', 'maxBodyBytes', 'requestTimeoutMs']);
    const http = {
        host: httpFields.string('host', '127.0.0.1')!,
        port: overrides.port ?? httpFields.int('port', 8095, 0, 65535),
        maxBodyBytes: httpFields.int('maxBodyBytes', 1024 * 1024, 1024, 64 * 1024 * 1024),
        requestTimeoutMs: httpFields.int('requestTimeoutMs', 120_000, 100, 3_600_000),
    };
    const watcherFields = top.sub('watcher', ['pollIntervalMs']);
    const watcher = { pollIntervalMs: watcherFields.int('pollIntervalMs', network === 'testnet' || network === 'mainnet' ? 5_000 : 1_000, 10, 600_000) };

    const config: AuditorConfig = {
        source,
        network,
        chain,
        root: root ?? new Address(0, Buffer.alloc(32)),
        wallet,
        dataDir,
        seeds,
        peers,
        attestation,
        verdict,
        equivocation,
        model,
        http,
        watcher,
        logLevel: top.oneOf('logLevel', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    };
    if (issues.length > 0) throw new AuditorConfigError(source, issues);
    return config;
}

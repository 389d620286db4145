import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Address, toNano } from '@ton/core';
import { DEFAULT_MNEMONIC_ENV, WalletVersion } from '../chain/wallet';
import { devAttestationPublicKey } from '../enclave/simulated';
import { DEFAULT_API_KEY_ENV, DEFAULT_ENDPOINTS, NETWORKS, NetworkName } from '../worker/config';
import { ConfigFields, ConfigIssue, ConfigObject } from '../core/config-fields';

/**
 * The client's configuration file (`cocoon client ... --config FILE`; reference table in
 * docs/operators.md), validated in one pass: every problem is reported at once, each naming its
 * field. Like the worker's and the auditor's, it holds no secret: the wallet mnemonic comes from
 * an environment variable or a file, the server's API key from an environment variable.
 */
export const DEFAULT_CLIENT_API_KEY_ENV = 'COCOON_CLIENT_API_KEY';

export interface ClientConfig {
    source: string;
    network: NetworkName;
    chain: { endpoint?: string; apiKey?: string; timeoutMs: number; minIntervalMs: number };
    root: Address;
    wallet: { mnemonicFile?: string; mnemonicEnv: string; version: WalletVersion; subwallet?: number };
    stateDir: string;
    attestation: { trustedSimulatedKeys: Buffer[]; refuseSimulated: boolean; dcapCollateralFile?: string; acceptedTcbStatuses: string[] };
    models: Record<string, string>;
    workers?: Address[];
    autoDeposit?: bigint;
    autoTopUp?: bigint;
    requestTimeoutMs: number;
    reverifySeconds: number;
    fallback: { enabled: boolean; deadlineSeconds: number };
    pollIntervalMs: number;
    channelViewCacheMs: number;
    voucherDelayMs: number;
    server: { host: string; port: number; apiKey?: string; maxBodyBytes: number; maxConcurrent: number; requestTimeoutMs: number };
    logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ClientConfigFileError extends Error {
    constructor(
        readonly source: string,
        readonly issues: ConfigIssue[],
    ) {
        super(`client config ${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'));
        this.name = 'ClientConfigFileError';
    }
}

type Obj = ConfigObject;

export interface ClientConfigOverrides {
    network?: NetworkName;
    endpoint?: string;
    apiKey?: string;
    root?: string;
    port?: number;
}

export function loadClientConfig(file: string, env: NodeJS.ProcessEnv = process.env, overrides: ClientConfigOverrides = {}): ClientConfig {
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ClientConfigFileError(file, [
            { path: '(file)', message: code === 'ENOENT' ? 'does not exist; pass the path of your client config (see docs/operators.md)' : `cannot be read (${code})` },
        ]);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (error) {
        throw new ClientConfigFileError(file, [{ path: '(file)', message: `is not valid JSON: ${(error as Error).message}` }]);
    }
    return parseClientConfig(raw, { source: file, baseDir: dirname(resolve(file)), env, overrides });
}

export function parseClientConfig(
    raw: unknown,
    options: { source?: string; baseDir?: string; env?: NodeJS.ProcessEnv; overrides?: ClientConfigOverrides } = {},
): ClientConfig {
    const source = options.source ?? '<inline>';
    const env = options.env ?? process.env;
    const overrides = options.overrides ?? {};
    const baseDir = options.baseDir ?? process.cwd();
    const path = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ClientConfigFileError(source, [{ path: '(file)', message: 'must hold a JSON object' }]);
    const issues: ConfigIssue[] = [];
    const top = new ConfigFields(issues, raw as Obj, '', [
        '$comment', 'network', 'chain', 'root', 'wallet', 'stateDir', 'attestation', 'models', 'workers', 'autoDeposit', 'autoTopUp',
        'requestTimeoutMs', 'reverifySeconds', 'fallback', 'pollIntervalMs', 'channelViewCacheMs', 'voucherDelayMs', 'server', 'logLevel',
    ]);
    const network: NetworkName = overrides.network ?? top.oneOf('network', NETWORKS, 'devnet');
    if (network === 'local') issues.push({ path: 'network', message: 'the client cannot reach network "local" (the in-process chain of `cocoon worker start --network local`); use devnet, testnet or mainnet' });
    const chainFields = top.sub('chain', ['endpoint', 'apiKeyEnv', 'timeoutMs', 'minIntervalMs']);
    const endpoint = overrides.endpoint ?? chainFields.string('endpoint', '') ?? '';
    const resolvedEndpoint = endpoint || (network === 'local' ? undefined : DEFAULT_ENDPOINTS[network]);
    if (endpoint) {
        try {
            const url = new URL(endpoint);
            if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
        } catch {
            issues.push({ path: 'chain.endpoint', message: `must be an http(s) URL, got ${JSON.stringify(endpoint)}` });
        }
    }
    const apiKeyEnv = chainFields.string('apiKeyEnv', DEFAULT_API_KEY_ENV)!;
    const apiKey = overrides.apiKey ?? (env[apiKeyEnv] || undefined);
    const chain = {
        endpoint: resolvedEndpoint,
        apiKey,
        timeoutMs: chainFields.int('timeoutMs', 10_000, 100, 600_000),
        minIntervalMs: chainFields.int('minIntervalMs', (network === 'testnet' || network === 'mainnet') && !apiKey ? 1100 : 0, 0, 60_000),
    };
    const rootValue = overrides.root ?? top.raw('root');
    let root: Address | undefined;
    if (rootValue === undefined || rootValue === null) top.issue('root', "is required: the network's Root contract address");
    else root = top.address('root', rootValue);

    const walletFields = top.sub('wallet', ['mnemonicFile', 'mnemonicEnv', 'version', 'subwallet']);
    const mnemonicFile = walletFields.has('mnemonicFile') ? walletFields.string('mnemonicFile') : undefined;
    const mnemonicEnv = walletFields.string('mnemonicEnv', DEFAULT_MNEMONIC_ENV)!;
    if (!mnemonicFile && !env[mnemonicEnv]) {
        issues.push({ path: 'wallet', message: `no mnemonic: set the ${mnemonicEnv} environment variable (24 words) or wallet.mnemonicFile (a file readable by you only)` });
    }
    const wallet = {
        mnemonicFile: mnemonicFile ? path(mnemonicFile) : undefined,
        mnemonicEnv,
        version: walletFields.oneOf('version', ['v4', 'v5r1'] as const, 'v4'),
        subwallet: walletFields.has('subwallet') ? walletFields.int('subwallet', 0, 0, 0xffffffff) : undefined,
    };
    const stateDir = path(top.string('stateDir', '.cocoon-client')!);

    const attestationFields = top.sub('attestation', ['trustedSimulatedKeys', 'refuseSimulated', 'dcapCollateralFile', 'acceptedTcbStatuses']);
    const trusted: Buffer[] = [];
    const trustedRaw = attestationFields.raw('trustedSimulatedKeys');
    if (trustedRaw === undefined || trustedRaw === null) {
        if (network === 'devnet') trusted.push(devAttestationPublicKey());
    } else if (!Array.isArray(trustedRaw) || trustedRaw.some((k) => typeof k !== 'string' || !/^(0x)?[0-9a-fA-F]{64}$/.test(k))) {
        attestationFields.issue('trustedSimulatedKeys', 'must be an array of Ed25519 public keys of 64 hex digits each');
    } else {
        for (const k of trustedRaw as string[]) trusted.push(Buffer.from(k.replace(/^0x/, ''), 'hex'));
    }
    const collateral = attestationFields.has('dcapCollateralFile') ? attestationFields.string('dcapCollateralFile') : undefined;
    const tcbRaw = attestationFields.raw('acceptedTcbStatuses');
    let tcb = ['UpToDate'];
    if (tcbRaw !== undefined && tcbRaw !== null) {
        if (!Array.isArray(tcbRaw) || tcbRaw.length === 0 || tcbRaw.some((t) => typeof t !== 'string')) attestationFields.issue('acceptedTcbStatuses', 'must be a non-empty array of TCB statuses, e.g. ["UpToDate"]');
        else tcb = tcbRaw as string[];
    }
    const attestation = {
        trustedSimulatedKeys: trusted,
        refuseSimulated: attestationFields.bool('refuseSimulated', network === 'mainnet'),
        dcapCollateralFile: collateral ? path(collateral) : undefined,
        acceptedTcbStatuses: tcb,
    };

    const models: Record<string, string> = {};
    const modelsRaw = top.raw('models');
    if (modelsRaw !== undefined && modelsRaw !== null) {
        if (typeof modelsRaw !== 'object' || Array.isArray(modelsRaw)) top.issue('models', 'must be an object {name: 64-hex-digit model hash}');
        else {
            for (const [name, hash] of Object.entries(modelsRaw as Obj)) {
                if (typeof hash !== 'string' || !/^(0x)?[0-9a-fA-F]{64}$/.test(hash)) top.issue(`models.${name}`, `must be a model hash of 64 hex digits, got ${JSON.stringify(hash)}`);
                else models[name] = hash;
            }
        }
    }
    let workers: Address[] | undefined;
    const workersRaw = top.raw('workers');
    if (workersRaw !== undefined && workersRaw !== null) {
        if (!Array.isArray(workersRaw)) top.issue('workers', 'must be an array of worker addresses');
        else workers = workersRaw.map((w, i) => top.address(`workers[${i}]`, w)).filter((a): a is Address => a !== undefined);
    }
    const fallbackFields = top.sub('fallback', ['enabled', 'deadlineSeconds']);
    const serverFields = top.sub('server', ['host', 'port', 'apiKeyEnv', 'maxBodyBytes', 'maxConcurrent', 'requestTimeoutMs']);
    const serverKeyEnv = serverFields.string('apiKeyEnv', DEFAULT_CLIENT_API_KEY_ENV)!;
    const config: ClientConfig = {
        source,
        network,
        chain,
        root: root!,
        wallet,
        stateDir,
        attestation,
        models,
        workers,
        autoDeposit: top.positiveTon('autoDeposit'),
        autoTopUp: top.positiveTon('autoTopUp'),
        requestTimeoutMs: top.int('requestTimeoutMs', 120_000, 100, 3_600_000),
        reverifySeconds: top.int('reverifySeconds', 300, 1, 86_400),
        fallback: { enabled: fallbackFields.bool('enabled', true), deadlineSeconds: fallbackFields.int('deadlineSeconds', 300, 10, 86_400) },
        pollIntervalMs: top.int('pollIntervalMs', network === 'devnet' ? 500 : 3000, 10, 600_000),
        channelViewCacheMs: top.int('channelViewCacheMs', 2000, 0, 600_000),
        voucherDelayMs: top.int('voucherDelayMs', 50, 0, 60_000),
        server: {
            host: serverFields.string('host', '127.0.0.1')!,
            port: overrides.port ?? serverFields.int('port', 8787, 0, 65535),
            apiKey: env[serverKeyEnv] || undefined,
            maxBodyBytes: serverFields.int('maxBodyBytes', 1024 * 1024, 1024, 64 * 1024 * 1024),
            maxConcurrent: serverFields.int('maxConcurrent', 8, 1, 1024),
            requestTimeoutMs: serverFields.int('requestTimeoutMs', 30_000, 100, 600_000),
        },
        logLevel: top.oneOf('logLevel', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    };
    if (issues.length > 0) throw new ClientConfigFileError(source, issues);
    return config;
}

import { parseArgs } from 'node:util';
import { Address } from '@ton/core';
import { ToncenterChain } from '../chain/toncenter';
import { Chain } from '../chain/types';
import { Wallet, WalletVersion } from '../chain/wallet';
import { DEFAULT_API_KEY_ENV, DEFAULT_ENDPOINTS, NETWORKS, NetworkName } from '../worker/config';
import { CliIo, CliUsageError } from './registry';

/**
 * What the new commands (deploy, client, auditor) share with `cocoon worker`: the network options
 * with the same names, defaults and environment variables, strict argument parsing, JSON output.
 */
export const NETWORK_HELP = `Network options (override the config):
  --network NAME     local | devnet | testnet | mainnet
                       devnet: \`cocoon devnet\` (default endpoint ${DEFAULT_ENDPOINTS.devnet})
                       testnet, mainnet: toncenter (default endpoints https://[testnet.]toncenter.com/api/v2/jsonRPC)
                       local: an in-process chain, reachable only inside \`cocoon worker start --network local\`
  --endpoint URL     toncenter v2 JSON-RPC endpoint of the network
  --api-key KEY      toncenter API key (prefer the ${DEFAULT_API_KEY_ENV} environment variable:
                     command lines are visible to other users of the machine)`;

export const NETWORK_OPTIONS = {
    network: { type: 'string' },
    endpoint: { type: 'string' },
    'api-key': { type: 'string' },
} as const;

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Strict parsing: unknown options and misspellings are usage errors (exit code 2). */
export function parseOptions(args: string[], options: OptionSpec, positionals = false): { values: Values; positionals: string[] } {
    try {
        const parsed = parseArgs({ args, options: { ...NETWORK_OPTIONS, ...options }, strict: true, allowPositionals: positionals });
        return { values: parsed.values as Values, positionals: parsed.positionals };
    } catch (error) {
        throw new CliUsageError((error as Error).message);
    }
}

/** Refuses secrets given on the command line (they would show in `ps` and shell history). */
export function refuseSecretArgs(args: string[]): void {
    for (const arg of args) {
        if (/^--(mnemonic|seed|seeds|secret|private-key)(=|$)/.test(arg)) {
            throw new CliUsageError(`${arg.split('=')[0]} is not accepted: secrets never go on the command line; use the environment variable or file the help names`);
        }
    }
}

export function networkOf(value: unknown): NetworkName | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !NETWORKS.includes(value as NetworkName)) {
        throw new CliUsageError(`--network must be one of ${NETWORKS.join(', ')}, got "${String(value)}"`);
    }
    return value as NetworkName;
}

export function addressOf(value: string, what: string): Address {
    try {
        return Address.parse(value.trim());
    } catch {
        throw new CliUsageError(`${what} "${value}" is not a TON address (use the EQ.../UQ... or 0:<64 hex> form)`);
    }
}

/** The network's chain for a command that talks to a shared chain (not "local"). */
export function remoteChain(network: NetworkName, endpoint: string | undefined, apiKey: string | undefined, command: string): Chain {
    if (network === 'local') {
        throw new CliUsageError(`network "local" is an in-process chain that only \`cocoon worker start --network local\` holds; \`cocoon ${command}\` needs a shared chain: use --network devnet (with \`cocoon devnet\`), testnet or mainnet`);
    }
    const url = endpoint ?? DEFAULT_ENDPOINTS[network];
    try {
        const parsed = new URL(url);
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
        throw new CliUsageError(`--endpoint must be an http(s) URL, got "${url}"`);
    }
    const slow = (network === 'testnet' || network === 'mainnet') && !apiKey;
    return new ToncenterChain({ endpoint: url, apiKey, minIntervalMs: slow ? 1100 : 0 });
}

/** The API key: --api-key, else the environment variable. */
export function apiKeyOf(values: Values, env: NodeJS.ProcessEnv, envVar = DEFAULT_API_KEY_ENV): string | undefined {
    return typeof values['api-key'] === 'string' ? values['api-key'] : env[envVar] || undefined;
}

export async function loadWallet(
    source: { file?: string; envVar: string },
    options: { version?: WalletVersion; subwallet?: number },
    env: NodeJS.ProcessEnv,
): Promise<Wallet> {
    if (!source.file && !env[source.envVar]) {
        throw new CliUsageError(`no wallet mnemonic: set the ${source.envVar} environment variable (24 words) or name a mnemonic file (chmod 600)`);
    }
    return Wallet.load({ file: source.file, envVar: source.envVar }, options, env);
}

export function print(io: CliIo, value: Record<string, unknown>): void {
    io.stdout(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Address ? v.toString() : v)));
}

/** Resolves on SIGINT/SIGTERM (the io's abort signal). */
export function stopRequested(io: CliIo): Promise<'stop'> {
    return new Promise((resolve) => {
        if (io.signal.aborted) resolve('stop');
        io.signal.addEventListener('abort', () => resolve('stop'), { once: true });
    });
}

/**
 * Runs a command body, turning the config errors of every agent into a clear message and exit
 * code 2, and the SDK's coded errors into `code: message` and exit code 1 (never a stack).
 */
export async function withErrors(io: CliIo, command: string, body: () => Promise<number>): Promise<number> {
    try {
        return await body();
    } catch (error) {
        const name = (error as Error)?.name;
        if (['ClientConfigFileError', 'WorkerConfigError', 'AuditorConfigError', 'WalletConfigError', 'ScriptError'].includes(name)) {
            io.stderr(`cocoon ${command}: ${(error as Error).message}`);
            return 2;
        }
        if (error instanceof CliUsageError) throw error;
        const code = (error as { code?: unknown })?.code;
        io.stderr(`cocoon ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error)?.message ?? String(error)}`);
        return 1;
    }
}

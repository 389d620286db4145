import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Address, fromNano } from '@ton/core';
import { IdempotentSender, newQueryId } from '../chain/sender';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';
import { JournalLockedError, JournalStore } from '../store';
import { chainFromConfig, enclaveFromConfig, engineFromConfig, modelHashFromConfig, startWorkerAgent } from '../worker/agent';
import { ConfigOverrides, loadWorkerConfig, NETWORKS, NetworkName, WorkerConfig } from '../worker/config';
import { WorkerConfigError } from '../worker/errors';
import { startLocalNetwork } from '../worker/local-network';
import { createLogger } from '../worker/logger';
import { ensureRegistration, readWorkerInfo, requestUnbond, statusName, withdrawStake, workerAddressOf } from '../worker/registration';
import { SigningJournal } from '../worker/signing-journal';
import { modelHashToUint256 } from '../inference/model-identity';
import { Worker } from '../../wrappers';
import { openOnChain } from '../worker/chain-access';
import { CliCommand, CliIo, CliUsageError } from './registry';

/**
 * `cocoon worker start|register|status|unbond|withdraw`: the worker agent and its owner actions.
 * Every command reads the worker config (docs/worker-agent.md) and takes the network options.
 * Output: one JSON object per line on stdout; logs (JSON lines) on stderr.
 */
const NETWORK_OPTIONS = `Network options (override the config):
  --network NAME     local | devnet | testnet | mainnet
                       local: a throwaway in-process chain with its own dev Root (worker start only)
                       devnet: \`cocoon devnet\` (default endpoint http://127.0.0.1:8081/jsonRPC)
                       testnet, mainnet: toncenter (default endpoints https://[testnet.]toncenter.com/api/v2/jsonRPC)
  --endpoint URL     toncenter v2 JSON-RPC endpoint of the network
  --api-key KEY      toncenter API key (prefer the TONCENTER_API_KEY environment variable:
                     command lines are visible to other users of the machine)`;

const COMMON = {
    config: { type: 'string' },
    network: { type: 'string' },
    endpoint: { type: 'string' },
    'api-key': { type: 'string' },
} as const;

interface Parsed {
    config: WorkerConfig;
}

function parseCommon(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}): Parsed & { values: Record<string, string | boolean | undefined> } {
    let values: Record<string, string | boolean | undefined>;
    try {
        ({ values } = parseArgs({ args, options: { ...COMMON, ...extra }, strict: true, allowPositionals: false }));
    } catch (error) {
        throw new CliUsageError((error as Error).message);
    }
    if (typeof values.config !== 'string') throw new CliUsageError('--config FILE is required: the worker config (see docs/worker-agent.md)');
    const overrides: ConfigOverrides = {};
    if (values.network !== undefined) {
        if (!NETWORKS.includes(values.network as NetworkName)) throw new CliUsageError(`--network must be one of ${NETWORKS.join(', ')}, got "${values.network}"`);
        overrides.network = values.network as NetworkName;
    }
    if (typeof values.endpoint === 'string') overrides.endpoint = values.endpoint;
    if (typeof values['api-key'] === 'string') overrides.apiKey = values['api-key'];
    if (typeof values.port === 'string') {
        const port = Number(values.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--port must be 0..65535, got "${values.port}"`);
        overrides.port = port;
    }
    if (typeof values['data-dir'] === 'string') overrides.dataDir = values['data-dir'];
    return { config: loadWorkerConfig(values.config, process.env, overrides), values };
}

function print(io: CliIo, value: Record<string, unknown>): void {
    io.stdout(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Address ? v.toString() : v)));
}

async function withConfigErrors(io: CliIo, body: () => Promise<number>): Promise<number> {
    try {
        return await body();
    } catch (error) {
        if (error instanceof WorkerConfigError) {
            io.stderr(error.message);
            return 2;
        }
        if (error instanceof JournalLockedError) {
            io.stderr(`${error.message} A worker agent is running with this data dir; stop it first, or use a data dir per worker.`);
            return 1;
        }
        throw error;
    }
}

const START_HELP = `Usage: cocoon worker start --config FILE [--port N] [--data-dir DIR] [network options]

Runs the worker agent: unseals (or creates) its enclave keys, registers its Worker contract or
renews its attestation when needed, serves the HTTP API of docs/worker-api.md, watches its
Worker and channels (on-chain jobs, finalization, settlement) until SIGTERM/SIGINT, then shuts
down gracefully (in-flight jobs finish or are handed back, the journal is flushed) and exits 0.
It exits 1 on an unrecoverable state (e.g. its journal cannot be written), 2 on a bad config.

On start it prints one JSON line: {"event":"ready","url":...,"worker":...,"root":...}.

Options:
  --config FILE      worker config (JSON; docs/worker-agent.md has the reference table)
  --port N           HTTP port (overrides http.port; 0 picks a free one)
  --data-dir DIR     data directory (sealed keys, journal; overrides dataDir)

${NETWORK_OPTIONS}

Environment: COCOON_WALLET_MNEMONIC (gas wallet, unless wallet.mnemonicFile), TONCENTER_API_KEY,
COCOON_SEAL_KEY (sealing key of the enclave keys), COCOON_BACKEND_API_KEY (OpenAI-compatible backend).

Example:  cocoon worker start --config worker.json --network devnet`;

export const workerStartCommand: CliCommand = {
    name: 'worker start',
    summary: 'run the worker agent (HTTP API, on-chain jobs, settlement) until SIGTERM',
    help: START_HELP,
    run: (args, io) =>
        withConfigErrors(io, async () => {
            const { config } = parseCommon(args, { port: { type: 'string' }, 'data-dir': { type: 'string' } });
            const log = createLogger({ level: config.logLevel, write: (line) => io.stderr(line) });
            let chain: Chain | undefined;
            let wallet: Wallet | undefined;
            let root = config.root;
            const engine = await engineFromConfig(config);
            if (config.network === 'local') {
                const configuredWallet =
                    config.wallet.mnemonicFile || io.env[config.wallet.mnemonicEnv]
                        ? await Wallet.load({ file: config.wallet.mnemonicFile, envVar: config.wallet.mnemonicEnv }, { version: config.wallet.version }, io.env)
                        : undefined;
                const local = await startLocalNetwork({ modelHash: engine.modelHash, imageName: config.enclave.imageName, wallet: configuredWallet });
                chain = local.chain;
                wallet = local.wallet;
                root = local.root;
                log.warn('local-network', { note: 'an in-process chain: nothing is persisted and no other process can reach it', root: root.toString() });
            }
            let handle;
            try {
                handle = await startWorkerAgent(config, { chain, wallet, engine, root, log });
            } catch (error) {
                await engine.close();
                throw error;
            }
            print(io, {
                event: 'ready',
                url: handle.url,
                worker: handle.worker.toString(),
                owner: handle.owner.toString(),
                root: (root ?? config.root)!.toString(),
                network: config.network,
                model: handle.modelHash,
                status: statusName(handle.registration.info.status),
                actions: handle.registration.actions,
            });
            const stopRequested = new Promise<'stop'>((resolve) => {
                if (io.signal.aborted) resolve('stop');
                io.signal.addEventListener('abort', () => resolve('stop'), { once: true });
            });
            const outcome = await Promise.race([stopRequested, handle.done]);
            if (outcome === 'stop') await handle.stop();
            const done = await handle.done;
            await engine.close();
            print(io, { event: 'stopped', exitCode: done.exitCode, ...(done.error ? { error: done.error.message } : {}) });
            return done.exitCode;
        }),
};

/** The owner's tools: chain, wallet and sender (with their own journal, beside the agent's). */
async function ownerContext(config: WorkerConfig, io: CliIo) {
    if (config.network === 'local') {
        throw new CliUsageError('network "local" lives inside `cocoon worker start --network local` only; use --network devnet|testnet|mainnet');
    }
    if (!config.root) throw new CliUsageError('the config names no "root"');
    const chain = chainFromConfig(config);
    const wallet = await Wallet.load({ file: config.wallet.mnemonicFile, envVar: config.wallet.mnemonicEnv }, { version: config.wallet.version, subwallet: config.wallet.subwallet }, io.env);
    const worker = await workerAddressOf(config.root, wallet.address, config.slot);
    return { chain, wallet, worker, root: config.root };
}

function ownerSender(config: WorkerConfig, chain: Chain, wallet: Wallet, name: string): { sender: IdempotentSender; store: JournalStore } {
    const store = JournalStore.open(join(config.dataDir, name));
    return { sender: new IdempotentSender({ chain, wallet, store }), store };
}

const REGISTER_HELP = `Usage: cocoon worker register --config FILE [network options]

Registers the worker's contract (stake, enclave claim, endpoint, prices) from the gas wallet, or
renews its attestation and updates endpoint and prices when they differ from the config; prints
the outcome. \`worker start\` does the same by itself when registration.auto is true (default).
Uses the data directory's sealed enclave keys (creates them if none): stop the agent first.

${NETWORK_OPTIONS}`;

export const workerRegisterCommand: CliCommand = {
    name: 'worker register',
    summary: 'register the Worker contract (or renew its attestation) and exit',
    help: REGISTER_HELP,
    run: (args, io) =>
        withConfigErrors(io, async () => {
            const { config } = parseCommon(args);
            const { chain, wallet, worker, root } = await ownerContext(config, io);
            const log = createLogger({ level: config.logLevel, write: (line) => io.stderr(line) });
            const store = JournalStore.open(join(config.dataDir, 'worker.journal'));
            try {
                const journal = new SigningJournal(store, () => undefined);
                const sender = new IdempotentSender({ chain, wallet, store });
                await sender.resume();
                const enclave = enclaveFromConfig(config, worker, log);
                const modelHash = await modelHashFromConfig(config);
                if (!config.http.publicUrl) throw new CliUsageError('set http.publicUrl in the config: the URL clients reach this worker at, recorded on-chain');
                const outcome = await ensureRegistration(
                    {
                        chain,
                        wallet,
                        sender,
                        journal,
                        enclave,
                        root,
                        slot: config.slot,
                        model: modelHashToUint256(modelHash),
                        prices: config.prices,
                        endpoint: config.http.publicUrl,
                        capacity: config.registration.capacity,
                        stake: config.registration.stake,
                        renewBeforeSeconds: config.registration.renewBeforeSeconds,
                        log,
                    },
                    { auto: true },
                );
                print(io, {
                    event: 'registered',
                    worker: worker.toString(),
                    status: statusName(outcome.info.status),
                    stake: fromNano(outcome.info.stake),
                    actions: outcome.actions,
                    quoteHash: outcome.attestation.quoteHash.toString('hex'),
                });
                return 0;
            } finally {
                store.close();
            }
        }),
};

const STATUS_HELP = `Usage: cocoon worker status --config FILE [network options]

Prints the Worker contract's on-chain record: status, stake, attestation expiry, endpoint,
prices, open jobs and reputation counters. Read-only.

${NETWORK_OPTIONS}`;

export const workerStatusCommand: CliCommand = {
    name: 'worker status',
    summary: "print the Worker contract's on-chain record",
    help: STATUS_HELP,
    run: (args, io) =>
        withConfigErrors(io, async () => {
            const { config } = parseCommon(args);
            const { chain, worker, wallet } = await ownerContext(config, io);
            const info = await readWorkerInfo(chain, worker);
            if (!info) {
                print(io, { worker: worker.toString(), owner: wallet.address.toString(), registered: false, slot: config.slot });
                return 0;
            }
            const opened = openOnChain(chain, Worker.fromAddress(worker));
            const stats = await opened.getStats();
            const prices = await opened.getPrices();
            print(io, {
                worker: worker.toString(),
                owner: wallet.address.toString(),
                registered: true,
                slot: info.slot,
                status: statusName(info.status),
                effectiveStatus: statusName(info.effectiveStatus),
                stake: fromNano(info.stake),
                claimSpan: info.claimSpan,
                unbondAt: info.unbondAt,
                attestationExpiry: info.attestationExpiry,
                attested: info.attestation.attested,
                signingKey: info.attestation.claim.signingKey.toString(16).padStart(64, '0'),
                endpoint: info.endpoint,
                capacity: info.capacity,
                prices: [...prices].map(([model, p]) => ({ model: model.toString(16).padStart(64, '0'), prompt: p.prompt, completion: p.completion })),
                stats: { ...stats, $$type: undefined, earned: fromNano(stats.earned), totalSlashed: fromNano(stats.totalSlashed) },
            });
            return 0;
        }),
};

const UNBOND_HELP = `Usage: cocoon worker unbond --config FILE [network options]

Sends RequestUnbond from the owner wallet: the worker takes no new channels or jobs, and its
stake can be withdrawn (\`cocoon worker withdraw\`) once the unbonding delay has passed.

${NETWORK_OPTIONS}`;

export const workerUnbondCommand: CliCommand = {
    name: 'worker unbond',
    summary: 'start unbonding the stake (no new channels or jobs)',
    help: UNBOND_HELP,
    run: (args, io) =>
        withConfigErrors(io, async () => {
            const { config } = parseCommon(args);
            const { chain, wallet, worker } = await ownerContext(config, io);
            const before = await readWorkerInfo(chain, worker);
            if (!before) throw new Error(`no Worker contract at ${worker.toString()} (slot ${config.slot} of this wallet): nothing to unbond`);
            const { sender, store } = ownerSender(config, chain, wallet, 'owner.journal');
            try {
                const info = await requestUnbond({ chain, sender, worker }, newQueryId());
                if (info.unbondAt === 0n) throw new Error(`the Worker refused to unbond (status ${statusName(info.status)}); only a pending, active or jailed worker can`);
                print(io, { event: 'unbonding', worker: worker.toString(), status: statusName(info.status), unbondAt: info.unbondAt, withdrawFrom: new Date(Number(info.unbondAt) * 1000).toISOString() });
                return 0;
            } finally {
                store.close();
            }
        }),
};

const WITHDRAW_HELP = `Usage: cocoon worker withdraw --config FILE [network options]

Sends Withdraw from the owner wallet once the unbonding delay has passed and no on-chain job is
open: the whole stake goes to the owner and the Worker is Exited.

${NETWORK_OPTIONS}`;

export const workerWithdrawCommand: CliCommand = {
    name: 'worker withdraw',
    summary: 'withdraw the stake after unbonding',
    help: WITHDRAW_HELP,
    run: (args, io) =>
        withConfigErrors(io, async () => {
            const { config } = parseCommon(args);
            const { chain, wallet, worker } = await ownerContext(config, io);
            const before = await readWorkerInfo(chain, worker);
            if (!before) throw new Error(`no Worker contract at ${worker.toString()} (slot ${config.slot} of this wallet)`);
            if (before.unbondAt === 0n) throw new Error('the worker is not unbonding: run `cocoon worker unbond` first');
            const now = await chain.now();
            if (now < Number(before.unbondAt)) {
                throw new Error(`the stake unlocks at ${new Date(Number(before.unbondAt) * 1000).toISOString()} (in ${Number(before.unbondAt) - now} s); try again then`);
            }
            const { sender, store } = ownerSender(config, chain, wallet, 'owner.journal');
            try {
                const info = await withdrawStake({ chain, sender, worker }, newQueryId());
                if (info.stake !== 0n) throw new Error(`the Worker refused the withdrawal (status ${statusName(info.status)}, stake ${fromNano(info.stake)} TON)`);
                print(io, { event: 'withdrawn', worker: worker.toString(), amount: fromNano(before.stake), status: statusName(info.status) });
                return 0;
            } finally {
                store.close();
            }
        }),
};

export const workerCommands: CliCommand[] = [workerStartCommand, workerRegisterCommand, workerStatusCommand, workerUnbondCommand, workerWithdrawCommand];

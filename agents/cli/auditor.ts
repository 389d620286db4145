import { AuditorConfigOverrides, AuditorStartError, loadAuditorConfig, startAuditor } from '../auditor';
import { createLogger } from '../worker/logger';
import { networkOf, NETWORK_HELP, parseOptions, print, refuseSecretArgs, stopRequested, withErrors } from './options';
import { CliCommand, CliUsageError } from './registry';

const HELP = `Usage: cocoon auditor start --config FILE [--port N] [--data-dir DIR] [--root ADDRESS] [network options]

Runs the auditor agent: watches Root for worker registrations and attestation renewals, fetches
each worker's evidence, verifies it (simulated keys trusted by the config, or Intel DCAP for
TDX) and signs verdicts on-chain with its auditor keys; receives equivocation proofs and
disputed jobs over HTTP (GET /healthz, /v1/reviews, /v1/verdicts; POST /v1/equivocations,
/v1/disputes, /v1/cosign). Runs until SIGTERM/SIGINT, then exits 0.
On start it prints one JSON line: {"event":"ready","url":...,"root":...,"keys":[...]}.

Options:
  --config FILE      auditor config (JSON; reference table in docs/operators.md)
  --port N           HTTP port (overrides http.port; 0 picks a free one)
  --data-dir DIR     data directory (journal; overrides dataDir)
  --root ADDRESS     the network's Root (overrides "root")

${NETWORK_HELP}

Environment: COCOON_WALLET_MNEMONIC (gas wallet, unless wallet.mnemonicFile), COCOON_AUDITOR_SEEDS
(the auditor signing seeds, hex, unless keys.seedsFile), TONCENTER_API_KEY.`;

export const auditorStartCommand: CliCommand = {
    name: 'auditor start',
    summary: 'run the auditor agent (attestation reviews, verdicts, disputes) until SIGTERM',
    help: HELP,
    run: (args, io) =>
        withErrors(io, 'auditor start', async () => {
            refuseSecretArgs(args);
            const { values } = parseOptions(args, { config: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, root: { type: 'string' } });
            if (typeof values.config !== 'string') throw new CliUsageError('--config FILE is required: the auditor config (see docs/operators.md)');
            const overrides: AuditorConfigOverrides = {};
            overrides.network = networkOf(values.network);
            if (typeof values.endpoint === 'string') overrides.endpoint = values.endpoint;
            if (typeof values['api-key'] === 'string') overrides.apiKey = values['api-key'];
            if (typeof values.root === 'string') overrides.root = values.root;
            if (typeof values['data-dir'] === 'string') overrides.dataDir = values['data-dir'];
            if (values.port !== undefined) {
                const port = Number(values.port);
                if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--port must be 0..65535, got "${values.port}"`);
                overrides.port = port;
            }
            const config = loadAuditorConfig(values.config, io.env, overrides);
            if (config.network === 'local') {
                throw new CliUsageError('network "local" is an in-process chain the auditor cannot reach from its own process; use --network devnet (with `cocoon devnet`), testnet or mainnet');
            }
            const log = createLogger({ level: config.logLevel, write: (line) => io.stderr(line) });
            let handle;
            try {
                handle = await startAuditor(config, { log });
            } catch (error) {
                if (error instanceof AuditorStartError) {
                    io.stderr(`cocoon auditor start: ${error.message}`);
                    return 1;
                }
                throw error;
            }
            print(io, { event: 'ready', url: handle.url, root: handle.root, wallet: handle.wallet, keys: handle.keys, network: config.network });
            const outcome = await Promise.race([stopRequested(io), handle.done]);
            if (outcome === 'stop') await handle.stop();
            const done = await handle.done;
            print(io, { event: 'stopped', exitCode: done.exitCode, ...(done.error ? { error: done.error.message } : {}) });
            return done.exitCode;
        }),
};

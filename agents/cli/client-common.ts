import { readFileSync } from 'node:fs';
import { ToncenterChain } from '../chain/toncenter';
import { Wallet } from '../chain/wallet';
import { CocoonClient } from '../client/client';
import { SimulatedVerifier } from '../enclave/simulated';
import { EvidenceVerifier } from '../enclave/types';
import type { Collateral, TcbStatus } from '@phala/dcap-qvl';
import { DcapVerifier } from '../enclave/dcap';
import { createLogger } from '../worker/logger';
import { ClientConfig, ClientConfigFileError, loadClientConfig } from './client-config';
import { apiKeyOf, networkOf, NETWORK_HELP, OptionSpec, parseOptions, refuseSecretArgs, Values } from './options';
import { CliIo, CliUsageError } from './registry';

/** What every `cocoon client …` command shares: its options, its config, the SDK built from them. */
export const CLIENT_OPTIONS_HELP = `Options:
  --config FILE      client config (JSON; reference table in docs/operators.md)
  --root ADDRESS     the network's Root (overrides "root")

${NETWORK_HELP}

Environment: COCOON_WALLET_MNEMONIC (the client wallet, unless wallet.mnemonicFile),
TONCENTER_API_KEY, COCOON_CLIENT_API_KEY (\`client serve\`: the Bearer key it requires).`;

export function parseClientArgs(args: string[], extra: OptionSpec = {}, positionals = false): { values: Values; positionals: string[] } {
    refuseSecretArgs(args);
    return parseOptions(args, { config: { type: 'string' }, root: { type: 'string' }, ...extra }, positionals);
}

/** Parses the arguments and loads the config (ClientConfigFileError on a bad one). */
export function clientConfigOf(values: Values, io: CliIo, port?: number): ClientConfig {
    if (typeof values.config !== 'string') throw new CliUsageError('--config FILE is required: the client config (see docs/operators.md)');
    return loadClientConfig(values.config, io.env, {
        network: networkOf(values.network),
        endpoint: values.endpoint as string | undefined,
        apiKey: typeof values['api-key'] === 'string' ? apiKeyOf(values, io.env) : undefined,
        root: values.root as string | undefined,
        port,
    });
}

export function verifiersOf(config: ClientConfig): EvidenceVerifier[] {
    const verifiers: EvidenceVerifier[] = [];
    if (config.attestation.trustedSimulatedKeys.length > 0 && !config.attestation.refuseSimulated) {
        verifiers.push(new SimulatedVerifier({ trustedAttestationKeys: config.attestation.trustedSimulatedKeys }));
    }
    if (config.attestation.dcapCollateralFile) {
        let collateral: Collateral;
        try {
            collateral = JSON.parse(readFileSync(config.attestation.dcapCollateralFile, 'utf8')) as Collateral;
        } catch (error) {
            throw new ClientConfigFileError(config.source, [{ path: 'attestation.dcapCollateralFile', message: `cannot be read as JSON (${(error as Error).message})` }]);
        }
        verifiers.push(new DcapVerifier({ collateral, acceptedTcbStatuses: config.attestation.acceptedTcbStatuses as TcbStatus[] }));
    }
    if (verifiers.length === 0) {
        throw new ClientConfigFileError(config.source, [{ path: 'attestation', message: 'trusts no evidence: name trustedSimulatedKeys (dev networks) or dcapCollateralFile (TDX)' }]);
    }
    return verifiers;
}

export async function openClient(config: ClientConfig, io: CliIo): Promise<CocoonClient> {
    const log = createLogger({ level: config.logLevel, write: (line) => io.stderr(line) }).child({ agent: 'client' });
    const chain = new ToncenterChain({ endpoint: config.chain.endpoint!, apiKey: config.chain.apiKey, timeoutMs: config.chain.timeoutMs, minIntervalMs: config.chain.minIntervalMs });
    const wallet = await Wallet.load({ file: config.wallet.mnemonicFile, envVar: config.wallet.mnemonicEnv }, { version: config.wallet.version, subwallet: config.wallet.subwallet }, io.env);
    return CocoonClient.create({
        chain,
        root: config.root,
        wallet,
        stateDir: config.stateDir,
        verifiers: verifiersOf(config),
        refuseSimulated: config.attestation.refuseSimulated,
        models: config.models,
        workers: config.workers,
        autoDeposit: config.autoDeposit,
        autoTopUp: config.autoTopUp,
        requestTimeoutMs: config.requestTimeoutMs,
        reverifySeconds: config.reverifySeconds,
        fallback: config.fallback,
        pollIntervalMs: config.pollIntervalMs,
        channelViewCacheMs: config.channelViewCacheMs,
        voucherDelayMs: config.voucherDelayMs,
        log: (entry) => {
            const { event, ...fields } = entry;
            log.info(String(event ?? 'client'), fields);
        },
    });
}

export { ClientConfigFileError };

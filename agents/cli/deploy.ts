import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beginCell, fromNano, internal } from '@ton/core';
import { IdempotentSender, newQueryId } from '../chain/sender';
import { DEFAULT_MNEMONIC_ENV } from '../chain/wallet';
import { simulatedMeasurement } from '../enclave/binding';
import { modelHash as modelHashOfDir } from '../inference/model-identity';
import { JournalStore } from '../store';
import { openOnChain } from '../worker/chain-access';
import { deployDevRoot } from '../worker/dev-network';
import { Root, rootFor, storeAddAuditor, TEE_SIMULATED, TEE_TDX } from '../../wrappers';
import { GOVERNANCE_VALUE, parseHash, readParamsFile, ScriptError } from '../../scripts/lib';
import { CliCommand, CliUsageError } from './registry';
import { withErrors, apiKeyOf, loadWallet, NETWORK_HELP, networkOf, parseOptions, print, refuseSecretArgs, remoteChain } from './options';

const HELP = `Usage: cocoon deploy --params FILE [--measurement M]... [--model HASH|DIR]... [--auditor KEY]... [options]

Deploys the network's Root contract, owned by the governance wallet, with the params of FILE
(format of scripts/params/dev.json; validated before anything is sent, as Root validates it),
then allow-lists the given enclave measurements and models and enables the given auditors. Idempotent: a Root that already
exists for this owner and instance is reused (its params are left as they are: use the
setParams script to change them) and only the missing allow-list entries are sent.
Prints one JSON line: {"event":"deployed","root":...,"owner":...,"paramsVersion":...}.

Options:
  --params FILE        params file (TON amounts as strings, durations in seconds, shares in bps)
  --measurement M      allow an enclave measurement: 64 hex digits with ":tdx" or ":simulated"
                       (default simulated), or "image:NAME" for the simulated image NAME
  --model HASH|DIR     allow a model: its 64-hex-digit hash, or a model folder (hashed here)
  --auditor KEY        enable an auditor: its Ed25519 public key, 64 hex digits
  --mnemonic-file FILE the governance wallet's mnemonic file (chmod 600); default: the
                       ${DEFAULT_MNEMONIC_ENV} environment variable
  --wallet-version V   v4 (default) | v5r1
  --state-dir DIR      where the send journal is kept (default .cocoon-deploy): a re-run after a
                       crash never sends a message twice

${NETWORK_HELP}

Example:  COCOON_WALLET_MNEMONIC="$(cat gov.mnemonic)" cocoon deploy --params scripts/params/dev.json --network devnet \\
            --measurement image:cocoon-worker-dev --model ./models/tiny`;

async function measurementOf(text: string): Promise<{ measurement: bigint; teeType: bigint }> {
    if (text.startsWith('image:')) {
        const name = text.slice('image:'.length);
        if (!name) throw new CliUsageError('--measurement image:NAME needs an image name');
        return { measurement: BigInt('0x' + simulatedMeasurement(name).toString('hex')), teeType: TEE_SIMULATED };
    }
    const [hex, kind = 'simulated'] = text.split(':');
    if (kind !== 'tdx' && kind !== 'simulated') throw new CliUsageError(`--measurement type must be "tdx" or "simulated", got "${kind}"`);
    try {
        return { measurement: parseHash(hex, '--measurement'), teeType: kind === 'tdx' ? TEE_TDX : TEE_SIMULATED };
    } catch (error) {
        throw new CliUsageError((error as Error).message);
    }
}

async function modelOf(text: string): Promise<bigint> {
    if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) return parseHash(text, '--model');
    try {
        return BigInt('0x' + (await modelHashOfDir(resolve(text))));
    } catch (error) {
        throw new CliUsageError(`--model "${text}" is neither a 64-hex-digit hash nor a readable model folder (${(error as Error).message})`);
    }
}

export const deployCommand: CliCommand = {
    name: 'deploy',
    summary: 'deploy the Root contract with a params file and allow-list measurements and models',
    help: HELP,
    run: (args, io) =>
        withErrors(io, 'deploy', async () => {
            refuseSecretArgs(args);
            const { values } = parseOptions(args, {
                params: { type: 'string' },
                measurement: { type: 'string', multiple: true },
                model: { type: 'string', multiple: true },
            auditor: { type: 'string', multiple: true },
                'mnemonic-file': { type: 'string' },
                'wallet-version': { type: 'string' },
                'state-dir': { type: 'string' },
            });
            if (typeof values.params !== 'string') throw new CliUsageError('--params FILE is required (e.g. scripts/params/dev.json)');
            const network = networkOf(values.network) ?? 'devnet';
            const version = (values['wallet-version'] as string | undefined) ?? 'v4';
            if (version !== 'v4' && version !== 'v5r1') throw new CliUsageError(`--wallet-version must be v4 or v5r1, got "${version}"`);
            let file;
            try {
                file = readParamsFile(values.params);
            } catch (error) {
                if (error instanceof ScriptError) {
                    io.stderr(`cocoon deploy: ${error.message}`);
                    return 2;
                }
                throw error;
            }
            const measurements = await Promise.all(((values.measurement as string[] | undefined) ?? []).map(measurementOf));
            const models = await Promise.all(((values.model as string[] | undefined) ?? []).map(modelOf));
            const auditors = ((values.auditor as string[] | undefined) ?? []).map((key) => {
                try {
                    return parseHash(key, '--auditor');
                } catch (error) {
                    throw new CliUsageError((error as Error).message);
                }
            });
            const chain = remoteChain(network, values.endpoint as string | undefined, apiKeyOf(values, io.env), 'deploy');
            const wallet = await loadWallet({ file: values['mnemonic-file'] as string | undefined, envVar: DEFAULT_MNEMONIC_ENV }, { version }, io.env);
            const balance = (await chain.getAccount(wallet.address)).balance;
            if (balance < 2n * 10n ** 9n) {
                throw new Error(`the governance wallet ${wallet.address.toString()} holds ${fromNano(balance)} TON; deploying needs about 1.1 TON plus 0.05 TON per allow-list entry (on the devnet: POST /faucet)`);
            }
            const stateDir = resolve((values['state-dir'] as string | undefined) ?? '.cocoon-deploy');
            mkdirSync(stateDir, { recursive: true, mode: 0o700 });
            const store = JournalStore.open(join(stateDir, 'deploy.journal'));
            try {
                const sender = new IdempotentSender({ chain, wallet, store, pollIntervalMs: network === 'devnet' ? 200 : 2000 });
                await sender.resume();
                const expected = await rootFor(wallet.address, file.instance);
                const address = await deployDevRoot({ chain, sender, owner: wallet.address, params: file.params, instance: file.instance, measurements, models });
                const root = openOnChain(chain, Root.fromAddress(address));
                for (const key of auditors) {
                    if (await root.getIsAuditor(key)) continue;
                    const body = beginCell().store(storeAddAuditor({ $$type: 'AddAuditor', queryId: 0n, key })).endCell();
                    const outcome = await sender.send({ queryId: newQueryId(), messages: [internal({ to: address, value: GOVERNANCE_VALUE, bounce: true, body })] });
                    if (!outcome.succeeded || !(await root.getIsAuditor(key))) throw new Error(`Root did not enable auditor ${key.toString(16).padStart(64, '0')} (is this wallet its owner? is the auditor list full?)`);
                }
                const state = await root.getState();
                if (!state.configured) throw new Error(`Root at ${address.toString()} was deployed but refused the params`);
                print(io, {
                    event: 'deployed',
                    root: address.toString(),
                    expected: expected.address.toString(),
                    owner: wallet.address.toString(),
                    network,
                    instance: file.instance,
                    paramsVersion: state.paramsVersion,
                    measurements: measurements.map((m) => m.measurement.toString(16).padStart(64, '0')),
                    models: models.map((m) => m.toString(16).padStart(64, '0')),
                    auditors: auditors.map((k) => k.toString(16).padStart(64, '0')),
                });
                return 0;
            } finally {
                store.close();
            }
        }),
};

// The network commands' refusals, in-process (no chain needed): each bad input gets a message
// that names the problem, exit code 2 (usage or config) and nothing is sent, because the
// command stops before it opens a chain connection or loads a wallet. The happy paths run as
// real processes against the devnet in network.spec.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicNew } from '@ton/crypto';
import { main } from '../../agents/cli';
import { parseClientConfig } from '../../agents/cli/client-config';
import { CliIo } from '../../agents/cli/registry';
import { devAttestationPublicKey } from '../../agents/enclave/simulated';

function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env, signal: new AbortController().signal };
}

const ROOT = 'EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c';

describe('cocoon network commands: bad config and arguments', () => {
    let dir: string;
    let mnemonic: string;
    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-network-cli-'));
        mnemonic = (await mnemonicNew()).join(' ');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const file = (name: string, value: unknown) => {
        const path = join(dir, name);
        writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
        return path;
    };

    it('lists the new commands in the overview', async () => {
        const io = captureIo();
        expect(await main([], io)).toBe(0);
        const text = io.out.join('\n');
        for (const name of ['deploy', 'client chat', 'client serve', 'client channel open', 'client channel topup', 'client channel close', 'auditor start']) {
            expect(text).toMatch(new RegExp(`\\n  ${name} +\\S`));
        }
    });

    it('client config: every problem at once, each naming its field', () => {
        let message = '';
        try {
            parseClientConfig({ network: 'moon', root: 'nope', chain: { endpoint: 'ftp://x' }, autoDeposit: 5, workers: ['bad'], colour: 'red' }, { env: {} });
        } catch (error) {
            message = (error as Error).message;
            expect((error as Error).name).toBe('ClientConfigFileError');
        }
        expect(message).toMatch(/network: must be one of local, devnet, testnet, mainnet, got "moon"/);
        expect(message).toMatch(/root: must be a TON address/);
        expect(message).toMatch(/chain.endpoint: must be an http\(s\) URL/);
        expect(message).toMatch(/autoDeposit: must be a positive amount of TON as a string/);
        expect(message).toMatch(/workers\[0\]: must be a TON address/);
        expect(message).toMatch(/colour: unknown field/);
        expect(message).toMatch(/wallet: no mnemonic: set the COCOON_WALLET_MNEMONIC environment variable/);
    });

    it('client config: defaults, relative paths and the devnet attestation key', () => {
        const config = parseClientConfig({ root: ROOT, wallet: { mnemonicFile: 'client.mnemonic' }, autoDeposit: '2' }, { env: {}, baseDir: '/srv/client' });
        expect(config).toMatchObject({
            network: 'devnet',
            chain: { endpoint: 'http://127.0.0.1:8081/jsonRPC', minIntervalMs: 0 },
            wallet: { mnemonicFile: '/srv/client/client.mnemonic', mnemonicEnv: 'COCOON_WALLET_MNEMONIC', version: 'v4' },
            stateDir: '/srv/client/.cocoon-client',
            autoDeposit: 2_000_000_000n,
            fallback: { enabled: true, deadlineSeconds: 300 },
            server: { host: '127.0.0.1', port: 8787, apiKey: undefined },
        });
        expect(config.attestation.trustedSimulatedKeys).toEqual([devAttestationPublicKey()]);
        expect(config.attestation.refuseSimulated).toBe(false);
        // Testnet trusts no dev key by default; mainnet refuses simulated enclaves by default.
        const testnet = parseClientConfig({ network: 'testnet', root: ROOT }, { env: { COCOON_WALLET_MNEMONIC: mnemonic, COCOON_CLIENT_API_KEY: 'k' } });
        expect(testnet.attestation.trustedSimulatedKeys).toEqual([]);
        expect(testnet.chain).toMatchObject({ endpoint: 'https://testnet.toncenter.com/api/v2/jsonRPC', minIntervalMs: 1100 });
        expect(testnet.server.apiKey).toBe('k');
        expect(parseClientConfig({ network: 'mainnet', root: ROOT }, { env: { COCOON_WALLET_MNEMONIC: mnemonic } }).attestation.refuseSimulated).toBe(true);
        expect(() => parseClientConfig({ network: 'local', root: ROOT }, { env: { COCOON_WALLET_MNEMONIC: mnemonic } })).toThrow(/cannot reach network "local"/);
    });

    it('client commands: unreadable config, missing mnemonic, bad address, unknown network, secrets on argv', async () => {
        const missing = captureIo();
        expect(await main(['client', 'chat', '--config', join(dir, 'absent.json'), '--model', 'm', 'hi'], missing)).toBe(2);
        expect(missing.err.join('\n')).toMatch(/absent.json has 1 problem:\n  - \(file\): does not exist/);

        const notJson = captureIo();
        expect(await main(['client', 'serve', '--config', file('broken.json', '{"root": ')], notJson)).toBe(2);
        expect(notJson.err.join('\n')).toMatch(/\(file\): is not valid JSON/);

        const good = file('client.json', { network: 'devnet', root: ROOT });
        const noMnemonic = captureIo({});
        expect(await main(['client', 'channel', 'open', '--config', good, '--worker', ROOT, '--deposit', '2'], noMnemonic)).toBe(2);
        expect(noMnemonic.err.join('\n')).toMatch(/wallet: no mnemonic: set the COCOON_WALLET_MNEMONIC environment variable/);

        const badWorker = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['client', 'channel', 'open', '--config', good, '--worker', 'EQnope', '--deposit', '2'], badWorker)).toBe(2);
        expect(badWorker.err.join('\n')).toMatch(/--worker "EQnope" is not a TON address/);

        const badAmount = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['client', 'channel', 'topup', '--config', good, '--channel', ROOT, '--amount', 'lots'], badAmount)).toBe(2);
        expect(badAmount.err.join('\n')).toMatch(/--amount must be a positive amount of TON/);

        const network = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['client', 'chat', '--config', good, '--network', 'moon', '--model', 'm', 'hi'], network)).toBe(2);
        expect(network.err.join('\n')).toMatch(/--network must be one of local, devnet, testnet, mainnet, got "moon"/);

        const local = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['client', 'chat', '--config', good, '--network', 'local', '--model', 'm', 'hi'], local)).toBe(2);
        expect(local.err.join('\n')).toMatch(/cannot reach network "local"/);

        const secret = captureIo({});
        expect(await main(['client', 'chat', '--config', good, `--mnemonic=${mnemonic}`, '--model', 'm', 'hi'], secret)).toBe(2);
        const printed = secret.err.join('\n');
        expect(printed).toMatch(/--mnemonic is not accepted: secrets never go on the command line/);
        expect(printed).not.toContain(mnemonic.split(' ')[3]);

        const noPrompt = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['client', 'chat', '--config', good, '--model', 'm'], noPrompt)).toBe(2);
        expect(noPrompt.err.join('\n')).toMatch(/give exactly one PROMPT/);
    });

    it('deploy: bad params file, bad measurement, local network, no mnemonic, unreadable mnemonic file', async () => {
        const params = file('params.json', { instance: 0, params: { minWorkerStake: '10' } });
        const bad = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['deploy', '--params', params], bad)).toBe(2);
        expect(bad.err.join('\n')).toMatch(/params.json params: missing field "unbondingDelay"/);

        const unreadable = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['deploy', '--params', join(dir, 'none.json')], unreadable)).toBe(2);
        expect(unreadable.err.join('\n')).toMatch(/cannot read params file .*none.json/);

        const dev = join(__dirname, '..', '..', 'scripts', 'params', 'dev.json');
        const measurement = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['deploy', '--params', dev, '--measurement', 'abc:sgx'], measurement)).toBe(2);
        expect(measurement.err.join('\n')).toMatch(/--measurement type must be "tdx" or "simulated", got "sgx"/);

        const local = captureIo({ COCOON_WALLET_MNEMONIC: mnemonic });
        expect(await main(['deploy', '--params', dev, '--network', 'local'], local)).toBe(2);
        expect(local.err.join('\n')).toMatch(/network "local" is an in-process chain/);

        const noWallet = captureIo({});
        expect(await main(['deploy', '--params', dev, '--endpoint', 'http://127.0.0.1:9/jsonRPC'], noWallet)).toBe(2);
        expect(noWallet.err.join('\n')).toMatch(/no wallet mnemonic: set the COCOON_WALLET_MNEMONIC environment variable/);

        const short = file('short.mnemonic', 'one two three');
        chmodSync(short, 0o600);
        const badFile = captureIo({});
        expect(await main(['deploy', '--params', dev, '--endpoint', 'http://127.0.0.1:9/jsonRPC', '--mnemonic-file', short], badFile)).toBe(2);
        expect(badFile.err.join('\n')).toMatch(/mnemonic file .*short.mnemonic must hold 24 words, it holds 3/);
    });

    it('auditor start: bad config, bad port, no config', async () => {
        const bad = captureIo({});
        expect(await main(['auditor', 'start', '--config', file('auditor.json', { network: 'devnet', root: 'nope' })], bad)).toBe(2);
        const text = bad.err.join('\n');
        expect(text).toMatch(/root: must be the Root contract's address/);
        expect(text).toMatch(/COCOON_WALLET_MNEMONIC/);

        const port = captureIo({});
        expect(await main(['auditor', 'start', '--config', file('auditor.json', {}), '--port', '99999'], port)).toBe(2);
        expect(port.err.join('\n')).toMatch(/--port must be 0\.\.65535, got "99999"/);

        const noConfig = captureIo({});
        expect(await main(['auditor', 'start'], noConfig)).toBe(2);
        expect(noConfig.err.join('\n')).toMatch(/--config FILE is required/);
    });
});

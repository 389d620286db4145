import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { loadWorkerConfig, parseWorkerConfig } from './config';
import { WorkerConfigError } from './errors';

const ROOT = new Address(0, Buffer.alloc(32, 7)).toString();
const minimal = (extra: Record<string, unknown> = {}) => ({
    network: 'devnet',
    root: ROOT,
    model: { engine: 'embedded', path: 'models/tiny' },
    prices: { prompt: '1000', completion: '2000' },
    ...extra,
});
const env = { COCOON_WALLET_MNEMONIC: 'words are checked when the wallet loads' };

function issuesOf(raw: unknown, e: NodeJS.ProcessEnv = env): string[] {
    try {
        parseWorkerConfig(raw, { env: e });
    } catch (error) {
        expect(error).toBeInstanceOf(WorkerConfigError);
        return (error as WorkerConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error('the config was accepted');
}

describe('worker config', () => {
    it('fills every default from a minimal devnet config', () => {
        const config = parseWorkerConfig(minimal(), { env, baseDir: '/srv/worker' });
        expect(config.network).toBe('devnet');
        expect(config.chain.endpoint).toBe('http://127.0.0.1:8081/jsonRPC');
        expect(config.root!.equals(Address.parse(ROOT))).toBe(true);
        expect(config.slot).toBe(0n);
        expect(config.dataDir).toBe('/srv/worker/.cocoon-worker');
        expect(config.model).toEqual({ engine: 'embedded', path: '/srv/worker/models/tiny', name: undefined, device: 'cpu', threads: undefined });
        expect(config.prices).toEqual({ prompt: 1000n, completion: 2000n });
        expect(config.enclave.type).toBe('simulated');
        expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8090, publicUrl: undefined });
        expect(config.registration).toMatchObject({ auto: true, stake: toNano('10'), capacity: 4 });
        expect(config.settlement.minAmount).toBe(toNano('1'));
        expect(config.limits).toMatchObject({ maxConcurrentJobs: 1, maxQueuedJobs: 16 });
    });

    it('reports every problem of one file at once, each naming its field', () => {
        const issues = issuesOf({
            network: 'moon',
            root: 'not-an-address',
            slot: -1,
            model: { engine: 'embedded', path: 'm', baseUrl: 'http://x' },
            prices: { prompt: '1.5', completion: 'cheap' },
            http: { port: 70000, publicUrl: 'ftp://x' },
            limits: { maxConcurrentJobs: 0 },
            registration: { stake: 10 },
            colour: 'blue',
        });
        const paths = issues.map((i) => i.split(':')[0]);
        expect(paths).toEqual(
            expect.arrayContaining([
                'network',
                'root',
                'slot',
                'model.baseUrl',
                'prices.prompt',
                'prices.completion',
                'http.port',
                'http.publicUrl',
                'limits.maxConcurrentJobs',
                'registration.stake',
                'colour',
            ]),
        );
        expect(issues.find((i) => i.startsWith('network'))).toMatch(/one of local, devnet, testnet, mainnet/);
        expect(issues.find((i) => i.startsWith('colour'))).toMatch(/unknown field/);
        expect(issues.find((i) => i.startsWith('registration.stake'))).toMatch(/TON as a string/);
    });

    it('asks for a wallet when neither a mnemonic file nor the environment variable is there', () => {
        expect(issuesOf(minimal(), {})).toEqual([expect.stringMatching(/^wallet: no wallet: set the environment variable COCOON_WALLET_MNEMONIC/)]);
        expect(() => parseWorkerConfig(minimal({ wallet: { mnemonicFile: 'keys/words' } }), { env: {} })).not.toThrow();
    });

    it('refuses a simulated enclave and plain http on mainnet', () => {
        const issues = issuesOf(minimal({ network: 'mainnet', enclave: { type: 'simulated' }, chain: { endpoint: 'http://rpc.example/jsonRPC' } }));
        expect(issues).toEqual(
            expect.arrayContaining([expect.stringMatching(/^enclave.type: a simulated enclave gives no confidentiality/), expect.stringMatching(/^chain.endpoint: must use https on mainnet/)]),
        );
    });

    it('reads secrets from the environment only, and spaces keyless toncenter requests', () => {
        const seal = 'ab'.repeat(32);
        const config = parseWorkerConfig(minimal({ network: 'testnet' }), { env: { ...env, TONCENTER_API_KEY: 'k-123', COCOON_SEAL_KEY: seal } });
        expect(config.chain.apiKey).toBe('k-123');
        expect(config.chain.endpoint).toBe('https://testnet.toncenter.com/api/v2/jsonRPC');
        expect(config.chain.minIntervalMs).toBe(0);
        expect(config.enclave.sealKey).toEqual(Buffer.from(seal, 'hex'));
        expect(parseWorkerConfig(minimal({ network: 'testnet' }), { env }).chain.minIntervalMs).toBe(1100);
        expect(issuesOf(minimal(), { ...env, COCOON_SEAL_KEY: 'short' })).toEqual([expect.stringMatching(/^enclave.sealKeyEnv: environment variable COCOON_SEAL_KEY must hold 64 hex digits/)]);
    });

    it('lets the command line override the network, endpoint and API key', () => {
        const config = parseWorkerConfig(minimal(), { env, overrides: { network: 'testnet', endpoint: 'https://rpc.example/jsonRPC', apiKey: 'from-flag' } });
        expect(config.network).toBe('testnet');
        expect(config.chain).toMatchObject({ endpoint: 'https://rpc.example/jsonRPC', apiKey: 'from-flag' });
        expect(issuesOf(minimal({ chain: { endpoint: 'http://x/jsonRPC' }, network: 'local' }))).toEqual([expect.stringMatching(/^chain.endpoint: network "local" is the in-process chain/)]);
    });

    it('an OpenAI-compatible backend needs exactly one of modelDir or manifestFile', () => {
        const backend = (m: Record<string, unknown>) => minimal({ model: { engine: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', model: 'm', ...m } });
        expect(issuesOf(backend({}))).toEqual([expect.stringMatching(/^model: set exactly one of modelDir/)]);
        expect(parseWorkerConfig(backend({ modelDir: '/models/m' }), { env }).model).toMatchObject({ engine: 'openai-compatible', modelDir: '/models/m' });
    });

    it('names the file and the JSON error when the file cannot be used', () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-config-'));
        try {
            expect(() => loadWorkerConfig(join(dir, 'missing.json'), env)).toThrow(/missing.json has 1 problem:\n {2}- \(file\): does not exist/);
            writeFileSync(join(dir, 'bad.json'), '{"network": ');
            expect(() => loadWorkerConfig(join(dir, 'bad.json'), env)).toThrow(/is not valid JSON/);
            writeFileSync(join(dir, 'ok.json'), JSON.stringify(minimal({ dataDir: 'state' })));
            expect(loadWorkerConfig(join(dir, 'ok.json'), env).dataDir).toBe(join(dir, 'state'));
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

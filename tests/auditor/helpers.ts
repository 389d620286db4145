// Test harness of the auditor agent: the worker agent's sandbox world (real Root, Worker and
// Channel contracts, the real tiny model, funded wallets) plus auditor agents configured like
// `cocoon auditor start` would configure them.
import { Address, toNano } from '@ton/core';
import { AuditorDeps, AuditorHandle, startAuditor } from '../../agents/auditor/agent';
import { AuditorConfig, parseAuditorConfig } from '../../agents/auditor/config';
import { Wallet } from '../../agents/chain/wallet';
import { Ed25519KeyPair } from '../../agents/core/ed25519';
import { silentLogger } from '../../agents/worker/logger';
import { Worker, WorkerInfo } from '../../wrappers';
import { SandboxWorld, TINY_MODEL_DIR } from '../worker-agent/helpers';

export const FAST_SENDER = { pollIntervalMs: 5, rebroadcastIntervalMs: 50, retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 } };

export function auditorConfig(world: SandboxWorld, dataDir: string, keys: Ed25519KeyPair[], overrides: Record<string, unknown> = {}): AuditorConfig {
    const base: Record<string, unknown> = {
        network: 'local',
        root: world.net.root.address.toString(),
        dataDir,
        http: { port: 0 },
        watcher: { pollIntervalMs: 50 },
        attestation: { retryIntervalMs: 10, fetchTimeoutMs: 2_000 },
        model: { path: TINY_MODEL_DIR },
        logLevel: 'warn',
    };
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(overrides)) {
        merged[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? { ...(base[k] as object), ...(v as object) } : v;
    }
    return parseAuditorConfig(merged, { env: { COCOON_AUDITOR_SEEDS: keys.map((k) => k.seed.toString('hex')).join(',') } });
}

/** Starts an auditor on the world's chain, driven by `tick()` (no polling loop). */
export function startAuditorOn(world: SandboxWorld, config: AuditorConfig, wallet: Wallet, extra: Partial<AuditorDeps> = {}): Promise<AuditorHandle> {
    return startAuditor(config, { chain: world.chain, wallet, engine: world.engine, log: silentLogger, senderOptions: FAST_SENDER, manual: true, ...extra });
}

export async function workerInfo(world: SandboxWorld, worker: Address): Promise<WorkerInfo> {
    return world.net.blockchain.openContract(Worker.fromAddress(worker)).getInfo();
}

export async function balanceOf(world: SandboxWorld, address: Address): Promise<bigint> {
    return (await world.net.blockchain.getContract(address)).balance;
}

/** Transactions the sandbox ran since `since` (an index into its transaction list). */
export function walletSeqno(world: SandboxWorld, wallet: Wallet): Promise<number> {
    return wallet.getSeqno(world.chain);
}

export const VERDICT_VALUE = toNano('0.1');

/** A TCP port that was free a moment ago (the worker's endpoint must be known before it registers). */
export async function freePort(): Promise<number> {
    const { createServer } = await import('node:net');
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const port = (server.address() as { port: number }).port;
            server.close(() => resolve(port));
        });
    });
}

/** Serves `body` as GET /v1/attestation on 127.0.0.1 (a worker endpoint whose answer a test controls). */
export async function evidenceServer(body: () => unknown, port = 0): Promise<{ url: string; close(): Promise<void> }> {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
        if (req.url === '/v1/attestation' && req.method === 'GET') {
            const text = JSON.stringify(body());
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(text);
            return;
        }
        res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    const address = server.address() as { port: number };
    return {
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

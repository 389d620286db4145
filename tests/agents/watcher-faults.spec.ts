import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Address, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Watcher } from '../../agents/chain/watcher';
import { Wallet } from '../../agents/chain/wallet';
import { JournalStore } from '../../agents/store/store';
import { DevnetProcess, faucet, startDevnet } from './helpers/devnet-process';
import { commentDecoder, sendComments } from './helpers/events';
import { Fault, FaultProxy } from './helpers/fault-proxy';
import { REPO_ROOT } from './helpers/fixtures';

jest.setTimeout(180_000);

describe('watcher against the devnet under injected faults', () => {
    let dir: string;
    let devnet: DevnetProcess;
    let proxy: FaultProxy;
    let proxyUrl: string;
    let direct: ToncenterChain;
    let source: Wallet;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-watch-fi-'));
        devnet = await startDevnet({ dataDir: join(dir, 'devnet') });
        proxy = new FaultProxy(devnet.url, 7);
        proxyUrl = await proxy.start();
        direct = new ToncenterChain({ endpoint: devnet.jsonRpc });
        source = await Wallet.fromMnemonic(await mnemonicNew(), { version: 'v5r1' });
        await faucet(devnet.url, source.address.toString(), toNano('500'));
    });
    afterAll(async () => {
        await proxy?.close();
        await devnet?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    /** Every effect exactly once: one key per event, and a delivery counter equal to the number of events. */
    function expectExactlyOnce(store: JournalStore, texts: string[]): void {
        expect(store.keys('effects/')).toEqual(texts.map((t) => `effects/${t}`).sort());
        expect(store.get('count')).toBe(texts.length);
    }

    it('retries through 429, 5xx, timeouts and dropped connections, tolerates repeated and reordered page items, and delivers each event once', async () => {
        const target = new Address(0, Buffer.alloc(32, 0x61));
        const texts = Array.from({ length: 30 }, (_, i) => `fi-${String(i).padStart(2, '0')}`);
        await sendComments(direct, source, target, texts);

        const faults: (Fault | undefined)[] = [
            { kind: 'error', status: 429 },
            { kind: 'duplicate-items' },
            { kind: 'delay', ms: 900 },
            { kind: 'error', status: 502 },
            { kind: 'shuffle-items' },
            { kind: 'error', status: 503 },
            undefined,
            { kind: 'hang-up' },
            { kind: 'duplicate-items' },
        ];
        proxy.plan = (r) => (r.method === 'getTransactions' ? faults[r.nth % faults.length] : undefined);

        const store = JournalStore.open(join(dir, 'fi.journal'));
        const retries: string[] = [];
        const watcher = new Watcher({
            chain: new ToncenterChain({ endpoint: `${proxyUrl}/jsonRPC`, timeoutMs: 400 }),
            store,
            accounts: [target],
            decoder: commentDecoder,
            pageSize: 4,
            pollIntervalMs: 50,
            retry: { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 8 },
            log: (entry) => entry.event === 'chain-retry' && retries.push(String(entry.error)),
            handler: ({ event, tx }, effects) => {
                effects.put(`effects/${event.text}`, tx.lt);
                effects.put('count', (effects.get<number>('count') ?? 0) + 1);
            },
        });
        const waitForCount = async (n: number) => {
            const deadline = Date.now() + 60_000;
            while ((store.get<number>('count') ?? 0) < n) {
                if (Date.now() > deadline) throw new Error(`watcher delivered ${store.get('count')} of ${n}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        };
        watcher.start();
        try {
            await waitForCount(30);
            const more = Array.from({ length: 10 }, (_, i) => `fi-more-${i}`);
            await sendComments(direct, source, target, more);
            await waitForCount(40);
            await new Promise((r) => setTimeout(r, 300)); // a few more polls must not deliver anything again
            expectExactlyOnce(store, [...texts, ...more]);
        } finally {
            await watcher.stop();
            store.close();
        }
        for (const kind of ['error', 'duplicate-items', 'delay', 'shuffle-items', 'hang-up'] as const) {
            expect(proxy.faultsInjected(kind, 'getTransactions')).toBeGreaterThan(0);
        }
        expect(retries.some((e) => /429/.test(e))).toBe(true);
        expect(retries.some((e) => /50[23]/.test(e))).toBe(true);
        expect(retries.some((e) => /timed out|timeout|ECONNABORTED/i.test(e))).toBe(true);
    });

    it('resumes after kill -9 of the watcher process, at any point, without missing or repeating an event', async () => {
        const target = new Address(0, Buffer.alloc(32, 0x62));
        const texts = Array.from({ length: 40 }, (_, i) => `k9-${String(i).padStart(2, '0')}`);
        await sendComments(direct, source, target, texts);
        // Faults on top: the restarted watchers also have to page through errors and repeats.
        proxy.plan = (r) => (r.method === 'getTransactions' && r.nth % 4 === 1 ? { kind: 'duplicate-items' } : r.nth % 7 === 3 ? { kind: 'error', status: 503 } : undefined);
        const storePath = join(dir, 'k9.journal');

        const startChild = (): { child: ChildProcess; handled: string[]; done: Promise<boolean> } => {
            const child = spawn(process.execPath, ['-e', `require('tsx/cjs'); require(${JSON.stringify(join(REPO_ROOT, 'tests/agents/helpers/watcher-child.ts'))});`], {
                cwd: REPO_ROOT,
                env: { ...process.env, ENDPOINT: `${proxyUrl}/jsonRPC`, STORE: storePath, TARGET: target.toString(), EXPECTED: String(texts.length), HANDLER_DELAY_MS: '25' },
                stdio: ['ignore', 'pipe', 'inherit'],
            });
            const handled: string[] = [];
            let sawDone = false;
            createInterface({ input: child.stdout! }).on('line', (line) => {
                if (line.startsWith('handling ')) handled.push(line.slice(9));
                if (line === 'done') sawDone = true;
            });
            const done = new Promise<boolean>((resolve) => child.once('exit', () => resolve(sawDone)));
            return { child, handled, done };
        };
        const committedPrefix = () => {
            const store = JournalStore.open(storePath);
            try {
                const count = store.get<number>('count') ?? 0;
                // Exactly the first `count` events, each once: no gap, no repeat.
                expectExactlyOnce(store, texts.slice(0, count));
                return count;
            } finally {
                store.close();
            }
        };

        let committed = 0;
        for (const killAfter of [3, 9, 6]) {
            const run = startChild();
            while (run.handled.length < killAfter) {
                if (run.child.exitCode !== null) throw new Error('watcher child exited early');
                await new Promise((r) => setTimeout(r, 5));
            }
            run.child.kill('SIGKILL');
            await run.done;
            const now = committedPrefix();
            expect(now).toBeGreaterThanOrEqual(committed);
            // Killed mid-batch: the event being handled was not committed, and will be redelivered.
            expect(now).toBeLessThan(texts.length);
            committed = now;
        }
        const last = startChild();
        expect(await last.done).toBe(true);
        expect(committedPrefix()).toBe(texts.length);
    });
});

/**
 * The agents as separate processes, the way they run: `cocoon devnet`, `cocoon worker start`
 * (against the devnet) and the client's OpenAI-compatible server (bench/roles/client-server.ts),
 * each its own process so that its RSS is its own. Measures, in one run:
 *   - the fast path's overhead: the same requests to the same backend, sent directly and through
 *     client SDK → worker agent (encryption, receipt, journal, voucher); latency ratio and
 *     throughput-at-saturation ratio, in interleaved rounds;
 *   - peak memory (VmHWM, and VmRSS sampled every 100 ms) of each process;
 *   - whether memory stays flat over many fast-path requests (heap and RSS after a forced GC,
 *     sampled through bench/roles/gc-hook.js, and their least-squares slope).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Address, toNano } from '@ton/core';
import { IdempotentSender } from '../agents/chain/sender';
import { ToncenterChain } from '../agents/chain/toncenter';
import { Wallet } from '../agents/chain/wallet';
import { simulatedMeasurement } from '../agents/enclave/binding';
import { EmbeddedEngine } from '../agents/inference/embedded';
import { computeManifest, modelHashToUint256 } from '../agents/inference/model-identity';
import { FakeOpenAIServer } from '../agents/inference/testing/fake-openai-server';
import { ensureTinyModel } from '../agents/inference/testing/tiny-model';
import { JournalStore } from '../agents/store/store';
import { deployDevRoot } from '../agents/worker/dev-network';
import { Channel, channelFor, TEE_SIMULATED } from '../wrappers';
import { openOnChain } from '../agents/worker/chain-access';
import { REPO_ROOT } from './lib/floor';
import { median, medianCi, slope, summary } from './lib/stats';
import { freePort, walletWithMnemonicFile as mnemonicWallet } from '../tests/helpers/process-fixtures';

const TINY_MODEL_DIR = join(REPO_ROOT, 'models', 'tiny');
const GC_HOOK = join(REPO_ROOT, 'bench', 'roles', 'gc-hook.js');
const MESSAGES = [{ role: 'user', content: 'hi' }];

export interface StackOptions {
    /** Interleaved rounds of the latency comparison. */
    latencyRounds: number;
    /** Sequential requests per path per round. */
    perBlock: number;
    /** Rounds of the saturation comparison, and seconds per path per round. */
    throughputRounds: number;
    throughputSeconds: number;
    concurrency: number;
    /** Fast-path requests of the memory-leak run, and its time cap (seconds; it stops at whichever comes first). */
    leakRequests: number;
    leakSeconds: number;
    /** The fixed-pace backend: characters (= chunks = tokens) of its answer, and ms between chunks. */
    answerChars: number;
    chunkDelayMs: number;
    /** The same backend at a chat model's streaming pace: tokens of its answer and ms between them. */
    pacedTokens: number;
    pacedDelayMs: number;
    /** max_tokens of the tiny-model requests. */
    tinyMaxTokens: number;
    log: (line: string) => void;
}

export interface PathComparison {
    backend: string;
    directMedianMs: number;
    agentMedianMs: number;
    directP10Ms: number;
    agentP10Ms: number;
    latencyRatio: number;
    latencyRatioCi: [number, number];
    directRps: number;
    agentRps: number;
    throughputRatio: number;
    throughputRatioRange: [number, number];
    requests: number;
    /** Median of the client's own `client-job-done` ms (worker round trip, receipt check, voucher signed), over the latency rounds. */
    clientJobMs?: number;
    /** Requests the worker refused at saturation because the client's vouchers lagged (HTTP 402). */
    creditRefusals: number;
}

export interface MemoryFigure {
    process: string;
    hwmMiB: number;
    maxSampledRssMiB: number;
    budgetMiB: number;
}

export interface LeakFigure {
    process: string;
    requests: number;
    points: { requests: number; heapMiB: number; rssMiB: number }[];
    heapSlopeBytesPerRequest: number;
    rssSlopeBytesPerRequest: number;
    heapGrowthMiB: number;
    rssGrowthMiB: number;
}

export interface StackReport {
    fake: PathComparison;
    paced: PathComparison;
    tiny: PathComparison;
    memory: MemoryFigure[];
    leak: LeakFigure[];
    leakSeconds: number;
    leakWarmup: { requests: number; seconds: number };
    /** Median time of getAccount + (getState ‖ getTerms) of the channel, from the bench process to the devnet. */
    chainReadMs: number;
    leakTarget: number;
    leakRefusals: number;
    scenario: string;
}

interface Proc {
    name: string;
    child: ChildProcess;
    ready: Record<string, any>;
    stderr: string[];
    heapFile: string;
    exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
});

function spawnRole(name: string, args: string[], env: NodeJS.ProcessEnv, readyEvent: string, heapFile: string, timeoutMs = 180_000): Promise<Proc> {
    const child = spawn(process.execPath, ['--expose-gc', '-r', GC_HOOK, ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, BENCH_HEAP_FILE: heapFile },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const stderr: string[] = [];
    child.stderr!.on('data', (c) => {
        stderr.push(String(c));
        if (stderr.length > 200) stderr.splice(0, 100);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    void exited.then(() => running.delete(child));
    const lines = createInterface({ input: child.stdout! });
    return new Promise<Proc>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready in ${timeoutMs / 1000} s:\n${stderr.join('')}`)), timeoutMs);
        lines.on('line', (line) => {
            try {
                const event = JSON.parse(line);
                if (event.event === readyEvent) {
                    clearTimeout(timer);
                    resolve({ name, child, ready: event, stderr, heapFile, exited });
                }
            } catch {
                /* not JSON */
            }
        });
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited with ${code} before ready:\n${stderr.join('')}`));
        });
    });
}

async function stopRole(p: Proc): Promise<void> {
    p.child.kill('SIGTERM');
    const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') {
        p.child.kill('SIGKILL');
        await p.exited;
    }
}

/** VmRSS and VmHWM of a process, MiB (from /proc/<pid>/status). */
function memoryOf(pid: number): { rss: number; hwm: number } {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

class RssSampler {
    readonly max = new Map<string, number>();
    readonly hwm = new Map<string, number>();
    private timer: NodeJS.Timeout;
    private readonly procs = new Map<string, Proc>();

    constructor() {
        this.timer = setInterval(() => this.sample(), 100);
    }

    watch(label: string, p: Proc): void {
        this.procs.set(label, p);
    }

    /** Reads every watched process now (also call before stopping one: VmHWM dies with it). */
    sample(): void {
        for (const [label, p] of this.procs) {
            if (p.child.exitCode !== null || p.child.pid === undefined) continue;
            try {
                const m = memoryOf(p.child.pid);
                if (!Number.isFinite(m.rss) || !Number.isFinite(m.hwm)) continue; // a zombie has no Vm* lines
                this.max.set(label, Math.max(this.max.get(label) ?? 0, m.rss));
                this.hwm.set(label, Math.max(this.hwm.get(label) ?? 0, m.hwm));
            } catch {
                /* exited between the check and the read */
            }
        }
    }

    stop(): void {
        clearInterval(this.timer);
    }
}

/** Forces a GC in the process (gc-hook.js) and returns its heap and RSS after it, MiB. */
async function heapAfterGc(p: Proc): Promise<{ heapMiB: number; rssMiB: number }> {
    const before = existsSync(p.heapFile) ? readFileSync(p.heapFile, 'utf8').split('\n').filter(Boolean).length : 0;
    p.child.kill('SIGUSR2');
    for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const lines = existsSync(p.heapFile) ? readFileSync(p.heapFile, 'utf8').split('\n').filter(Boolean) : [];
        if (lines.length > before) {
            const last = JSON.parse(lines[lines.length - 1]) as { heapUsed: number; rss: number; gc: boolean };
            if (!last.gc) throw new Error(`${p.name}: global.gc is not exposed`);
            return { heapMiB: last.heapUsed / 2 ** 20, rssMiB: last.rss / 2 ** 20 };
        }
    }
    throw new Error(`${p.name}: no heap report after SIGUSR2`);
}

/** The `ms` of every `client-job-done` event the client server logged (bench/roles/client-server.ts). */
function jobTimes(file: string): number[] {
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; ms?: number })
        .filter((e) => e.event === 'client-job-done' && typeof e.ms === 'number')
        .map((e) => e.ms!);
}

async function faucet(devnetUrl: string, address: string, amount: bigint): Promise<void> {
    const res = await fetch(`${devnetUrl}/faucet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, amount: amount.toString() }) });
    const body = (await res.json()) as { ok: boolean; error?: string };
    if (!body.ok) throw new Error(`faucet refused: ${body.error}`);
}

type Request = () => Promise<string>;

// The load generator's own cost should be small next to what it measures: node:http with kept-alive
// connections costs about 0.5 ms less CPU per request than fetch (undici) on this machine.
const keepAlive = new http.Agent({ keepAlive: true });

/** One POST /v1/chat/completions (non-streaming); returns the answer's text, throws on any non-200. */
function chatRequest(apiBase: string, model: string, maxTokens: number): Request {
    const body = Buffer.from(JSON.stringify({ model, messages: MESSAGES, max_tokens: maxTokens }));
    const url = `${apiBase.replace(/\/$/, '')}/chat/completions`;
    return () =>
        new Promise<string>((resolve, reject) => {
            const req = http.request(url, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
                const parts: Buffer[] = [];
                res.on('data', (chunk: Buffer) => parts.push(chunk));
                res.on('error', reject);
                res.on('end', () => {
                    const text = Buffer.concat(parts).toString('utf8');
                    if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
                    try {
                        resolve((JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0].message.content);
                    } catch (error) {
                        reject(error);
                    }
                });
            });
            req.on('error', reject);
            req.end(body);
        });
}

async function timed(fn: Request): Promise<number> {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
}

/** Refusals the worker gives a client that runs ahead of its vouchers (HTTP 402, relayed as 502). */
const refusals = { count: 0 };
function isCreditRefusal(error: unknown): boolean {
    return error instanceof Error && /payment_required/.test(error.message);
}

/** Closed loop at `concurrency` for `seconds`: answered requests per second (credit refusals counted apart). */
async function saturate(fn: Request, concurrency: number, seconds: number): Promise<number> {
    const end = performance.now() + seconds * 1000;
    let done = 0;
    const t0 = performance.now();
    await Promise.all(
        Array.from({ length: concurrency }, async () => {
            while (performance.now() < end) {
                try {
                    await fn();
                    done++;
                } catch (error) {
                    if (!isCreditRefusal(error)) throw error;
                    refusals.count++;
                    await new Promise((r) => setTimeout(r, 5));
                }
            }
        }),
    );
    return done / ((performance.now() - t0) / 1000);
}

/**
 * Direct vs through the agents, in rounds whose order alternates (direct first on even rounds,
 * agent first on odd ones), so drift and other tenants' load fall on both paths alike.
 */
/**
 * `jobLog` lists the client's `client-job-done` times so far: the comparison keeps those of its
 * latency rounds (sequential requests, as the latency medians), not those of the saturation runs.
 */
async function compare(backend: string, direct: Request, agent: Request, o: StackOptions, jobLog?: () => number[]): Promise<PathComparison> {
    const [a, b] = [await direct(), await agent()];
    if (a !== b) throw new Error(`${backend}: the paths answer differently: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    for (let i = 0; i < 5; i++) {
        await direct();
        await agent();
    }
    const directMs: number[] = [];
    const agentMs: number[] = [];
    const ratios: number[] = [];
    const jobsBefore = jobLog?.().length ?? 0;
    for (let r = 0; r < o.latencyRounds; r++) {
        const block = async (fn: Request, into: number[]) => {
            const times: number[] = [];
            for (let i = 0; i < o.perBlock; i++) times.push(await timed(fn));
            into.push(...times);
            return median(times);
        };
        let d: number;
        let g: number;
        if (r % 2 === 0) {
            d = await block(direct, directMs);
            g = await block(agent, agentMs);
        } else {
            g = await block(agent, agentMs);
            d = await block(direct, directMs);
        }
        ratios.push(g / d);
    }
    const latencyJobs = jobLog?.().slice(jobsBefore) ?? [];
    const tput: number[] = [];
    refusals.count = 0;
    let directRps = 0;
    let agentRps = 0;
    for (let r = 0; r < o.throughputRounds; r++) {
        let d: number;
        let g: number;
        if (r % 2 === 0) {
            d = await saturate(direct, o.concurrency, o.throughputSeconds);
            g = await saturate(agent, o.concurrency, o.throughputSeconds);
        } else {
            g = await saturate(agent, o.concurrency, o.throughputSeconds);
            d = await saturate(direct, o.concurrency, o.throughputSeconds);
        }
        directRps += d / o.throughputRounds;
        agentRps += g / o.throughputRounds;
        tput.push(g / d);
    }
    const ds = summary(directMs);
    const gs = summary(agentMs);
    o.log(`${backend}: latency ratio ${median(ratios).toFixed(3)}, throughput ratio ${median(tput).toFixed(3)}`);
    return {
        backend,
        directMedianMs: ds.median,
        agentMedianMs: gs.median,
        directP10Ms: ds.p10,
        agentP10Ms: gs.p10,
        latencyRatio: median(ratios),
        latencyRatioCi: medianCi(ratios),
        directRps,
        agentRps,
        throughputRatio: median(tput),
        throughputRatioRange: [Math.min(...tput), Math.max(...tput)],
        requests: directMs.length + agentMs.length,
        creditRefusals: refusals.count,
        clientJobMs: latencyJobs.length > 0 ? median(latencyJobs) : undefined,
    };
}

export async function measureStack(o: StackOptions): Promise<StackReport> {
    await ensureTinyModel(TINY_MODEL_DIR);
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-bench-'));
    const sampler = new RssSampler();
    const procs: Proc[] = [];
    let backend: FakeOpenAIServer | undefined;
    let engine: EmbeddedEngine | undefined;
    try {
        o.log('starting the devnet');
        const devnet = await spawnRole('devnet', [join(REPO_ROOT, 'bin', 'cocoon.js'), 'devnet', '--port', '0', '--data', join(dir, 'devnet')], {}, 'listening', join(dir, 'devnet.heap'));
        procs.push(devnet);
        sampler.watch('devnet', devnet);
        const devnetUrl = String(devnet.ready.url);
        const endpoint = String(devnet.ready.jsonRpc);
        const chain = new ToncenterChain({ endpoint });

        const modelHash = (await computeManifest(TINY_MODEL_DIR)).hash;
        const governance = await mnemonicWallet(dir, 'governance');
        await faucet(devnetUrl, governance.wallet.address.toString(), toNano('100'));
        const govStore = JournalStore.open(join(dir, 'governance.journal'));
        const root = await deployDevRoot({
            chain,
            sender: new IdempotentSender({ chain, wallet: governance.wallet, store: govStore, pollIntervalMs: 100 }),
            owner: governance.wallet.address,
            measurements: [{ measurement: BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex')), teeType: TEE_SIMULATED }],
            models: [modelHashToUint256(modelHash)],
        });
        govStore.close();
        o.log(`root deployed: ${root.toString()}`);

        const answer = Array.from({ length: o.answerChars }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
        backend = await FakeOpenAIServer.start({ answer, chunkDelayMs: o.chunkDelayMs });

        const startWorker = async (name: string, slot: number, model: Record<string, unknown>, limits: Record<string, unknown>): Promise<Proc> => {
            const w = await mnemonicWallet(dir, name);
            await faucet(devnetUrl, w.wallet.address.toString(), toNano('100'));
            const dataDir = join(dir, `${name}-data`);
            mkdirSync(dataDir);
            const configFile = join(dir, `${name}.json`);
            writeFileSync(
                configFile,
                JSON.stringify({
                    network: 'devnet',
                    chain: { endpoint },
                    root: root.toString(),
                    slot,
                    wallet: { mnemonicFile: w.file },
                    dataDir,
                    model,
                    prices: { prompt: '1000', completion: '2000' },
                    http: { port: await freePort() },
                    limits: { maxTokens: 64, jobTimeoutMs: 60_000, ...limits },
                    watcher: { pollIntervalMs: 500 },
                    logLevel: 'warn',
                }),
            );
            o.log(`starting worker ${name}`);
            const p = await spawnRole(name, [join(REPO_ROOT, 'bin', 'cocoon.js'), 'worker', 'start', '--config', configFile], { COCOON_WALLET_MNEMONIC: '' }, 'ready', join(dir, `${name}.heap`));
            procs.push(p);
            return p;
        };
        const startClient = async (name: string, worker: Proc): Promise<{ p: Proc; model: string; logFile: string; wallet: Wallet }> => {
            const w = await mnemonicWallet(dir, name);
            await faucet(devnetUrl, w.wallet.address.toString(), toNano('1000'));
            const stateDir = join(dir, `${name}-state`);
            const config = { endpoint, root: root.toString(), mnemonicFile: w.file, stateDir, worker: String(worker.ready.worker), deposit: '100', maxConcurrent: o.concurrency * 2, logFile: join(dir, `${name}.log`) };
            o.log(`starting client ${name}`);
            const p = await spawnRole(name, ['-r', 'tsx/cjs', join(REPO_ROOT, 'bench', 'roles', 'client-server.ts')], { BENCH_CLIENT: JSON.stringify(config) }, 'ready', join(dir, `${name}.heap`));
            procs.push(p);
            const models = (await (await fetch(`${p.ready.url}/v1/models`)).json()) as { data: { id: string }[] };
            if (!models.data?.length) throw new Error(`${name}: no models listed`);
            return { p, model: models.data[0].id, logFile: config.logFile, wallet: w.wallet };
        };

        // (a) The fixed-pace OpenAI-compatible backend.
        const workerA = await startWorker('worker-fake', 0, { engine: 'openai-compatible', baseUrl: backend.baseUrl, model: 'fake-model', modelDir: TINY_MODEL_DIR }, { maxConcurrentJobs: o.concurrency * 2, maxQueuedJobs: 256 });
        sampler.watch('worker (fake backend)', workerA);
        const clientA = await startClient('client-fake', workerA);
        sampler.watch('client', clientA.p);
        const viaA = chatRequest(`${clientA.p.ready.url}/v1`, clientA.model, o.answerChars);
        o.log('first request through the agents (opens the channel on the devnet)');
        await viaA();
        const jobsA = () => jobTimes(clientA.logFile);
        const fake = await compare(`fixed-pace backend (${o.answerChars} tokens, ${o.chunkDelayMs} ms apart)`, chatRequest(backend.baseUrl, 'fake-model', o.answerChars), viaA, o, jobsA);
        // What one read of the channel costs from outside: the three calls the client SDK makes per request.
        const channelAddress = (await channelFor(root, clientA.wallet.address, Address.parse(String(workerA.ready.worker)))).address;
        const readChannel = openOnChain(chain, Channel.fromAddress(channelAddress));
        const chainReadMs: number[] = [];
        for (let i = 0; i < 20; i++) {
            const t0 = performance.now();
            await chain.getAccount(channelAddress);
            await Promise.all([readChannel.getState(), readChannel.getTerms()]);
            chainReadMs.push(performance.now() - t0);
        }
        // The same backend at a chat model's pace: the agents' cost as a user of a real model sees it.
        const pacedAnswer = Array.from({ length: o.pacedTokens }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
        backend.configure({ answer: pacedAnswer, chunkDelayMs: o.pacedDelayMs });
        const paced = await compare(
            `fixed-pace backend at a chat model's pace (${o.pacedTokens} tokens, ${o.pacedDelayMs} ms apart)`,
            chatRequest(backend.baseUrl, 'fake-model', o.pacedTokens),
            chatRequest(`${clientA.p.ready.url}/v1`, clientA.model, o.pacedTokens),
            o,
            jobsA,
        );
        // Memory over many fast-path requests: the backend answers at once, so the agents are the load.
        backend.configure({ answer, chunkDelayMs: 0 });
        const leakProcs = [
            { label: 'worker agent (fake backend)', p: workerA },
            { label: 'client server', p: clientA.p },
        ];
        const points = new Map<string, { requests: number; heapMiB: number; rssMiB: number }[]>(leakProcs.map((l) => [l.label, []]));
        // Warm-up: up to a tenth of the target or a fifth of the time cap; then ten marks, each
        // after a tenth of the requests or of the time cap, whichever comes first.
        const steps = 10;
        const perStep = Math.ceil(o.leakRequests / steps);
        let served = 0;
        let leakRefusals = 0;
        const run = async (n: number, seconds: number) => {
            const until = performance.now() + seconds * 1000;
            let next = 0;
            await Promise.all(
                Array.from({ length: o.concurrency }, async () => {
                    while (next < n && performance.now() < until) {
                        next++;
                        try {
                            await viaA();
                            served++;
                        } catch (error) {
                            if (!isCreditRefusal(error)) throw error;
                            leakRefusals++;
                            next--;
                            await new Promise((r) => setTimeout(r, 5));
                        }
                    }
                }),
            );
        };
        const leak0 = performance.now();
        await run(perStep, o.leakSeconds / 5);
        const warmupRequests = served;
        served = 0;
        leakRefusals = 0;
        const mark = async () => {
            for (const l of leakProcs) points.get(l.label)!.push({ requests: served, ...(await heapAfterGc(l.p)) });
        };
        await mark();
        const measured0 = performance.now();
        for (let s = 0; s < steps; s++) {
            await run(perStep, o.leakSeconds / steps);
            await mark();
            o.log(`leak run: ${served} requests`);
        }
        const leakSeconds = (performance.now() - measured0) / 1000;
        const leakWarmupSeconds = (measured0 - leak0) / 1000;
        const leak: LeakFigure[] = leakProcs.map((l) => {
            const pts = points.get(l.label)!;
            const xs = pts.map((p) => p.requests);
            return {
                process: l.label,
                requests: served,
                points: pts,
                heapSlopeBytesPerRequest: slope(xs, pts.map((p) => p.heapMiB * 2 ** 20)),
                rssSlopeBytesPerRequest: slope(xs, pts.map((p) => p.rssMiB * 2 ** 20)),
                heapGrowthMiB: pts[pts.length - 1].heapMiB - pts[0].heapMiB,
                rssGrowthMiB: pts[pts.length - 1].rssMiB - pts[0].rssMiB,
            };
        });
        sampler.sample();
        await stopRole(clientA.p);
        await stopRole(workerA);

        // (b) The embedded tiny model: in this process directly vs a worker agent serving it.
        engine = await EmbeddedEngine.load({ model: TINY_MODEL_DIR, threads: 1 });
        const workerB = await startWorker('worker-tiny', 1, { engine: 'embedded', path: TINY_MODEL_DIR, threads: 1 }, { maxConcurrentJobs: 1, maxQueuedJobs: 256 });
        sampler.watch('worker (tiny model)', workerB);
        const clientB = await startClient('client-tiny', workerB);
        sampler.watch('client', clientB.p);
        const viaB = chatRequest(`${clientB.p.ready.url}/v1`, clientB.model, o.tinyMaxTokens);
        await viaB();
        const e = engine;
        const directB: Request = async () => (await e.complete({ messages: MESSAGES, maxTokens: o.tinyMaxTokens })).text;
        const tiny = await compare(`embedded tiny model (${o.tinyMaxTokens} tokens max)`, directB, viaB, o, () => jobTimes(clientB.logFile));
        sampler.sample();
        await stopRole(clientB.p);
        await stopRole(workerB);
        sampler.sample();

        const budgets: Record<string, number> = { devnet: 250, 'worker (fake backend)': 400, 'worker (tiny model)': 400, client: 250 };
        const memory: MemoryFigure[] = Object.keys(budgets).map((label) => ({
            process: label,
            hwmMiB: sampler.hwm.get(label) ?? NaN,
            maxSampledRssMiB: sampler.max.get(label) ?? NaN,
            budgetMiB: budgets[label],
        }));
        return {
            fake,
            paced,
            tiny,
            memory,
            leak,
            leakSeconds,
            leakWarmup: { requests: warmupRequests, seconds: leakWarmupSeconds },
            chainReadMs: median(chainReadMs),
            leakTarget: o.leakRequests,
            leakRefusals,
            scenario: `devnet, worker and client server as separate processes; ${o.concurrency} requests in flight at saturation`,
        };
    } finally {
        sampler.stop();
        await engine?.close();
        for (const p of procs.reverse()) if (p.child.exitCode === null) await stopRole(p);
        await backend?.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

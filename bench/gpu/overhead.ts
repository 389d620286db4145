/**
 * The agent's per-token overhead over an OpenAI-compatible inference server on a GPU (issue 7's
 * GPU section). Runs on the lent GPU machine (bench/gpu/run.sh), against bench/gpu/server.py:
 *
 *   direct: the same streaming chat request straight to the server (HTTP + SSE parsing only);
 *   agent:  client SDK → worker agent → server: sealed request, channel check, receipt signed and
 *           journalled, receipt checked, voucher signed — on an in-process chain (the real
 *           contracts in @ton/sandbox, as `cocoon worker start --network local` uses).
 *
 * Rounds alternate the two paths (and reverse the order every other round) so that drift in the
 * GPU's clocks and the host's load fall on both alike. Prints one JSON object (and writes it to
 * --out): medians of latency and time to first token, the per-token overhead, and throughput with
 * several requests in flight on each path.
 */
import * as http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { CocoonClient } from '../../agents/client/client';
import { OpenAICompatibleEngine } from '../../agents/inference/openai-compatible';
import { startWorkerAgent } from '../../agents/worker/agent';
import { parseWorkerConfig } from '../../agents/worker/config';
import { silentLogger } from '../../agents/worker/logger';
import { startLocalNetwork } from '../../agents/worker/local-network';
import { Wallet, WalletKey } from '../../agents/chain/wallet';
import { randomBytes } from 'node:crypto';

interface Args {
    backend: string;
    modelName: string;
    modelDir: string;
    rounds: number;
    maxTokens: number;
    concurrency: number;
    saturationRequests: number;
    out?: string;
}

function parseArgs(argv: string[]): Args {
    const get = (name: string, fallback?: string) => {
        const i = argv.indexOf(`--${name}`);
        if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1];
        if (fallback === undefined) throw new Error(`--${name} is required`);
        return fallback;
    };
    return {
        backend: get('backend-url'),
        modelName: get('model-name'),
        modelDir: get('model-dir'),
        rounds: Number(get('rounds', '20')),
        maxTokens: Number(get('max-tokens', '128')),
        concurrency: Number(get('concurrency', '4')),
        saturationRequests: Number(get('saturation-requests', '24')),
        out: argv.includes('--out') ? get('out') : undefined,
    };
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Timing {
    totalMs: number;
    firstTokenMs: number;
    tokens: number;
}

const PROMPT = [{ role: 'user' as const, content: 'Explain in one paragraph why confidential inference needs attestation.' }];

const keepAlive = new http.Agent({ keepAlive: true });

/**
 * One streaming request straight to the server, over the same transport the worker agent's
 * OpenAI-compatible engine uses (node:http with keep-alive), parsing SSE: the difference between
 * the two paths is then the agent's own work.
 */
function direct(args: Args): Promise<Timing> {
    const started = performance.now();
    const body = JSON.stringify({ model: args.modelName, messages: PROMPT, max_tokens: args.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
    return new Promise<Timing>((resolve, reject) => {
        const req = http.request(`${args.backend}/chat/completions`, {
            method: 'POST',
            agent: keepAlive,
            headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body) },
        });
        req.on('error', reject);
        req.on('response', (res) => {
            if (res.statusCode !== 200) return reject(new Error(`direct: HTTP ${res.statusCode}`));
            res.setEncoding('utf8');
            let buffer = '';
            let first = 0;
            let tokens = 0;
            res.on('data', (chunk: string) => {
                buffer += chunk;
                let i: number;
                while ((i = buffer.indexOf('\n\n')) >= 0) {
                    const data = buffer.slice(0, i).replace(/^data: /, '');
                    buffer = buffer.slice(i + 2);
                    if (data === '[DONE]') continue;
                    const parsed = JSON.parse(data) as { choices: { delta: { content?: string } }[] };
                    if (parsed.choices[0]?.delta?.content) {
                        if (!first) first = performance.now();
                        tokens++;
                    }
                }
            });
            res.on('end', () => resolve({ totalMs: performance.now() - started, firstTokenMs: first - started, tokens }));
            res.on('error', reject);
        });
        req.end(body);
    });
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const engine = await OpenAICompatibleEngine.create({ baseUrl: args.backend, model: args.modelName, identity: { modelDir: args.modelDir } });
    await engine.assertModelServed();
    const imageName = 'cocoon-worker-dev';
    const local = await startLocalNetwork({ modelHash: engine.modelHash, imageName });
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-gpu-bench-'));
    const config = parseWorkerConfig(
        {
            network: 'local',
            root: local.root.toString(),
            slot: 0,
            dataDir: join(dir, 'worker'),
            model: { engine: 'openai-compatible', baseUrl: args.backend, model: args.modelName, modelDir: args.modelDir },
            prices: { prompt: '1000', completion: '2000' },
            registration: { stake: '10' },
            http: { port: 0 },
            limits: { maxTokens: args.maxTokens, maxPromptBytes: 8192, maxConcurrentJobs: args.concurrency, maxQueuedJobs: 64 },
            settlement: { minAmount: '1000' },
            watcher: { pollIntervalMs: 200 },
            channelCacheMs: 1000,
            logLevel: 'error',
        },
        { env: {} },
    );
    const agent = await startWorkerAgent(config, { chain: local.chain, root: local.root, wallet: local.wallet, engine, log: silentLogger });
    const clientWallet = Wallet.fromKey(new WalletKey(randomBytes(32)));
    const faucet = await local.chain.blockchain.treasury('faucet');
    await faucet.send({ to: clientWallet.address, value: toNano('1000'), bounce: false });
    const client = await CocoonClient.create({ chain: local.chain, root: local.root, wallet: clientWallet, stateDir: join(dir, 'client'), pollIntervalMs: 50, autoDeposit: toNano('100') });

    const viaAgent = async (): Promise<Timing> => {
        const started = performance.now();
        let first = 0;
        let tokens = 0;
        const result = await client.chat({
            model: engine.modelHash,
            messages: PROMPT,
            max_tokens: args.maxTokens,
            onDelta: () => {
                if (!first) first = performance.now();
                tokens++;
            },
        });
        if (result.path !== 'fast') throw new Error(`expected the fast path, got ${result.path}`);
        if (result.usage.completionTokens !== args.maxTokens) throw new Error(`completion tokens ${result.usage.completionTokens} != ${args.maxTokens}`);
        return { totalMs: performance.now() - started, firstTokenMs: first - started, tokens: result.usage.completionTokens };
    };

    const progress = (what: string, t?: Timing) => console.error(`[overhead] ${what}${t ? ` ${t.totalMs.toFixed(0)} ms, first token ${t.firstTokenMs.toFixed(0)} ms, ${t.tokens} tokens` : ''}`);
    // Warm-up: channel open, JIT, connection pools.
    for (let i = 0; i < 2; i++) {
        progress('warm-up direct', await direct(args));
        progress('warm-up agent', await viaAgent());
    }
    const d: Timing[] = [];
    const a: Timing[] = [];
    for (let r = 0; r < args.rounds; r++) {
        const order = r % 2 ? [viaAgent, () => direct(args)] : [() => direct(args), viaAgent];
        for (const f of order) {
            const t = await f();
            (f === viaAgent ? a : d).push(t);
            progress(`round ${r} ${f === viaAgent ? 'agent' : 'direct'}`, t);
        }
    }
    const saturate = async (f: () => Promise<Timing>) => {
        const started = performance.now();
        let next = 0;
        let tokens = 0;
        await Promise.all(
            Array.from({ length: args.concurrency }, async () => {
                while (next++ < args.saturationRequests) tokens += (await f()).tokens;
            }),
        );
        return tokens / ((performance.now() - started) / 1000);
    };
    const md = median(d.map((t) => t.totalMs));
    const ma = median(a.map((t) => t.totalMs));
    progress(`sequential medians: direct ${md.toFixed(1)} ms, agent ${ma.toFixed(1)} ms`);
    const satDirect = await saturate(() => direct(args));
    progress(`saturation direct ${satDirect.toFixed(1)} tokens/s`);
    const satAgent = await saturate(viaAgent);
    progress(`saturation agent ${satAgent.toFixed(1)} tokens/s`);
    const report = {
        backend: args.backend,
        model: args.modelName,
        maxTokens: args.maxTokens,
        rounds: args.rounds,
        direct: { medianMs: md, medianFirstTokenMs: median(d.map((t) => t.firstTokenMs)), tokensPerRequest: median(d.map((t) => t.tokens)) },
        agent: { medianMs: ma, medianFirstTokenMs: median(a.map((t) => t.firstTokenMs)), tokensPerRequest: median(a.map((t) => t.tokens)) },
        latencyRatio: ma / md,
        perTokenOverheadMs: (ma - md) / args.maxTokens,
        perRequestOverheadMs: ma - md,
        saturation: { concurrency: args.concurrency, requests: args.saturationRequests, directTokensPerSec: satDirect, agentTokensPerSec: satAgent, ratio: satAgent / satDirect },
    };
    const text = JSON.stringify(report, null, 2);
    console.log(text);
    if (args.out) writeFileSync(args.out, text);
    await client.close();
    await agent.stop();
    await engine.close();
    process.exit(0);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});

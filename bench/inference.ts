/**
 * Inference benchmark (not a test): tokens per second of the embedded engine on the tiny model,
 * and the overhead of our engine wrapper over calling Transformers.js directly on the same model
 * and prompt, measured in one run.
 *
 *   npm run bench:inference [-- --rounds 150 --per-block 2 --threads N]   (N = 0: the runtime's default)
 *
 * Method: both paths answer the same chat ([{user: "hi"}] → 91 tokens, greedy, the same
 * generation limits). Each round times a block of requests through the library directly (A), a
 * block through EmbeddedEngine.complete (B), a block through EmbeddedEngine.complete with a
 * per-token callback (S) and, for comparison, a block through the library with its own
 * TextStreamer (T), in an order that rotates every round so that drift and warm-up affect all
 * paths alike. The overhead is the median over rounds of B/A − 1 (and S/A − 1), with a 95 %
 * bootstrap confidence interval of that median; as a cross-check, the ratio of each path's
 * 10th-percentile request time (the least disturbed requests on a shared machine) is printed too.
 */
import { execSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env, Tensor, TextStreamer } from '@huggingface/transformers';
import { EmbeddedEngine } from '../agents/inference/embedded';
import { ensureTinyModel } from '../agents/inference/testing/tiny-model';
import { medianCi, quantile, summary } from './lib/stats';

const MESSAGES = [{ role: 'user', content: 'hi' }];

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
}

function machine(): string {
    let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    try {
        const lscpu = execSync('lscpu', { encoding: 'utf8' });
        const model = /Model name:\s*(.+)/.exec(lscpu)?.[1];
        if (model) cpu = model.trim();
    } catch {
        // lscpu is optional
    }
    const ort = require('onnxruntime-node/package.json').version as string;
    return (
        `${cpu}, ${os.cpus().length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
        `${os.type()} ${os.release()}, Node ${process.version}, @huggingface/transformers ${env.version}, onnxruntime-node ${ort}, load average ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`
    );
}

async function main(): Promise<void> {
    const rounds = arg('rounds', 150);
    const perBlock = arg('per-block', 2);
    // One ONNX Runtime thread by default: on a shared 2-core VM the runtime's spinning worker
    // threads add more noise than the wrapper costs. `--threads 0` keeps the runtime's default.
    const threads = arg('threads', 1) || undefined;
    const dir = await ensureTinyModel(path.resolve(__dirname, '..', 'models', 'tiny'));

    const engine = await EmbeddedEngine.load({ model: dir, threads });
    const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const model = (await AutoModelForCausalLM.from_pretrained(dir, {
        local_files_only: true,
        dtype: 'fp32',
        device: 'cpu',
        ...(threads ? { session_options: { intraOpNumThreads: threads } } : {}),
    })) as unknown as {
        generate(o: Record<string, unknown>): Promise<Tensor>;
        dispose(): Promise<unknown>;
    };
    // The engine caps max_new_tokens at the context left after the prompt; give the direct call the same limit.
    const promptTokens = engine.promptTokenIds(MESSAGES).length;
    const maxNewTokens = Math.min(1024, engine.contextLength - promptTokens);

    const viaLibrary = async (streamer?: TextStreamer): Promise<{ count: number; text: string }> => {
        const inputs = tokenizer.apply_chat_template(MESSAGES, { add_generation_prompt: true, tokenize: true, return_dict: true }) as unknown as {
            input_ids: Tensor;
            attention_mask: Tensor;
        };
        const out = await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false, ...(streamer ? { streamer } : {}) });
        const ids = Array.from(out.data as BigInt64Array, Number).slice(inputs.input_ids.dims[1]);
        return { count: ids.length, text: tokenizer.decode(ids, { skip_special_tokens: true }) };
    };
    let directText = '';
    const direct = async (): Promise<number> => {
        const r = await viaLibrary();
        directText = r.text;
        return r.count;
    };
    let libraryStreamed = '';
    const libraryStreaming = async (): Promise<number> => {
        let text = '';
        const streamer = new TextStreamer(tokenizer, { skip_prompt: true, skip_special_tokens: true, callback_function: (t) => (text += t) });
        const r = await viaLibrary(streamer);
        libraryStreamed = text;
        return r.count;
    };
    let engineText = '';
    const wrapped = async (): Promise<number> => {
        const r = await engine.complete({ messages: MESSAGES });
        engineText = r.text;
        return r.usage.completionTokens;
    };
    let streamed = '';
    const streaming = async (): Promise<number> => {
        let text = '';
        const r = await engine.complete({ messages: MESSAGES, onToken: (c) => (text += c.text) });
        streamed = text;
        return r.usage.completionTokens;
    };

    const paths = { direct, wrapped, streaming, libraryStreaming } as const;
    type PathName = keyof typeof paths;
    const names: PathName[] = ['direct', 'wrapped', 'streaming', 'libraryStreaming'];

    const requestMs: Record<PathName, number[]> = { direct: [], wrapped: [], streaming: [], libraryStreaming: [] };
    const block = async (name: PathName, record = true): Promise<{ ms: number; tokens: number }> => {
        let tokens = 0;
        let ms = 0;
        for (let i = 0; i < perBlock; i++) {
            const t0 = process.hrtime.bigint();
            tokens += await paths[name]();
            const t = Number(process.hrtime.bigint() - t0) / 1e6;
            ms += t;
            if (record) requestMs[name].push(t);
        }
        return { ms, tokens };
    };

    // Warm-up: JIT, ORT arenas, tokenizer caches.
    for (let i = 0; i < 3; i++) for (const n of names) await block(n, false);
    if (new Set([directText, engineText, streamed, libraryStreamed]).size !== 1) {
        throw new Error(`paths disagree: ${JSON.stringify({ directText, engineText, streamed, libraryStreamed })}`);
    }

    const ms: Record<PathName, number[]> = { direct: [], wrapped: [], streaming: [], libraryStreaming: [] };
    const tokens: Record<PathName, number> = { direct: 0, wrapped: 0, streaming: 0, libraryStreaming: 0 };
    const ratioWrapped: number[] = [];
    const ratioStreaming: number[] = [];
    const ratioStreamingVsLibrary: number[] = [];
    for (let r = 0; r < rounds; r++) {
        const order = names.map((_, i) => names[(i + r) % names.length]);
        if (r % 2 === 1) order.reverse();
        const times = {} as Record<PathName, number>;
        for (const n of order) {
            const b = await block(n);
            times[n] = b.ms;
            ms[n].push(b.ms);
            tokens[n] += b.tokens;
        }
        ratioWrapped.push(times.wrapped / times.direct);
        ratioStreaming.push(times.streaming / times.direct);
        ratioStreamingVsLibrary.push(times.streaming / times.libraryStreaming);
    }

    const tokensPerRequest = tokens.wrapped / (rounds * perBlock);
    const tps = (n: PathName) => summary(ms[n].map((t) => (tokens[n] / rounds / t) * 1000));
    const ow = summary(ratioWrapped.map((x) => (x - 1) * 100));
    const os_ = summary(ratioStreaming.map((x) => (x - 1) * 100));
    const fmt = (s: { median: number; q1: number; q3: number }, digits = 0) =>
        `${s.median.toFixed(digits)} (IQR ${s.q1.toFixed(digits)} … ${s.q3.toFixed(digits)})`;
    const ci = (ratios: number[]) => medianCi(ratios.map((x) => (x - 1) * 100)).map((x) => x.toFixed(2)).join(' … ');
    const p10 = (n: PathName) => quantile([...requestMs[n]].sort((a, b) => a - b), 0.1);

    console.log(`machine: ${machine()}`);
    console.log(`model: tiny (${dir}), hash ${engine.modelHash}`);
    console.log(
        `workload: ${rounds} rounds × ${perBlock} requests per path; ${promptTokens} prompt tokens, ${tokensPerRequest} completion tokens per request; ` +
            `ONNX Runtime intra-op threads: ${threads ?? 'default'}`,
    );
    console.log('');
    console.log('| path | tokens/s, median over rounds (IQR) | ms per request, median |');
    console.log('|---|---|---|');
    for (const n of names) {
        const label = {
            direct: 'Transformers.js directly (generate + decode)',
            wrapped: 'EmbeddedEngine.complete',
            streaming: 'EmbeddedEngine.complete + per-token callback',
            libraryStreaming: "Transformers.js directly + its TextStreamer (flushes at whitespace)",
        }[n];
        console.log(`| ${label} | ${fmt(tps(n))} | ${(summary(ms[n]).median / perBlock).toFixed(2)} |`);
    }
    console.log('');
    console.log(`wrapper overhead vs direct: median ${ow.median.toFixed(2)} %, 95 % CI ${ci(ratioWrapped)} %, per-round IQR ${ow.q1.toFixed(1)} … ${ow.q3.toFixed(1)} % (target ≤ 5 %)`);
    console.log(`streaming wrapper vs direct (non-streaming): median ${os_.median.toFixed(2)} %, 95 % CI ${ci(ratioStreaming)} %`);
    const vsLib = summary(ratioStreamingVsLibrary.map((x) => (x - 1) * 100));
    console.log(`streaming wrapper vs the library's TextStreamer: median ${vsLib.median.toFixed(2)} %, 95 % CI ${ci(ratioStreamingVsLibrary)} %`);
    console.log(
        `10th-percentile request time: direct ${p10('direct').toFixed(2)} ms, wrapped ${p10('wrapped').toFixed(2)} ms ` +
            `(${((p10('wrapped') / p10('direct') - 1) * 100).toFixed(2)} %), streaming ${p10('streaming').toFixed(2)} ms ` +
            `(${((p10('streaming') / p10('direct') - 1) * 100).toFixed(2)} %)`,
    );

    await engine.close();
    await model.dispose();
    if (ow.median > 5) process.exitCode = 1;
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});

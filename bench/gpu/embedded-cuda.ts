/**
 * The embedded engine (Transformers.js on onnxruntime-node) on the GPU, for issue 7's GPU section:
 * loads a model folder with device "cuda" (and "cpu" for comparison), runs the same greedy chat a
 * number of times and prints tokens per second. Run by bench/gpu/run.sh on the lent GPU machine,
 * after it has put onnxruntime's CUDA provider libraries beside onnxruntime-node's binding.
 */
import { writeFileSync } from 'node:fs';
import { EmbeddedEngine } from '../../agents/inference/embedded';

async function measure(model: string, device: 'cpu' | 'cuda', runs: number, maxTokens: number) {
    const started = performance.now();
    const engine = await EmbeddedEngine.load({ model, device });
    const loadMs = performance.now() - started;
    const messages = [{ role: 'user' as const, content: 'hello' }];
    await engine.complete({ messages, maxTokens });
    const times: number[] = [];
    let tokens = 0;
    let text = '';
    for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = await engine.complete({ messages, maxTokens });
        times.push(performance.now() - t0);
        tokens = r.usage.completionTokens;
        text = r.text;
    }
    await engine.close();
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    return { device, loadMs, runs, completionTokens: tokens, medianMs: median, tokensPerSec: tokens / (median / 1000), text };
}

async function main() {
    const [model, out] = [process.argv[2], process.argv[3]];
    const results: unknown[] = [];
    for (const device of ['cpu', 'cuda'] as const) {
        try {
            results.push(await measure(model, device, 20, 64));
        } catch (e) {
            results.push({ device, error: `${(e as Error).name}: ${(e as Error).message}` });
        }
    }
    const text = JSON.stringify(results, null, 2);
    console.log(text);
    if (out) writeFileSync(out, text);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});

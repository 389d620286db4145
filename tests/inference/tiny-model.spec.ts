/** @jest-environment ./agents/inference/testing/jest-environment.ts */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, Tensor } from '@huggingface/transformers';
import { modelHash } from '../../agents/inference/model-identity';
import { ensureTinyModel, tinyModelFiles, TINY_MODEL_EOS } from '../../agents/inference/testing/tiny-model';
import { cleanup, tempDir, tinyModel } from './helpers';

// The hash of the generated fixture. It changes only when the generator changes on purpose;
// update it then (npm run model:tiny prints it).
const TINY_MODEL_HASH = 'd5f5ac231a4c8bdd4d03b118b7bad204671fe56fd4222c0a01d0556b664374bd';

const ids = (a: number[]) => new Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

describe('the tiny test model', () => {
    it('writes the same bytes on every run, so its model hash is a constant', async () => {
        const a = tinyModelFiles();
        const b = tinyModelFiles();
        expect([...a.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
        for (const [name, data] of a) expect(data.equals(b.get(name)!)).toBe(true);
        expect(await modelHash(await tinyModel())).toBe(TINY_MODEL_HASH);
    });

    it('ensureTinyModel creates a missing model and repairs an altered file', async () => {
        const root = await tempDir('tiny');
        try {
            const dir = await ensureTinyModel(path.join(root, 'm'));
            expect(await modelHash(dir)).toBe(TINY_MODEL_HASH);
            await fs.writeFile(path.join(dir, 'config.json'), '{}');
            await fs.rm(path.join(dir, 'onnx', 'model.onnx'));
            await ensureTinyModel(dir);
            expect(await modelHash(dir)).toBe(TINY_MODEL_HASH);
        } finally {
            await cleanup(root);
        }
    });

    it('npm run model:tiny writes it into the folder given and prints its hash', async () => {
        const root = await tempDir('tiny-script');
        try {
            const repo = path.resolve(__dirname, '..', '..');
            const { stdout } = await promisify(execFile)(path.join(repo, 'node_modules', '.bin', 'tsx'), ['scripts/make-tiny-model.ts', path.join(root, 'm')], {
                cwd: repo,
            });
            expect(stdout).toContain(`model hash ${TINY_MODEL_HASH}`);
            expect(await modelHash(path.join(root, 'm'))).toBe(TINY_MODEL_HASH);
        } finally {
            await cleanup(root);
        }
    });

    describe('loaded directly by Transformers.js (no wrapper)', () => {
        let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
        let model: any;
        beforeAll(async () => {
            const dir = await tinyModel();
            tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
            model = await AutoModelForCausalLM.from_pretrained(dir, { local_files_only: true, dtype: 'fp32', device: 'cpu' });
        });
        afterAll(async () => model?.dispose());

        it('tokenizes bytes one to one and round-trips any UTF-8 text', () => {
            const text = 'héllo, мир 🚀';
            const enc = tokenizer(text) as { input_ids: Tensor };
            expect(Array.from(enc.input_ids.data as BigInt64Array, Number)).toEqual(bytes(text));
            expect(tokenizer.decode(bytes(text), { skip_special_tokens: true })).toBe(text);
        });

        it('greedily continues each byte with the next one and ends after z', async () => {
            const enc = tokenizer('hello') as { input_ids: Tensor; attention_mask: Tensor };
            const out = (await model.generate({ ...enc, max_new_tokens: 40, do_sample: false })) as Tensor;
            const generated = Array.from(out.data as BigInt64Array, Number).slice(5);
            expect(tokenizer.decode(generated, { skip_special_tokens: true })).toBe('pqrstuvwxyz');
            expect(generated.at(-1)).toBe(TINY_MODEL_EOS);
        });

        it('renders chats through its chat template', () => {
            const text = tokenizer.apply_chat_template(
                [
                    { role: 'system', content: 'be brief' },
                    { role: 'user', content: 'hi' },
                ],
                { add_generation_prompt: true, tokenize: false },
            );
            expect(text).toBe('system: be brief\nuser: hi\nassistant: ');
        });

        it('decodes with its KV cache exactly as a full recomputation does', async () => {
            const seq = bytes('hello w');
            const full = await model.forward({ input_ids: ids(seq), attention_mask: ids(seq.map(() => 1)), position_ids: ids(seq.map((_, i) => i)) });
            const fullLogits = full.logits.data as Float32Array;
            let past: Record<string, Tensor> | undefined;
            let maxDiff = 0;
            for (let i = 0; i < seq.length; i++) {
                const step = await model.forward({
                    input_ids: ids([seq[i]]),
                    attention_mask: ids(seq.slice(0, i + 1).map(() => 1)),
                    position_ids: ids([i]),
                    ...(past ? { past_key_values: past } : {}),
                });
                expect(step['present.0.key'].dims).toEqual([1, 2, i + 1, 8]);
                const stepLogits = step.logits.data as Float32Array;
                for (let v = 0; v < stepLogits.length; v++) maxDiff = Math.max(maxDiff, Math.abs(stepLogits[v] - fullLogits[i * 258 + v]));
                past = { 'past_key_values.0.key': step['present.0.key'], 'past_key_values.0.value': step['present.0.value'] };
            }
            expect(maxDiff).toBeLessThan(1e-5);
        });

        it('attends to earlier tokens: changing the first byte changes the last position logits', async () => {
            const run = async (s: string) => {
                const seq = bytes(s);
                const out = await model.forward({ input_ids: ids(seq), attention_mask: ids(seq.map(() => 1)), position_ids: ids(seq.map((_, i) => i)) });
                return Array.from((out.logits.data as Float32Array).slice((seq.length - 1) * 258));
            };
            const a = await run('hello w');
            const b = await run('jello w');
            expect(a.some((x, i) => Math.abs(x - b[i]) > 1e-4)).toBe(true);
        });
    });
});

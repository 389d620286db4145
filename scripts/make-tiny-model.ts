/**
 * Writes the tiny test model (a one-layer llama-type ONNX decoder with a byte-level tokenizer and
 * "successor" weights: every byte is followed by the next, `z` by end-of-sequence) into a folder,
 * by default models/tiny/ (gitignored). Same bytes on every run, so its model hash is stable.
 *
 *   npm run model:tiny [-- DIR]
 */
import * as path from 'node:path';
import { ensureTinyModel } from '../agents/inference/testing/tiny-model';
import { modelHash } from '../agents/inference/model-identity';

export { ensureTinyModel, writeTinyModel, tinyModelFiles } from '../agents/inference/testing/tiny-model';

export const DEFAULT_TINY_MODEL_DIR = path.resolve(__dirname, '..', 'models', 'tiny');

async function main(): Promise<void> {
    const dir = await ensureTinyModel(process.argv[2] ?? DEFAULT_TINY_MODEL_DIR);
    console.log(`tiny model in ${dir}`);
    console.log(`model hash ${await modelHash(dir)}`);
}

if (require.main === module) {
    main().catch((e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
    });
}

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';

/** The shared tiny model (generated on first use, gitignored). Tests that alter files use a copy. */
export const TINY_MODEL_DIR = path.resolve(__dirname, '..', '..', 'models', 'tiny');

export function tinyModel(): Promise<string> {
    return ensureTinyModel(TINY_MODEL_DIR);
}

/** A fresh temporary folder, removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
    return fs.mkdtemp(path.join(os.tmpdir(), `cocoon-${prefix}-`));
}

/** A private copy of the tiny model that a test may break. */
export async function tinyModelCopy(): Promise<string> {
    const dir = path.join(await tempDir('model'), 'tiny');
    await ensureTinyModel(dir);
    return dir;
}

export async function cleanup(dir: string): Promise<void> {
    await fs.rm(dir, { recursive: true, force: true });
}

/** The greedy answer of the tiny model to text ending in `last`: each next byte up to 'z'. */
export function successorRun(after: string, upTo = 'z'): string {
    let out = '';
    for (let c = after.charCodeAt(0) + 1; c <= upTo.charCodeAt(0); c++) out += String.fromCharCode(c);
    return out;
}

// Compiles bench/contracts/floor.tact (once; again only when the source is newer) into
// build/BenchFloor and loads its generated wrapper. Kept out of `npm run build` so the build
// stays fast: only the bench needs it.
import fs from 'node:fs';
import path from 'node:path';
import { build, createVirtualFileSystem, Logger, LogLevel, stdLibFiles } from '@tact-lang/compiler';
import { createNodeFileSystem } from '@tact-lang/compiler/dist/vfs/createNodeFileSystem';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SOURCE = path.join(REPO_ROOT, 'bench', 'contracts', 'floor.tact');
const OUTPUT = path.join(REPO_ROOT, 'build', 'BenchFloor');
const WRAPPER = path.join(OUTPUT, 'BenchFloor_Floor.ts');

export async function compileFloor(): Promise<string> {
    if (fs.existsSync(WRAPPER) && fs.statSync(WRAPPER).mtimeMs > fs.statSync(SOURCE).mtimeMs) return WRAPPER;
    const config = {
        name: 'BenchFloor',
        path: './bench/contracts/floor.tact',
        output: './build/BenchFloor',
        options: { debug: false, external: false },
        mode: 'full' as const,
    };
    const result = await build({
        config,
        project: createNodeFileSystem(REPO_ROOT, false),
        stdlib: createVirtualFileSystem('@stdlib', stdLibFiles),
        logger: new Logger(LogLevel.WARN),
    });
    if (!result.ok || !fs.existsSync(WRAPPER)) throw new Error(`bench: ${SOURCE} failed to compile; see the errors above`);
    return WRAPPER;
}

/** The generated Floor wrapper (typed loosely: it exists only after compileFloor). */
export async function loadFloor(): Promise<any> {
    const file = await compileFloor();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file).Floor;
}

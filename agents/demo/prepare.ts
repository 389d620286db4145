import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Shared by the demo's CLI and its flow; free of the contracts' build output. */
export const REPO_ROOT = resolve(__dirname, '..', '..');
export const DEFAULT_TINY_MODEL_DIR = resolve(REPO_ROOT, 'models', 'tiny');
/** A file the Tact build writes; the wrappers import it. */
export const BUILD_MARKER = resolve(REPO_ROOT, 'build', 'Cocoon', 'Cocoon_Root.ts');

export function formatTon(nano: bigint): string {
    const sign = nano < 0n ? '-' : '';
    const abs = nano < 0n ? -nano : nano;
    return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/**
 * Builds the contracts when their build output is missing (a fresh `npm ci`): runs `command`
 * (default: the project's build script through tsx) with its output on stderr. Returns whether
 * it built; throws when the command fails or leaves no `marker`.
 */
export function ensureBuilt(
    say: (line: string) => void,
    marker = BUILD_MARKER,
    command: string[] = [process.execPath, require.resolve('tsx/cli'), resolve(REPO_ROOT, 'scripts', 'build.ts')],
): boolean {
    if (existsSync(marker)) return false;
    say('The contracts are not built yet: building them once (npm run build)...');
    const result = spawnSync(command[0], command.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr] });
    if (result.status !== 0 || !existsSync(marker)) {
        throw new Error(`the contract build failed (exit ${result.status ?? result.signal}); run npm run build to see why`);
    }
    return true;
}

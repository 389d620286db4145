// `npm run build`: compiles every project of tact.config.json once into build/ and fails loudly
// (non-zero exit, the compiler's message) on any error. Tests and scripts import the generated
// bindings from build/ (through wrappers/), so nothing compiles per test.
// wrappers/*.compile.ts call buildContracts({ onlyIfStale: true }) so `npx blueprint build`
// reuses a fresh build.
import path from 'node:path';
import fs from 'node:fs';
import { build, createVirtualFileSystem, parseConfig, stdLibFiles, Logger, LogLevel } from '@tact-lang/compiler';
import { createNodeFileSystem } from '@tact-lang/compiler/dist/vfs/createNodeFileSystem';

export const REPO_ROOT = path.resolve(__dirname, '..');

function newestMtime(dir: string, suffix: string): number {
    if (!fs.existsSync(dir)) return 0;
    return Math.max(0, ...fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
}

export async function buildContracts(options: { onlyIfStale?: boolean } = {}): Promise<void> {
    const configPath = path.join(REPO_ROOT, 'tact.config.json');
    const config = parseConfig(fs.readFileSync(configPath, 'utf8'));
    const project = createNodeFileSystem(REPO_ROOT, false);
    const stdlib = createVirtualFileSystem('@stdlib', stdLibFiles);
    const logger = new Logger(LogLevel.WARN);
    const sources = Math.max(newestMtime(path.join(REPO_ROOT, 'contracts'), '.tact'), fs.statSync(configPath).mtimeMs);
    for (const entry of config.projects) {
        const output = path.join(REPO_ROOT, entry.output);
        if (options.onlyIfStale && newestMtime(output, '.code.boc') > sources) continue;
        const started = Date.now();
        const result = await build({ config: entry, project, stdlib, logger });
        if (!result.ok) {
            throw new Error(`Tact project ${entry.name} (${entry.path}) failed to compile; see the errors above`);
        }
        console.log(`build: ${entry.name} -> ${entry.output} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
}

if (require.main === module) {
    buildContracts().catch((error: unknown) => {
        console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    });
}

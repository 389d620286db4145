// `npm run build`: compiles every project of tact.config.json once into build/ and fails loudly
// (non-zero exit, the compiler's message) on any error. Tests and scripts import the generated
// bindings from build/ (through wrappers/), so nothing compiles per test.
import path from 'node:path';
import fs from 'node:fs';
import { build, createVirtualFileSystem, parseConfig, stdLibFiles, Logger, LogLevel } from '@tact-lang/compiler';
import { createNodeFileSystem } from '@tact-lang/compiler/dist/vfs/createNodeFileSystem';

async function main(): Promise<void> {
    const root = path.resolve(__dirname, '..');
    const configPath = path.join(root, 'tact.config.json');
    const config = parseConfig(fs.readFileSync(configPath, 'utf8'));
    const project = createNodeFileSystem(root, false);
    const stdlib = createVirtualFileSystem('@stdlib', stdLibFiles);
    const logger = new Logger(LogLevel.WARN);
    for (const entry of config.projects) {
        const started = Date.now();
        const result = await build({ config: entry, project, stdlib, logger });
        if (!result.ok) {
            console.error(`build: Tact project ${entry.name} (${entry.path}) failed to compile; see the errors above`);
            process.exit(1);
        }
        console.log(`build: ${entry.name} -> ${entry.output} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
}

main().catch((error: unknown) => {
    console.error('build: unexpected failure:', error);
    process.exit(1);
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandModules } from './cli/commands';
import { CliIo, CliUsageError, CommandRegistry } from './cli/registry';

/** `cocoon <command> [options]`: the entry point behind bin/cocoon.js. */
export function buildRegistry(): CommandRegistry {
    const registry = new CommandRegistry();
    for (const { names, load } of commandModules) registry.registerLazy(names, load);
    return registry;
}

function overview(registry: CommandRegistry): string {
    const rows = registry.list().map((c) => `  ${c.name.padEnd(21)} ${c.summary}`);
    return ['Usage: cocoon <command> [options]', '', 'Commands:', ...rows, '', 'Run `cocoon <command> --help` for its options.'].join('\n');
}

function processIo(): CliIo & { dispose(): void } {
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return {
        stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
        stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
        env: process.env,
        signal: controller.signal,
        dispose: () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
        },
    };
}

export async function main(argv: string[], io?: CliIo): Promise<number> {
    const own = io ? undefined : processIo();
    const out = io ?? own!;
    try {
        const registry = buildRegistry();
        if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
            const target = argv[0] === 'help' ? registry.resolve(argv.slice(1)) : undefined;
            out.stdout(target ? target.command.help : overview(registry));
            return 0;
        }
        if (argv[0] === '--version') {
            out.stdout(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);
            return 0;
        }
        const found = registry.resolve(argv);
        if (!found) {
            out.stderr(`cocoon: unknown command "${argv.join(' ')}"\n\n${overview(registry)}`);
            return 2;
        }
        if (found.args.includes('--help') || found.args.includes('-h')) {
            out.stdout(found.command.help);
            return 0;
        }
        try {
            return await found.command.run(found.args, out);
        } catch (error) {
            if (error instanceof CliUsageError) {
                out.stderr(`cocoon ${found.command.name}: ${error.message}\n\n${found.command.help}`);
                return 2;
            }
            out.stderr(`cocoon ${found.command.name}: ${(error as Error)?.message ?? String(error)}`);
            return 1;
        }
    } finally {
        own?.dispose();
    }
}

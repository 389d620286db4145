import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildRegistry, main } from '../cli';
import { CliCommand, CliIo, CommandRegistry } from './registry';

function captureIo(): CliIo & { out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, signal: new AbortController().signal };
}

describe('cocoon CLI command registry', () => {
    const command = (name: string): CliCommand => ({ name, summary: name, help: `help of ${name}`, run: async (args) => args.length });

    it('selects the command named by the longest prefix and passes the rest as arguments', async () => {
        const registry = new CommandRegistry().register(command('model')).register(command('model hash')).register(command('worker start'));
        expect(registry.resolve(['model', 'hash', 'dir'])?.command.name).toBe('model hash');
        expect(registry.resolve(['model', 'hash', 'dir'])?.args).toEqual(['dir']);
        expect(registry.resolve(['model', 'list'])?.command.name).toBe('model');
        expect(registry.resolve(['worker'])).toBeUndefined();
        expect(() => registry.register(command('model hash'))).toThrow(/registered twice/);
        expect(() => registry.register(command('Bad Name'))).toThrow(/invalid command name/);
    });

    it('registers devnet, prints an overview, and exits 2 on an unknown command', async () => {
        expect(buildRegistry().list().map((c) => c.name)).toContain('devnet');
        const io = captureIo();
        expect(await main([], io)).toBe(0);
        expect(io.out.join('\n')).toMatch(/devnet +run a local TON devnet/);
        const unknown = captureIo();
        expect(await main(['fly'], unknown)).toBe(2);
        expect(unknown.err.join('\n')).toMatch(/unknown command "fly"/);
    });

    it('shows a command help, and refuses bad options with the help and exit code 2', async () => {
        const help = captureIo();
        expect(await main(['devnet', '--help'], help)).toBe(0);
        expect(help.out.join('\n')).toMatch(/Usage: cocoon devnet/);
        const bad = captureIo();
        expect(await main(['devnet', '--port', 'eighty'], bad)).toBe(2);
        expect(bad.err.join('\n')).toMatch(/--port must be 0\.\.65535, got "eighty"/);
        const unknownOption = captureIo();
        expect(await main(['devnet', '--colour'], unknownOption)).toBe(2);
        expect(unknownOption.err.join('\n')).toMatch(/Unknown option '--colour'/);
    });
    it("loads a command's module only when one of its commands runs or help lists them, and checks the names it declared", () => {
        const loads: string[] = [];
        const registry = new CommandRegistry()
            .registerLazy(['worker start', 'worker status'], () => (loads.push('worker'), [command('worker start'), command('worker status')]))
            .registerLazy(['model hash'], () => (loads.push('model'), [command('model hash')]));
        expect(registry.resolve(['worker', 'status', '--json'])?.args).toEqual(['--json']);
        expect(registry.resolve(['worker', 'start'])?.command.name).toBe('worker start');
        expect(loads).toEqual(['worker']);
        expect(registry.list().map((c) => c.name)).toEqual(['model hash', 'worker start', 'worker status']);
        expect(loads).toEqual(['worker', 'model']);
        expect(() => registry.registerLazy(['model hash'], () => [])).toThrow(/registered twice/);
        const drifted = new CommandRegistry().registerLazy(['deploy'], () => [command('deploy root')]);
        expect(() => drifted.resolve(['deploy'])).toThrow(/the module of "deploy" defines "deploy root" instead/);
    });

    it('`cocoon devnet` loads no worker, client or auditor code (a process of its own, as bin/cocoon.js runs it)', () => {
        const script = [
            "require('tsx/cjs');",
            `const { main } = require(${JSON.stringify(join(__dirname, '..', 'cli.ts'))});`,
            'const io = { stdout() {}, stderr() {}, env: {}, signal: new AbortController().signal };',
            "main(['devnet', '--help'], io).then((code) => {",
            "    const loaded = Object.keys(require.cache).filter((f) => /[\\/]agents[\\/](worker|client|auditor)[\\/]/.test(f));",
            '    process.stdout.write(JSON.stringify({ code, loaded }));',
            '});',
        ].join('\n');
        const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
        expect(result).toEqual({ code: 0, loaded: [] });
    });
});

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
});

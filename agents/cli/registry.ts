/**
 * The `cocoon` CLI is a registry of commands, one file each under `agents/cli/`. A command is
 * selected by one or more words (`devnet`, `model hash`, `worker start`); the longest match wins.
 * To add one: write `agents/cli/<name>.ts` exporting a `CliCommand`, and list it in
 * `agents/cli/commands.ts`.
 */
export interface CliIo {
    stdout(text: string): void;
    stderr(text: string): void;
    env: NodeJS.ProcessEnv;
    /** Aborted on SIGINT/SIGTERM: long-running commands shut down gracefully. */
    signal: AbortSignal;
}

export interface CliCommand {
    /** Space-separated words, e.g. "devnet" or "model hash". */
    name: string;
    /** One line for `cocoon --help`. */
    summary: string;
    /** Full help: usage line, options, examples. */
    help: string;
    /** Returns the process exit code. Throw `CliUsageError` for bad arguments (exit code 2). */
    run(args: string[], io: CliIo): Promise<number>;
}

/** Bad command-line arguments: printed with the command's help, exit code 2. */
export class CliUsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'CliUsageError';
    }
}

export class CommandRegistry {
    private readonly commands = new Map<string, CliCommand>();
    /** Commands whose module is not loaded yet: name → loader (shared by a module's commands). */
    private readonly lazy = new Map<string, () => void>();

    register(command: CliCommand): this {
        const key = this.keyOf(command.name);
        this.commands.set(key, command);
        return this;
    }

    /** Commands `names` of a module that `load` loads when one of them is first resolved or listed. */
    registerLazy(names: string[], load: () => CliCommand[]): this {
        const keys = names.map((name) => this.keyOf(name));
        let loaded = false;
        const loadAll = () => {
            if (loaded) return;
            const named = load().map((command) => [this.keyOf(command.name, false), command] as const);
            const defined = named.map(([key]) => key).sort();
            if (defined.join('|') !== [...keys].sort().join('|')) {
                throw new Error(`the module of "${keys.join('", "')}" defines ${defined.map((k) => `"${k}"`).join(', ') || 'no command'} instead`);
            }
            for (const key of keys) this.lazy.delete(key);
            for (const [key, command] of named) this.commands.set(key, command);
            loaded = true;
        };
        for (const key of keys) this.lazy.set(key, loadAll);
        return this;
    }

    /** The command named by the longest prefix of `argv`, and the remaining arguments. */
    resolve(argv: string[]): { command: CliCommand; args: string[] } | undefined {
        for (let words = Math.min(argv.length, 4); words >= 1; words--) {
            const key = argv.slice(0, words).join(' ');
            this.lazy.get(key)?.();
            const command = this.commands.get(key);
            if (command) return { command, args: argv.slice(words) };
        }
        return undefined;
    }

    list(): CliCommand[] {
        for (const load of new Set(this.lazy.values())) load();
        return [...this.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
    }

    private keyOf(name: string, fresh = true): string {
        const key = name.trim().split(/\s+/).join(' ');
        if (!/^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*$/.test(key)) throw new Error(`invalid command name "${name}"`);
        if (fresh && (this.commands.has(key) || this.lazy.has(key))) throw new Error(`command "${key}" is registered twice`);
        return key;
    }
}

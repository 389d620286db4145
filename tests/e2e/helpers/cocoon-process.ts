import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../agents/helpers/fixtures';

/**
 * `node bin/cocoon.js …` as a real child process, the way operators run the agents: its JSON
 * lines on stdout are parsed as they come, its stderr (JSON logs) is kept for assertions.
 */
export interface CocoonProcess {
    child: ChildProcess;
    /** stdout lines, parsed where they are JSON. */
    events: Record<string, any>[];
    stdout: string[];
    stderr: string[];
    exited: Promise<number | null>;
    /** Resolves with the first stdout event named `name` (rejects if the process exits first or after `timeoutMs`). */
    waitFor(name: string, timeoutMs?: number): Promise<Record<string, any>>;
    stop(): Promise<number | null>;
    kill9(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every process still running (afterAll). */
export function killAll(): void {
    for (const child of running) child.kill('SIGKILL');
}

export function spawnCocoon(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): CocoonProcess {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'cocoon.js'), ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, COCOON_WALLET_MNEMONIC: '', COCOON_AUDITOR_SEEDS: '', ...env },
        stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
    running.add(child);
    const stdout: string[] = [];
    const stderr: string[] = [];
    const events: Record<string, any>[] = [];
    const waiters: { name: string; resolve: (e: Record<string, any>) => void }[] = [];
    child.stderr!.on('data', (chunk) => stderr.push(String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    void exited.then(() => running.delete(child));
    const lines = createInterface({ input: child.stdout! });
    const closed = new Promise<void>((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => {
        stdout.push(line);
        let event: Record<string, any>;
        try {
            event = JSON.parse(line);
        } catch {
            return;
        }
        events.push(event);
        for (const w of waiters.filter((w) => w.name === event.event)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(event);
        }
    });
    return {
        child,
        events,
        stdout,
        stderr,
        // Exit after the last stdout line is read.
        exited: Promise.all([exited, closed]).then(([code]) => code),
        waitFor(name, timeoutMs = 120_000) {
            const seen = events.find((e) => e.event === name);
            if (seen) return Promise.resolve(seen);
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`cocoon ${args.slice(0, 2).join(' ')}: no "${name}" event in ${timeoutMs} ms:\n${stderr.join('').slice(-4000)}`)), timeoutMs);
                waiters.push({
                    name,
                    resolve: (e) => {
                        clearTimeout(timer);
                        resolve(e);
                    },
                });
                void exited.then((code) => {
                    clearTimeout(timer);
                    reject(new Error(`cocoon ${args.slice(0, 2).join(' ')} exited with ${code} before "${name}":\n${stderr.join('').slice(-4000)}`));
                });
            });
        },
        async stop() {
            child.kill('SIGTERM');
            return exited;
        },
        async kill9() {
            child.kill('SIGKILL');
            return exited;
        },
    };
}

/** Runs a command to completion (asynchronously: the test's own servers keep serving meanwhile). */
export async function runCocoon(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string; events: Record<string, any>[] }> {
    const p = spawnCocoon(args, env, stdin);
    const code = await p.exited;
    return { code, stdout: p.stdout.join('\n'), stderr: p.stderr.join(''), events: p.events };
}

import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './fixtures';

/** A `cocoon devnet` running as a real child process, the way agents share it. */
export interface DevnetProcess {
    url: string;
    jsonRpc: string;
    port: number;
    dataDir: string;
    child: ChildProcess;
    listening: Record<string, unknown>;
    output: string[];
    /** SIGTERM and wait (graceful). */
    stop(): Promise<number | null>;
    /** SIGKILL and wait (a crash). */
    kill9(): Promise<void>;
}

export async function startDevnet(options: { dataDir: string; port?: number; args?: string[] }): Promise<DevnetProcess> {
    const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bin', 'cocoon.js'), 'devnet', '--port', String(options.port ?? 0), '--data', options.dataDir, ...(options.args ?? [])],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    child.stderr!.on('data', (chunk) => output.push(String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout! });
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`devnet did not start within 30 s:\n${output.join('')}`)), 30_000);
        lines.on('line', (line) => {
            output.push(line);
            try {
                const event = JSON.parse(line);
                if (event.event === 'listening') {
                    clearTimeout(timer);
                    resolve(event);
                }
            } catch {
                /* not JSON */
            }
        });
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`devnet exited with ${code} before listening:\n${output.join('\n')}`));
        });
    });
    const url = String(listening.url);
    return {
        url,
        jsonRpc: String(listening.jsonRpc),
        port: Number(new URL(url).port),
        dataDir: options.dataDir,
        child,
        listening,
        output,
        async stop() {
            child.kill('SIGTERM');
            return exited;
        },
        async kill9() {
            child.kill('SIGKILL');
            await exited;
        },
    };
}

/** Asks the devnet faucet for `amount` nanoTON on `address`. */
export async function faucet(devnetUrl: string, address: string, amount: bigint): Promise<void> {
    const res = await fetch(`${devnetUrl}/faucet`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address, amount: amount.toString() }),
    });
    const body = (await res.json()) as { ok: boolean; error?: string };
    if (!body.ok) throw new Error(`faucet refused: ${body.error}`);
}

// `cocoon worker start --network local`: a worker alone on a throwaway in-process chain, with the
// real tiny model, started and stopped as a process.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';
import { REPO_ROOT, removeDir, tempDir, TINY_MODEL_DIR } from './helpers';

jest.setTimeout(120_000);

it('serves on a local in-process network after one command, and exits 0 on SIGTERM', async () => {
    await ensureTinyModel(TINY_MODEL_DIR);
    const dir = tempDir('worker-local');
    try {
        const config = join(dir, 'worker.json');
        writeFileSync(
            config,
            JSON.stringify({ network: 'local', dataDir: join(dir, 'data'), model: { engine: 'embedded', path: TINY_MODEL_DIR, threads: 1 }, prices: { prompt: '1', completion: '2' }, http: { port: 0 } }),
        );
        const env = { ...process.env };
        delete env.COCOON_WALLET_MNEMONIC;
        const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'cocoon.js'), 'worker', 'start', '--config', config], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        const stderr: string[] = [];
        child.stderr!.on('data', (c) => stderr.push(String(c)));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        const lines: Record<string, any>[] = [];
        const ready = await new Promise<Record<string, any>>((resolve, reject) => {
            createInterface({ input: child.stdout! }).on('line', (line) => {
                const event = JSON.parse(line);
                lines.push(event);
                if (event.event === 'ready') resolve(event);
            });
            void exited.then((code) => reject(new Error(`exited ${code}: ${stderr.join('')}`)));
        });
        expect(ready).toMatchObject({ network: 'local', status: 'active', actions: ['registered'] });
        const attestation = (await (await fetch(`${ready.url}/v1/attestation`)).json()) as Record<string, unknown>;
        expect(attestation).toMatchObject({ teeType: 'simulated', worker: ready.worker, root: ready.root });
        expect(((await (await fetch(`${ready.url}/healthz`)).json()) as Record<string, unknown>).status).toBe('ok');
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(lines.at(-1)).toEqual({ event: 'stopped', exitCode: 0 });
        expect(stderr.join('')).toMatch(/"event":"local-network"/);
    } finally {
        removeDir(dir);
    }
});

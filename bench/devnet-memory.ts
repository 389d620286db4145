/**
 * The devnet's memory under a fixed load, as the bench runs it: `cocoon devnet` in its own
 * process, driven over HTTP (not part of `npm run bench`):
 *
 *   npx tsx bench/devnet-memory.ts [ROUNDS] [BLOCK_EVERY] [-- devnet options...]
 *
 * A round is what a client SDK asks of the chain per fast-path request (getAddressInformation,
 * two get-methods in parallel, a page of transactions); every BLOCK_EVERY-th round also makes a
 * block (a faucet grant). Prints the devnet's peak RSS (VmHWM of /proc/<pid>/status) and its RSS
 * at each quarter and at the end, and the wall time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address } from '@ton/core';

const REPO_ROOT = resolve(__dirname, '..');

function memoryOf(pid: number): { rss: number; hwm: number } {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

async function call(url: string, method: string, params: Record<string, unknown>): Promise<unknown> {
    const res = await fetch(`${url}/jsonRPC`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1, jsonrpc: '2.0', method, params }) });
    const body = (await res.json()) as { ok: boolean; result?: unknown; error?: string };
    if (!body.ok) throw new Error(`${method}: ${body.error}`);
    return body.result;
}

(async () => {
    const cut = process.argv.indexOf('--');
    const positional = process.argv.slice(2, cut === -1 ? undefined : cut);
    const devnetArgs = cut === -1 ? [] : process.argv.slice(cut + 1);
    const rounds = Number(positional[0] ?? 1000);
    const blockEvery = Number(positional[1] ?? 10);
    const dir = mkdtempSync(join(tmpdir(), 'devnet-mem-'));
    const child = spawn(process.execPath, [...(process.env.DEVNET_NODE_FLAGS ?? '').split(' ').filter(Boolean), join(REPO_ROOT, 'bin', 'cocoon.js'), 'devnet', '--port', '0', '--data', dir, ...devnetArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listening = await new Promise<{ url: string; faucet: string }>((ok, fail) => {
        let buffered = '';
        child.stdout!.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            const line = buffered.split('\n').find((l) => l.includes('"listening"'));
            if (line) ok(JSON.parse(line));
        });
        child.once('exit', (code) => fail(new Error(`devnet exited with ${code}`)));
    });
    const pid = child.pid!;
    const url = listening.url;
    const faucetAddress = String(listening.faucet);
    console.log(`devnet ${devnetArgs.join(' ') || '(defaults)'}: opened, rss ${memoryOf(pid).rss.toFixed(0)} MiB`);
    const t0 = Date.now();
    for (let i = 0; i < rounds; i++) {
        if (i % blockEvery === 0) {
            await fetch(`${url}/faucet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: new Address(0, Buffer.alloc(32, (i % 40) + 1)).toString(), amount: '1000000000' }) });
        }
        await call(url, 'getAddressInformation', { address: faucetAddress });
        await Promise.all([call(url, 'runGetMethod', { address: faucetAddress, method: 'seqno', stack: [] }), call(url, 'runGetMethod', { address: faucetAddress, method: 'get_public_key', stack: [] })]);
        await call(url, 'getTransactions', { address: faucetAddress, limit: 10 });
        if ((i + 1) % Math.ceil(rounds / 4) === 0) console.log(`  after ${i + 1} rounds: rss ${memoryOf(pid).rss.toFixed(0)} MiB`);
    }
    const m = memoryOf(pid);
    console.log(`${rounds} rounds (${Math.ceil(rounds / blockEvery)} blocks) in ${((Date.now() - t0) / 1000).toFixed(1)} s (${((Date.now() - t0) / rounds).toFixed(1)} ms a round); peak RSS (VmHWM) ${m.hwm.toFixed(0)} MiB, RSS ${m.rss.toFixed(0)} MiB`);
    child.kill('SIGTERM');
    await new Promise((ok) => child.once('exit', ok));
    rmSync(dir, { recursive: true, force: true });
})();

// Measures the devnet's memory under a burst of blocks (faucet grants): rss, heap, external, arrayBuffers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { Devnet } from '../agents/chain/devnet/devnet';

const mib = (n: number) => (n / 2 ** 20).toFixed(1);
function report(label: string) {
    const m = process.memoryUsage();
    console.log(`${label}: rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} MiB`);
}
(async () => {
    const n = Number(process.argv[2] ?? 300);
    const dir = mkdtempSync(join(tmpdir(), 'devnet-mem-'));
    report('start');
    const devnet = await Devnet.open({ dataDir: dir });
    report('opened');
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
        await devnet.faucet(new Address(0, Buffer.alloc(32, (i % 40) + 1)), 1_000_000_000n);
        peak = Math.max(peak, process.memoryUsage().rss);
    }
    console.log(`${n} blocks in ${Date.now() - t0} ms`);
    report('after load');
    (global as any).gc?.();
    report('after gc');
    console.log(`peak rss ${mib(peak)} MiB`);
    clearInterval(timer);
    await devnet.close();
    const reopened = await Devnet.open({ dataDir: dir });
    console.log(`reopened at seqno ${reopened.seqno}`);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
})();

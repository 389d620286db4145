// Adversarial tests of the worker agent's storage (docs/security.md, "Agents"): a model folder
// changed after its hash was registered in Root, and a signing journal on a disk that fills up.
// The real agent, the real contracts on a sandbox chain, the real tiny model, and a real tmpfs
// (mounted by the test; it needs root with CAP_SYS_ADMIN, as in this project's CI container).
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { Wallet } from '../../../agents/chain/wallet';
import { openOnChain } from '../../../agents/worker/chain-access';
import { ModelNotAllowedError } from '../../../agents/worker/errors';
import { computeManifest } from '../../../agents/inference/model-identity';
import { Worker } from '../../../wrappers';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, TestClient, TINY_MODEL_DIR, workerConfig } from '../../worker-agent/helpers';

jest.setTimeout(120_000);

describe('worker agent storage under attack', () => {
    let world: SandboxWorld;
    beforeAll(async () => {
        world = await sandboxWorld();
    });
    afterAll(async () => {
        await world?.engine.close();
    });
    const balance = async (address: import('@ton/core').Address) => (await world.net.blockchain.getContract(address)).balance;

    it('refuses to start on a model folder changed after its hash was registered (ModelNotAllowedError), sending nothing, and starts once it is restored', async () => {
        const dir = tempDir('sec-model');
        const modelDir = join(dir, 'model');
        cpSync(TINY_MODEL_DIR, modelDir, { recursive: true });
        const wallet: Wallet = await fundedWallet(world.net);
        const config = workerConfig(world, join(dir, 'data'), { model: { engine: 'embedded', path: modelDir } });
        try {
            // Registered with the folder as Root allows it (the engine is loaded from the folder).
            const first = await startAgent(world, config, wallet, { engine: undefined });
            expect(first.modelHash).toBe(world.modelHash);
            const worker = first.worker;
            await first.stop();

            // One byte appended to a file the model loads: another hash, not on Root's allow-list.
            const file = join(modelDir, 'tokenizer_config.json');
            const original = readFileSync(file);
            appendFileSync(file, '\n');
            const tampered = (await computeManifest(modelDir)).hash;
            expect(tampered).not.toBe(world.modelHash);
            const walletBefore = await balance(wallet.address);
            const workerBefore = await balance(worker);
            const pricesBefore = await openOnChain(world.chain, Worker.fromAddress(worker)).getPrices();

            const refused = await startAgent(world, config, wallet, { engine: undefined }).then(
                async (agent) => {
                    await agent.stop();
                    return undefined;
                },
                (error: unknown) => error,
            );
            expect(refused).toBeInstanceOf(ModelNotAllowedError);
            expect((refused as Error).message).toContain(tampered);
            expect((refused as Error).message).toMatch(/not on Root's allow-list.*restore its files/);
            // Nothing was sent: no gas spent, no prices set for the tampered hash.
            expect(await balance(wallet.address)).toBe(walletBefore);
            expect(await balance(worker)).toBe(workerBefore);
            const pricesAfter = await openOnChain(world.chain, Worker.fromAddress(worker)).getPrices();
            expect([...pricesAfter.keys()]).toEqual([...pricesBefore.keys()]);
            expect(pricesAfter.get(BigInt('0x' + tampered))).toBeUndefined();

            // The original bytes back: it starts and serves the registered model.
            writeFileSync(file, original);
            const again = await startAgent(world, config, wallet, { engine: undefined });
            try {
                expect(again.modelHash).toBe(world.modelHash);
                const client = await TestClient.open(world, again, toNano('2'));
                const job = await client.chat(1n, 'restored', 2);
                expect(job.status).toBe(200);
                expect(job.v!.signatureValid).toBe(true);
            } finally {
                await again.stop();
            }
        } finally {
            removeDir(dir);
        }
    });

    describe('a full disk under the signing journal', () => {
        let mnt: string;
        beforeAll(() => {
            mnt = tempDir('sec-disk');
            try {
                execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'cocoon-sec-tmpfs', mnt], { stdio: 'pipe' });
            } catch (error) {
                throw new Error(`this test mounts a 1 MiB tmpfs to fill it and needs root with CAP_SYS_ADMIN: ${(error as Error).message}`);
            }
        });
        afterAll(() => {
            try {
                execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
            } finally {
                removeDir(mnt);
            }
        });

        /** Writes a filler file until the filesystem answers ENOSPC; returns its path. */
        const fillDisk = (): string => {
            const filler = join(mnt, 'filler');
            const fd = openSync(filler, 'w');
            try {
                for (const size of [64 * 1024, 4096, 1]) {
                    const chunk = Buffer.alloc(size, 0x55);
                    for (;;) {
                        try {
                            writeSync(fd, chunk);
                        } catch (error) {
                            if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
                            throw error;
                        }
                    }
                }
            } finally {
                closeSync(fd);
            }
            return filler;
        };

        it('answers 503 journal_unwritable, signs nothing and stops (exit 1) when the journal cannot grow; after space is freed a restart serves again with every receipt kept', async () => {
            const dataDir = join(mnt, 'data');
            mkdirSync(dataDir);
            const wallet = await fundedWallet(world.net);
            // A slow watcher: the job below is the journal's next writer.
            const config = workerConfig(world, dataDir, { watcher: { pollIntervalMs: 600_000 } });
            const agent = await startAgent(world, config, wallet);
            const client = await TestClient.open(world, agent, toNano('5'));
            const before = await client.chat(1n, 'before the disk filled', 3);
            expect(before.status).toBe(200);
            const signed = agent.metrics.receiptsSigned.get();

            const filler = fillDisk();
            // Jobs (and their vouchers) go on while the journal's last page still has room; the
            // first write that needs a new page fails. Whatever step it hits, the answer is 503.
            const served: { seq: bigint; signature: string }[] = [];
            let refused: { seq: bigint; step: 'job' | 'voucher'; status: number; body: { error: { code: string; message: string } } } | undefined;
            for (let seq = 2n; seq < 40n && !refused; seq++) {
                const payload = { messages: [{ role: 'user', content: `seq ${seq} `.padEnd(400, 'x') }], max_tokens: 2 };
                const { res, sealed } = await client.post(seq, payload);
                const body = (await res.json()) as Record<string, any>;
                if (res.status !== 200) {
                    refused = { seq, step: 'job', status: res.status, body: body as never };
                    break;
                }
                const v = client.verify(seq, payload, body, sealed.replyKeyPair.secretKey);
                expect(v.signatureValid).toBe(true);
                served.push({ seq, signature: body.signature });
                const paid = await client.voucher(client.owed);
                if (paid.status !== 200) refused = { seq, step: 'voucher', status: paid.status, body: paid.body as never };
            }
            expect(refused).toBeDefined();
            expect(refused!.status).toBe(503);
            expect(refused!.body.error.code).toBe('journal_unwritable');
            expect(refused!.body.error.message).toMatch(/cannot be written.*ENOSPC/);
            const done = await agent.done;
            expect(done.exitCode).toBe(1);
            expect(done.error?.name).toBe('JournalUnwritableError');
            // Every receipt signed is one the client holds (nothing signed without its record, checked after the restart).
            expect(agent.metrics.receiptsSigned.get()).toBe(signed + served.length);
            await expect(fetch(`${agent.url}/healthz`)).rejects.toThrow();

            // Space back; the supervisor restarts the agent on the same data directory.
            rmSync(filler);
            const restarted = await startAgent(world, config, wallet);
            try {
                client.agent = restarted;
                for (const { seq, signature } of [{ seq: 1n, signature: before.body.signature as string }, ...served]) {
                    const record = restarted.journal.job(client.address, seq);
                    expect(record?.state).toBe('signed');
                    expect(record!.signature!.toString('base64')).toBe(signature);
                }
                if (refused!.step === 'job') expect(restarted.journal.job(client.address, refused!.seq)?.state).not.toBe('signed');
                // The client pays what it owes, and the worker serves again.
                expect((await client.voucher(client.owed)).status).toBe(200);
                const next = await client.chat(100n, 'after the restart', 2);
                expect(next.status).toBe(200);
                expect(next.v!.signatureValid && next.v!.inputHashMatches).toBe(true);
            } finally {
                await restarted.stop();
            }
        });
    });
});

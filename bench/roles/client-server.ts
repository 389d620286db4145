/**
 * The client's OpenAI-compatible server as its own process, for the bench (so its RSS is its
 * own): a CocoonClient on the devnet (toncenter API) pinned to one worker, behind
 * startClientServer. Configured by the JSON in $BENCH_CLIENT; prints one line
 * {"event":"ready","url":...} when it serves, and stops on SIGTERM.
 */
import { appendFileSync } from 'node:fs';
import { Address, toNano } from '@ton/core';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Wallet } from '../../agents/chain/wallet';
import { CocoonClient } from '../../agents/client/client';
import { startClientServer } from '../../agents/client/openai-server';

interface RoleConfig {
    endpoint: string;
    root: string;
    mnemonicFile: string;
    stateDir: string;
    worker: string;
    deposit: string;
    maxConcurrent: number;
    /** Where the client's log entries go, one JSON line each. */
    logFile: string;
}

async function main(): Promise<void> {
    const config = JSON.parse(process.env.BENCH_CLIENT ?? '') as RoleConfig;
    const client = await CocoonClient.create({
        chain: new ToncenterChain({ endpoint: config.endpoint }),
        root: Address.parse(config.root),
        wallet: await Wallet.load({ file: config.mnemonicFile }),
        stateDir: config.stateDir,
        workers: [Address.parse(config.worker)],
        autoDeposit: toNano(config.deposit),
        autoTopUp: toNano(config.deposit),
        pollIntervalMs: 200,
        log: (entry) => appendFileSync(config.logFile, JSON.stringify(entry) + '\n'),
    });
    const server = await startClientServer({ client, port: 0, maxConcurrent: config.maxConcurrent });
    process.stdout.write(JSON.stringify({ event: 'ready', url: server.url }) + '\n');
    process.once('SIGTERM', () => {
        void (async () => {
            await server.close();
            await client.close();
            process.exit(0);
        })();
    });
}

main().catch((error: unknown) => {
    process.stderr.write(`client-server: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
});

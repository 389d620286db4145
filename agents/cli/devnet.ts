import { parseArgs } from 'node:util';
import { toNano } from '@ton/core';
import { Devnet } from '../chain/devnet/devnet';
import { startDevnetServer } from '../chain/devnet/server';
import { CliCommand, CliUsageError } from './registry';

const HELP = `Usage: cocoon devnet [--port N] [--data DIR] [--host ADDR] [--faucet-max TON] [--snapshot-interval MS] [--optimize-for-speed] [--log-requests]

Serves a local TON chain (@ton/sandbox) over the toncenter v2 HTTP API, so the worker, client
and auditor can share one chain as separate processes, exactly as they would share testnet.
Every change (block) is journalled in DIR with the accounts it changed before it is answered; the
whole state is rewritten at most every --snapshot-interval, and on stop; a restart (also after
kill -9) loads it and replays the blocks after it. The chain's time follows the wall clock.

Options:
  --port N          TCP port on the host (default 8081; 0 picks a free one)
  --host ADDR       interface to listen on (default 127.0.0.1)
  --data DIR        data directory (default .devnet)
  --faucet-max TON  largest faucet grant per request (default 10000)
  --snapshot-interval MS  rewrite DIR/state.json at most this often while blocks come (default
                    5000; 0 = after every block)
  --optimize-for-speed  run V8 with its default heap sizing; by default bin/cocoon.js starts the
                    devnet with V8's --optimize-for-size, which keeps its RSS lower under load
  --log-requests    print one JSON line per request

Endpoints:  POST /jsonRPC (also /api/v2/jsonRPC), GET|POST /api/v2/<method>, POST /faucet
            {"address": "...", "amount": "<nanoTON>"}, GET /health

On start it prints one JSON line: {"event":"listening","url":...,"jsonRpc":...}.
Example:    cocoon devnet --port 8081 --data .devnet`;

function parsePort(text: string): number {
    const port = Number(text);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--port must be 0..65535, got "${text}"`);
    return port;
}

function parseTon(text: string): bigint {
    try {
        const value = toNano(text);
        if (value <= 0n) throw new Error('not positive');
        return value;
    } catch {
        throw new CliUsageError(`--faucet-max must be a positive amount of TON, got "${text}"`);
    }
}

export const devnetCommand: CliCommand = {
    name: 'devnet',
    summary: 'run a local TON devnet with the toncenter v2 API and a faucet',
    help: HELP,
    async run(args, io) {
        let values;
        try {
            ({ values } = parseArgs({
                args,
                options: {
                    port: { type: 'string' },
                    host: { type: 'string' },
                    data: { type: 'string' },
                    'faucet-max': { type: 'string' },
                    'snapshot-interval': { type: 'string' },
                    'optimize-for-speed': { type: 'boolean' },
                    'log-requests': { type: 'boolean' },
                },
                strict: true,
                allowPositionals: false,
            }));
        } catch (error) {
            throw new CliUsageError((error as Error).message);
        }
        const port = parsePort(values.port ?? '8081');
        const host = values.host ?? '127.0.0.1';
        const dataDir = values.data ?? '.devnet';
        const faucetMax = parseTon(values['faucet-max'] ?? '10000');

        const intervalText = values['snapshot-interval'] ?? '5000';
        const snapshotIntervalMs = Number(intervalText);
        if (!/^\d+$/.test(intervalText) || snapshotIntervalMs > 3_600_000) throw new CliUsageError(`--snapshot-interval must be 0..3600000 ms, got "${intervalText}"`);

        const devnet = await Devnet.open({ dataDir, faucetMax, snapshotIntervalMs });
        let fatal = false;
        const stopped = new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
        let stopOnFatal: () => void = () => undefined;
        const fatalStop = new Promise<void>((resolve) => (stopOnFatal = resolve));
        let server;
        try {
            server = await startDevnetServer(devnet, {
                host,
                port,
                log: (entry) => {
                    if (values['log-requests']) io.stdout(JSON.stringify(entry));
                    if (devnet.fatalError && !fatal) {
                        fatal = true;
                        io.stderr(JSON.stringify({ event: 'fatal', error: devnet.fatalError.message }));
                        stopOnFatal();
                    }
                },
            });
        } catch (error) {
            await devnet.close();
            if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`port ${port} on ${host} is in use; choose another with --port`);
            throw error;
        }
        io.stdout(
            JSON.stringify({
                event: 'listening',
                url: server.url,
                jsonRpc: `${server.url}/jsonRPC`,
                dataDir: devnet.dataDir,
                seqno: devnet.seqno,
                faucet: devnet.faucetAddress.toString(),
                recoveredFromCrash: devnet.recoveredFromCrash,
            }),
        );
        await Promise.race([stopped, fatalStop]);
        await server.close();
        await devnet.close();
        io.stdout(JSON.stringify({ event: 'stopped', seqno: devnet.seqno }));
        return fatal ? 1 : 0;
    },
};

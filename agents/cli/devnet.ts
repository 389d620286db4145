import { parseArgs } from 'node:util';
import { toNano } from '@ton/core';
import { Devnet } from '../chain/devnet/devnet';
import { startDevnetServer } from '../chain/devnet/server';
import { CliCommand, CliUsageError } from './registry';

const HELP = `Usage: cocoon devnet [--port N] [--data DIR] [--host ADDR] [--faucet-max TON] [--log-requests]

Serves a local TON chain (@ton/sandbox) over the toncenter v2 HTTP API, so the worker, client
and auditor can share one chain as separate processes, exactly as they would share testnet.
State (balances, contracts, transactions) is written to DIR after every change and reloaded on
restart. The chain's time follows the wall clock.

Options:
  --port N          TCP port on the host (default 8081; 0 picks a free one)
  --host ADDR       interface to listen on (default 127.0.0.1)
  --data DIR        data directory (default .devnet)
  --faucet-max TON  largest faucet grant per request (default 10000)
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

        const devnet = await Devnet.open({ dataDir, faucetMax });
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

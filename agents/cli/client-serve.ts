import { startClientServer } from '../client/openai-server';
import { CLIENT_OPTIONS_HELP, clientConfigOf, openClient, parseClientArgs } from './client-common';
import { print, stopRequested, withErrors } from './options';
import { CliCommand, CliUsageError } from './registry';

const HELP = `Usage: cocoon client serve --config FILE [--port N] [--host ADDR]

Serves the OpenAI-compatible API on 127.0.0.1 (docs/operators.md): POST /v1/chat/completions
(streaming with "stream": true, and not) and GET /v1/models. Each completion is one Cocoon job
through the client SDK: sealed to an attested enclave, paid by voucher; "usage" carries its cost
in nanoTON ("cost_nanoton"). Code written for OpenAI works by changing its base URL to
http://127.0.0.1:PORT/v1. When COCOON_CLIENT_API_KEY (or server.apiKeyEnv) is set, requests
must carry "Authorization: Bearer <key>". Runs until SIGTERM/SIGINT.
On start it prints one JSON line: {"event":"listening","url":...}.

  --port N           port (overrides server.port, default 8787; 0 picks a free one)
  --host ADDR        interface (overrides server.host, default 127.0.0.1)

${CLIENT_OPTIONS_HELP}`;

export const clientServeCommand: CliCommand = {
    name: 'client serve',
    summary: 'serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) on 127.0.0.1',
    help: HELP,
    run: (args, io) =>
        withErrors(io, 'client serve', async () => {
            const { values } = parseClientArgs(args, { port: { type: 'string' }, host: { type: 'string' } });
            let port: number | undefined;
            if (values.port !== undefined) {
                port = Number(values.port);
                if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--port must be 0..65535, got "${values.port}"`);
            }
            const config = clientConfigOf(values, io, port);
            const host = typeof values.host === 'string' ? values.host : config.server.host;
            const client = await openClient(config, io);
            let server;
            try {
                server = await startClientServer({
                    client,
                    host,
                    port: config.server.port,
                    apiKey: config.server.apiKey,
                    maxBodyBytes: config.server.maxBodyBytes,
                    maxConcurrent: config.server.maxConcurrent,
                    requestTimeoutMs: config.server.requestTimeoutMs,
                    log: (entry) => io.stderr(JSON.stringify({ ts: new Date().toISOString(), level: 'info', agent: 'client-server', ...entry })),
                });
            } catch (error) {
                await client.close();
                throw error;
            }
            print(io, { event: 'listening', url: server.url, root: config.root, wallet: client.wallet.address, network: config.network, auth: config.server.apiKey !== undefined });
            // Posted on-chain jobs whose worker never answered are expired (and compensated) in the background.
            const settle = setInterval(() => {
                client.settleOnChainJobs().then(
                    (done) => {
                        if (done.expired.length + done.finalized.length > 0) print(io, { event: 'settled', expired: done.expired, finalized: done.finalized });
                    },
                    () => undefined,
                );
            }, Math.max(config.pollIntervalMs * 10, 5_000));
            await stopRequested(io);
            clearInterval(settle);
            await server.close();
            await client.close();
            print(io, { event: 'stopped' });
            return 0;
        }),
};

/**
 * `npm start [-- options]`: the whole Cocoon network in one process (see agents/demo/network.ts).
 * Prints one line per step with its timing, then a report; exit 0 on success, 1 when a step
 * fails, 2 on a bad option.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startClientServer } from '../client/openai-server';
// The flow (./network) imports the contracts' wrappers, which need the build output: it is
// loaded only once ensureBuilt() made sure that exists.
import type { DemoReport, DemoStep } from './network';
import { DEFAULT_TINY_MODEL_DIR, ensureBuilt, formatTon as ton } from './prepare';

export const USAGE = `Usage: npm start -- [options]

Runs the whole Cocoon network in one process, with no network access and no configuration:
an in-process TON chain (@ton/sandbox), Root with dev params, the tiny model, a worker agent
(HTTP API on 127.0.0.1, simulated enclave) approved by an auditor agent, and a client that
verifies the worker, opens a channel, sends encrypted requests paid by vouchers, runs one
on-chain job, and closes the channel after the worker's final settlement.

Options:
  --requests N     fast-path chat requests before the on-chain job (1-100, default 3)
  --max-tokens N   tokens per answer (1-64, default 16)
  --model DIR      model folder (default ${DEFAULT_TINY_MODEL_DIR}, written if missing)
  --keep-running   after the report, keep the worker's HTTP API and the client's
                   OpenAI-compatible server up and print their URLs, until Ctrl-C
  --json           print the report as JSON on stdout (progress goes to stderr)
  --quiet          print only the report
  -h, --help       show this help
`;

export interface DemoArgs {
    requests: number;
    maxTokens: number;
    modelDir?: string;
    keepRunning: boolean;
    json: boolean;
    quiet: boolean;
    help: boolean;
}

export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'UsageError';
    }
}

function wholeNumber(flag: string, value: string | undefined, min: number, max: number): number {
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return Number(value);
}

export function parseDemoArgs(argv: string[]): DemoArgs {
    const args: DemoArgs = { requests: 3, maxTokens: 16, keepRunning: false, json: false, quiet: false, help: false };
    for (let i = 0; i < argv.length; i++) {
        const raw = argv[i];
        const eq = raw.indexOf('=');
        const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
        const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
        const value = () => (inline !== undefined ? inline : argv[++i]);
        switch (flag) {
            case '--requests':
                args.requests = wholeNumber(flag, value(), 1, 100);
                break;
            case '--max-tokens':
                args.maxTokens = wholeNumber(flag, value(), 1, 64);
                break;
            case '--model': {
                const v = value();
                if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError('--model needs a folder');
                args.modelDir = v;
                break;
            }
            case '--keep-running':
            case '--json':
            case '--quiet':
            case '--help':
            case '-h':
                if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
                if (flag === '--keep-running') args.keepRunning = true;
                else if (flag === '--json') args.json = true;
                else if (flag === '--quiet') args.quiet = true;
                else args.help = true;
                break;
            default:
                throw new UsageError(raw.startsWith('-') ? `unknown option ${flag}` : `unexpected argument ${JSON.stringify(raw)}`);
        }
    }
    return args;
}

function isModelFolder(dir: string): boolean {
    try {
        return statSync(dir).isDirectory() && existsSync(join(dir, 'config.json'));
    } catch {
        return false;
    }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function formatStep(step: DemoStep): string {
    return `[${String(step.index).padStart(2)}] ${step.name.padEnd(16)} ${secs(step.ms).padStart(8)}  ${step.detail}`;
}

export function formatReport(report: DemoReport): string {
    const m = report.money;
    const lines = [
        '',
        'Report',
        `  answers (${report.answers.length}):`,
        ...report.answers.map((a) => `    ${a.path.padEnd(7)} seq ${a.seq.padEnd(20)} ${JSON.stringify(a.prompt)} → ${JSON.stringify(a.content)}  ${a.promptTokens}+${a.completionTokens} tokens, ${ton(BigInt(a.cost))} TON`),
        `  tokens: ${report.tokens.prompt} prompt + ${report.tokens.completion} completion = ${report.tokens.total}`,
        `  settlement: ${report.settlement.receipts} receipts, batch root ${report.settlement.batchRoot}, ${ton(BigInt(report.settlement.cumulative))} TON${report.settlement.final ? ' (final)' : ''}`,
        `  close: ${report.close.how === 'final-settle' ? 'RequestClose, then the final Settle closed it' : 'RequestClose, then FinalizeClose after the delay'}; refund ${ton(BigInt(report.close.refund))} TON; left in the channel ${ton(BigInt(m.channelLeft))} TON`,
        '  money (TON):',
        `    client spent           ${ton(BigInt(m.clientSpent))}  = inference ${ton(BigInt(m.clientPaidForInference))} + gas and fees ${ton(BigInt(m.clientGasAndFees))}`,
        `    worker payee earned    ${ton(BigInt(m.workerEarned))}  (wallet ${ton(BigInt(m.workerWalletChange))} after staking ${ton(BigInt(m.workerStake))}; gas and fees ${ton(BigInt(m.workerGasAndFees))})`,
        `    Root protocol fees     ${ton(BigInt(m.rootFees))}` +
            (m.rootFeesCounted === m.rootFees ? '' : `  (Root counted ${ton(BigInt(m.rootFeesCounted))}: its ProtocolFee receiver failed; the coins stay in Root's balance uncounted)`),
        `    auditor gas and fees   ${ton(BigInt(m.auditorGasAndFees))}`,
        `    governance spent       ${ton(BigInt(m.governanceSpent))}  (Root deployment and setup)`,
        `  chain: Root ${report.chain.root}, Worker ${report.chain.worker}, Channel ${report.chain.channel}; time travelled ${report.chain.timeTravelSeconds} s`,
        `  time: ${secs(report.totalMs)} in all`,
    ];
    return lines.join('\n');
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
    let args: DemoArgs;
    try {
        args = parseDemoArgs(argv);
    } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        err(`error: ${error.message}\n`);
        err(USAGE);
        return 2;
    }
    if (args.help) {
        out(USAGE);
        return 0;
    }
    if (args.modelDir !== undefined && !isModelFolder(args.modelDir)) {
        err(`error: --model ${args.modelDir} is not a model folder (no config.json in it)\n`);
        err(USAGE);
        return 2;
    }
    const progress = args.quiet ? () => undefined : args.json ? err : out;
    progress(`Cocoon on TON: the whole network in one process (${args.requests} requests + 1 on-chain job)`);
    let run;
    try {
        ensureBuilt(err);
        const { runDemo } = await import('./network');
        run = await runDemo({ requests: args.requests, maxTokens: args.maxTokens, modelDir: args.modelDir, onStep: (s) => progress(formatStep(s)) });
    } catch (error) {
        err(`demo failed: ${(error as Error).message}`);
        return 1;
    }
    const { report, network } = run;
    if (args.json) out(JSON.stringify(report, null, 2));
    else out(formatReport(report));
    if (!args.keepRunning) {
        await network.stop();
        return 0;
    }
    const server = await startClientServer({ client: network.client, port: 0 });
    // The URLs are what --keep-running is for: printed even with --quiet (on stderr with --json).
    const say = args.json ? err : out;
    say('');
    say(`Worker HTTP API:                 ${network.worker.url}  (public endpoint ${network.relay.url})`);
    say(`OpenAI-compatible client server: ${server.url}/v1  (model ${report.chain.modelHash})`);
    say(`  try: curl -s ${server.url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${report.chain.modelHash}","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'`);
    say('Running until Ctrl-C.');
    await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
    });
    await server.close();
    await network.stop();
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
            process.exit(1);
        },
    );
}

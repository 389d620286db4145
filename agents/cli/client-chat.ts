import { readFileSync } from 'node:fs';
import { fromNano } from '@ton/core';
import { CLIENT_OPTIONS_HELP, clientConfigOf, openClient, parseClientArgs } from './client-common';
import { addressOf, print, withErrors } from './options';
import { CliCommand, CliUsageError } from './registry';

const HELP = `Usage: cocoon client chat --config FILE --model NAME|HASH [--max-tokens N] [--worker ADDRESS] [--system TEXT] "PROMPT"

Sends one chat request through the client SDK: picks a verified worker, seals the prompt to its
attested enclave, pays by voucher on a channel (opening one when "autoDeposit" is set), checks
the signed receipt, and prints one JSON line:
  {"event":"answer","content":...,"usage":{"promptTokens":..,"completionTokens":..,"totalTokens":..,
   "cost":"<nanoTON>"},"costTon":"0.000…","path":"fast"|"onchain","worker":...,"channel":...,"seq":...}
When the worker's endpoint is unreachable the SDK posts the job on-chain instead (fallback).
"-" as PROMPT reads it from stdin.

  --model NAME|HASH  a model name workers advertise (or pinned in "models") or its hash
  --max-tokens N     completion budget (default: the worker's limit)
  --worker ADDRESS   use this worker only
  --system TEXT      a system message before the prompt

${CLIENT_OPTIONS_HELP}`;

export const clientChatCommand: CliCommand = {
    name: 'client chat',
    summary: 'send one encrypted chat request and print the answer, tokens and cost',
    help: HELP,
    run: (args, io) =>
        withErrors(io, 'client chat', async () => {
            const { values, positionals } = parseClientArgs(args, { model: { type: 'string' }, 'max-tokens': { type: 'string' }, worker: { type: 'string' }, system: { type: 'string' } }, true);
            if (positionals.length !== 1) throw new CliUsageError('give exactly one PROMPT (quote it), or "-" to read it from stdin');
            if (typeof values.model !== 'string') throw new CliUsageError('--model NAME|HASH is required');
            let maxTokens: number | undefined;
            if (values['max-tokens'] !== undefined) {
                maxTokens = Number(values['max-tokens']);
                if (!Number.isSafeInteger(maxTokens) || maxTokens <= 0) throw new CliUsageError(`--max-tokens must be a positive whole number, got "${values['max-tokens']}"`);
            }
            const worker = typeof values.worker === 'string' ? addressOf(values.worker, '--worker') : undefined;
            const prompt = positionals[0] === '-' ? readFileSync(0, 'utf8') : positionals[0];
            if (prompt.trim() === '') throw new CliUsageError('the prompt is empty');
            const config = clientConfigOf(values, io);
            const client = await openClient(config, io);
            try {
                const messages = [...(typeof values.system === 'string' ? [{ role: 'system', content: values.system }] : []), { role: 'user', content: prompt }];
                const result = await client.chat({ model: values.model, messages, max_tokens: maxTokens, worker, signal: io.signal });
                print(io, {
                    event: 'answer',
                    content: result.content,
                    finishReason: result.finishReason,
                    model: result.model,
                    modelHash: result.modelHash,
                    usage: result.usage,
                    costTon: fromNano(result.usage.cost),
                    path: result.path,
                    worker: result.worker,
                    channel: result.channel,
                    seq: result.seq,
                    ...(result.voucherCumulative !== undefined ? { voucherCumulative: result.voucherCumulative } : {}),
                });
                return 0;
            } finally {
                await client.close();
            }
        }),
};

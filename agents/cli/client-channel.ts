import { fromNano, toNano } from '@ton/core';
import { CLIENT_OPTIONS_HELP, clientConfigOf, openClient, parseClientArgs } from './client-common';
import { addressOf, print, withErrors } from './options';
import { CliCommand, CliUsageError } from './registry';

/** `cocoon client channel open|topup|close`: the client's payment channels, from its own wallet. */
function amountOf(text: unknown, what: string): bigint {
    if (typeof text !== 'string') throw new CliUsageError(`${what} TON is required`);
    if (!/^\d{1,12}(\.\d{1,9})?$/.test(text) || toNano(text) === 0n) throw new CliUsageError(`${what} must be a positive amount of TON with at most 9 decimals, e.g. 2 or 0.5; got "${text}"`);
    return toNano(text);
}

const OPEN_HELP = `Usage: cocoon client channel open --config FILE --worker ADDRESS --deposit TON

Verifies the worker (genuine Worker contract of this Root, attestation, evidence), then opens
a payment channel with it from the client wallet, depositing TON (at least Root's
minChannelDeposit). Idempotent: an open channel with this worker is reused. Prints
{"event":"channel-open","channel":...,"worker":...,"deposit":...,"free":...}.

${CLIENT_OPTIONS_HELP}`;

export const clientChannelOpenCommand: CliCommand = {
    name: 'client channel open',
    summary: 'open a payment channel with a verified worker',
    help: OPEN_HELP,
    run: (args, io) =>
        withErrors(io, 'client channel open', async () => {
            const { values } = parseClientArgs(args, { worker: { type: 'string' }, deposit: { type: 'string' } });
            if (typeof values.worker !== 'string') throw new CliUsageError('--worker ADDRESS is required');
            const worker = addressOf(values.worker, '--worker');
            const deposit = amountOf(values.deposit, '--deposit');
            const client = await openClient(clientConfigOf(values, io), io);
            try {
                const record = await client.openChannel(worker, deposit);
                const view = await client.channels.read(record.address);
                print(io, { event: 'channel-open', channel: record.address, worker: record.worker, deposit: fromNano(view?.state.deposit ?? deposit), free: fromNano(view?.state.free ?? 0n) });
                return 0;
            } finally {
                await client.close();
            }
        }),
};

const TOPUP_HELP = `Usage: cocoon client channel topup --config FILE --channel ADDRESS --amount TON

Adds TON to an open channel's deposit from the client wallet. Prints
{"event":"channel-topup","channel":...,"deposit":...,"free":...}.

${CLIENT_OPTIONS_HELP}`;

export const clientChannelTopUpCommand: CliCommand = {
    name: 'client channel topup',
    summary: "add TON to an open channel's deposit",
    help: TOPUP_HELP,
    run: (args, io) =>
        withErrors(io, 'client channel topup', async () => {
            const { values } = parseClientArgs(args, { channel: { type: 'string' }, amount: { type: 'string' } });
            if (typeof values.channel !== 'string') throw new CliUsageError('--channel ADDRESS is required');
            const channel = addressOf(values.channel, '--channel');
            const amount = amountOf(values.amount, '--amount');
            const client = await openClient(clientConfigOf(values, io), io);
            try {
                const state = await client.topUp(channel, amount);
                print(io, { event: 'channel-topup', channel, deposit: fromNano(state.deposit), free: fromNano(state.free) });
                return 0;
            } finally {
                await client.close();
            }
        }),
};

const CLOSE_HELP = `Usage: cocoon client channel close --config FILE --channel ADDRESS

Closes a channel: hands the worker the last voucher, sends RequestClose, and once the close
delay has passed (the worker's time to settle) FinalizeClose, which returns what is left of the
deposit to the client wallet. Run it again after "closeAt" when it prints "closed": false.
Prints {"event":"channel-close","channel":...,"closed":true|false,"closeAt":...}.

${CLIENT_OPTIONS_HELP}`;

export const clientChannelCloseCommand: CliCommand = {
    name: 'client channel close',
    summary: 'close a channel (request, then finalize after the close delay)',
    help: CLOSE_HELP,
    run: (args, io) =>
        withErrors(io, 'client channel close', async () => {
            const { values } = parseClientArgs(args, { channel: { type: 'string' } });
            if (typeof values.channel !== 'string') throw new CliUsageError('--channel ADDRESS is required');
            const channel = addressOf(values.channel, '--channel');
            const client = await openClient(clientConfigOf(values, io), io);
            try {
                const outcome = await client.closeChannel(channel);
                print(io, {
                    event: 'channel-close',
                    channel,
                    closed: outcome.closed,
                    closeAt: outcome.closeAt,
                    ...(outcome.closed ? {} : { finalizeFrom: new Date(Number(outcome.closeAt) * 1000).toISOString() }),
                });
                return 0;
            } finally {
                await client.close();
            }
        }),
};

export const clientChannelCommands: CliCommand[] = [clientChannelOpenCommand, clientChannelTopUpCommand, clientChannelCloseCommand];

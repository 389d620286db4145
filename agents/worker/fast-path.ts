import { Address } from '@ton/core';
import { ENVELOPE_OVERHEAD } from '../core/envelope';
import { verifyJobRequest } from '../core/job-auth';
import { ONCHAIN_SEQ_BASE, CHANNEL_OPEN } from '../../wrappers';
import { verifyCell, voucherCell } from '../../wrappers/signed';
import { InferenceEngine } from '../inference/engine';
import { ChannelDirectory, ChannelSnapshot, channelStatusName } from './channels';
import { ApiError } from './errors';
import { costOf, countPromptTokens, jobAnswer, JobHandedBackError, JobRunner, ModelPrices, parseJobPayload } from './job-runner';
import { Logger } from './logger';
import { WorkerMetrics } from './metrics';
import { JobScheduler } from './scheduler';
import { JobRecord, jobKey, SigningJournal, Voucher } from './signing-journal';
import { PreparedJob } from './server';

/**
 * The fast path (docs/worker-api.md): POST /v1/jobs, POST /v1/vouchers, GET /v1/results.
 *
 * Order of checks for a job: shape (400) → model (400) → the client's signature of the request
 * (`auth`, 403) → envelope (400) → the journal (a repeat
 * gets its journalled answer; another input for a used seq 409) → prompt limits (400/413) → the
 * channel on-chain (402) → capacity (429) → intent journalled → run → receipt journalled and
 * signed → answer. The money check and the intent are one synchronous step, so concurrent jobs on
 * one channel can never together exceed what it can pay.
 */
export interface FastPathDeps {
    runner: JobRunner;
    journal: SigningJournal;
    channels: ChannelDirectory;
    scheduler: JobScheduler;
    engine: InferenceEngine;
    model: bigint;
    signingKey: Buffer;
    limits: { maxPromptBytes: number; maxTokens: number; jobTimeoutMs: number };
    metrics: WorkerMetrics;
    log: Logger;
    /** A channel the agent learnt about (the watcher follows it). */
    onChannel?: (channel: Address) => void;
}

const MAX_UINT64 = (1n << 64n) - 1n;

function field<T>(o: Record<string, unknown>, name: string, check: (v: unknown) => v is T, expected: string): T {
    const v = o[name];
    if (!check(v)) throw new ApiError('bad_request', `${name} must be ${expected}, got ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 80)}`);
    return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';

export function parseAddressField(o: Record<string, unknown>, name: string): Address {
    const text = field(o, name, isString, 'a TON address string');
    try {
        return Address.parse(text);
    } catch {
        throw new ApiError('bad_request', `${name} ${JSON.stringify(text.slice(0, 80))} is not a TON address`);
    }
}

export function parseUintField(o: Record<string, unknown>, name: string, max = MAX_UINT64): bigint {
    const text = field(o, name, isString, 'a decimal string');
    if (!/^\d{1,20}$/.test(text) || BigInt(text) > max) throw new ApiError('bad_request', `${name} must be a whole number from 0 to ${max} as a decimal string, got ${JSON.stringify(text.slice(0, 40))}`);
    return BigInt(text);
}

export function parseBase64Field(o: Record<string, unknown>, name: string, maxBytes: number, hint?: string): Buffer {
    const text = field(o, name, isString, 'base64');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ApiError('bad_request', `${name} is not base64`);
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length > maxBytes) throw new ApiError('too_large', `${name} is ${bytes.length} bytes; at most ${maxBytes}${hint ? ` (${hint})` : ''}`);
    return bytes;
}

function requireObject(body: unknown, allowed: string[]): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('bad_request', `the body must be a JSON object with ${allowed.join(', ')}`);
    for (const key of Object.keys(body)) {
        if (!allowed.includes(key)) throw new ApiError('bad_request', `unknown field "${key}" (allowed: ${allowed.join(', ')})`);
    }
    return body as Record<string, unknown>;
}

export class FastPath {
    /** Jobs running in this process, so a repeat of a running job joins it. */
    private readonly running = new Map<string, Promise<JobRecord>>();

    constructor(private readonly deps: FastPathDeps) {}

    async prepareJob(body: unknown): Promise<PreparedJob> {
        const { journal, scheduler, limits } = this.deps;
        const o = requireObject(body, ['channel', 'seq', 'model', 'envelope', 'auth', 'stream', 'voucher']);
        const channel = parseAddressField(o, 'channel');
        const voucher = o.voucher === undefined ? undefined : this.parseVoucher(o.voucher);
        const seq = parseUintField(o, 'seq');
        if (seq >= ONCHAIN_SEQ_BASE) {
            throw new ApiError('bad_request', `seq ${seq} is in the on-chain job range (2^63 and up); fast-path jobs use seqs below 2^63`);
        }
        const modelText = field(o, 'model', isString, 'the model hash (64 hex digits)');
        if (!/^[0-9a-fA-F]{64}$/.test(modelText)) throw new ApiError('bad_request', 'model must be the model hash, 64 hex digits');
        if (BigInt('0x' + modelText) !== this.deps.model) {
            throw new ApiError('bad_request', `this worker serves model ${this.deps.model.toString(16).padStart(64, '0')}, not ${modelText.toLowerCase()}`);
        }
        if (o.stream !== undefined && typeof o.stream !== 'boolean') throw new ApiError('bad_request', 'stream must be true or false');
        const envelope = parseBase64Field(o, 'envelope', limits.maxPromptBytes + ENVELOPE_OVERHEAD, `the prompt may be at most limits.maxPromptBytes = ${limits.maxPromptBytes} bytes`);
        const auth = parseBase64Field(o, 'auth', 64, "the client key's Ed25519 signature of the request (docs/worker-api.md)");
        if (auth.length !== 64) throw new ApiError('bad_request', `auth must be 64 bytes (Ed25519), got ${auth.length}`);
        // Only the channel's client may spend its credit: checked before the envelope is even opened.
        let snapshot = await this.deps.channels.get(channel);
        if (!verifyJobRequest(channel, seq, envelope, auth, snapshot.clientKey)) {
            this.deps.metrics.jobs.inc({ path: 'fast', outcome: 'refused' });
            throw new ApiError('unauthorized', "auth is not the channel client's key's signature of this request (channel, seq, envelope)");
        }
        const opened = this.deps.runner.open(envelope, channel, seq);

        const key = jobKey(channel, seq);
        const existing = journal.job(channel, seq);
        if (existing && !existing.inputHash.equals(opened.inputHash)) {
            this.deps.metrics.jobs.inc({ path: 'fast', outcome: 'refused' });
            throw new ApiError('seq_used', `seq ${seq} of this channel was already used for a different input; use a new seq`);
        }
        if (!existing) journal.assertNotRetired(channel, seq);
        if (existing?.state === 'signed') {
            this.deps.metrics.jobs.inc({ path: 'fast', outcome: 'repeat' });
            await journal.flush(); // a signature may be on its way to disk still: it leaves only once there
            return { kind: 'repeat', answer: jobAnswer(existing) };
        }
        const inFlight = this.running.get(key);
        if (inFlight) return { kind: 'run', execute: async () => jobAnswer(await this.settle(inFlight)) };
        if (scheduler.draining) throw new ApiError('draining', 'the worker is shutting down and takes no new work; retry on another worker or later');

        const payload = parseJobPayload(opened.plaintext, limits);
        const promptTokens = await countPromptTokens(this.deps.engine, payload.messages);
        // The voucher for the client's previous answers, sent along with this job: taken first, so this job's money check counts it.
        if (voucher) this.acceptVoucher(channel, snapshot, voucher, true);
        let prices = this.pricesOf(snapshot);
        let maxCost = costOf(promptTokens, payload.maxTokens, prices);
        if (this.shortfall(snapshot, channel, maxCost) !== undefined) {
            // The cached view may be stale (a top-up): read again before refusing.
            snapshot = await this.deps.channels.get(channel, { fresh: true });
            prices = this.pricesOf(snapshot);
            maxCost = costOf(promptTokens, payload.maxTokens, prices);
        }
        this.deps.onChannel?.(channel);
        // From here to the journalled intent nothing awaits: the money check and the reservation are one step.
        const again = journal.job(channel, seq);
        if (again && !again.inputHash.equals(opened.inputHash)) throw new ApiError('seq_used', `seq ${seq} of this channel was already used for a different input; use a new seq`);
        const racing = this.running.get(key);
        if (racing) return { kind: 'run', execute: async () => jobAnswer(await this.settle(racing)) };
        if (again?.state === 'signed') {
            await journal.flush();
            return { kind: 'repeat', answer: jobAnswer(again) };
        }
        if (!again || again.state === 'failed') {
            const refusal = this.shortfall(snapshot, channel, maxCost);
            if (refusal !== undefined) {
                this.deps.metrics.jobs.inc({ path: 'fast', outcome: 'refused' });
                throw new ApiError('payment_required', refusal);
            }
        }
        scheduler.assertRoom();
        const { record } = journal.recordIntent({
            kind: 'fast',
            channel: channel.toRawString(),
            seq,
            model: this.deps.model,
            inputHash: opened.inputHash,
            requestEnvelope: envelope,
            maxCost,
            createdAt: Date.now(),
        });
        return {
            kind: 'run',
            execute: async (onChunk) => {
                // Admitted above (assertRoom): run it even if the queue filled up since.
                const promise = this.start(record, prices, maxCost, onChunk ? { onChunk, replyTo: opened.replyTo } : undefined, true);
                return jobAnswer(await this.settle(promise));
            },
        };
    }

    /** Runs a journalled fast-path job through the scheduler (also used to finish jobs after a restart). */
    start(record: JobRecord, prices: ModelPrices, maxCost: bigint, streaming?: { onChunk: (index: number, envelope: string) => void; replyTo: Buffer }, mustRun = false): Promise<JobRecord> {
        const key = jobKey(record.channel, record.seq);
        const existing = this.running.get(key);
        if (existing) return existing;
        const channel = Address.parseRaw(record.channel);
        const promise = this.deps.scheduler
            .run(
                (signal) =>
                    this.deps.runner.execute(record, {
                        prices,
                        maxCost,
                        signal,
                        onDelta: streaming
                            ? (index, delta) => streaming.onChunk(index, this.deps.runner.sealChunk(streaming.replyTo, channel, record.seq, index, delta).toString('base64'))
                            : undefined,
                    }),
                { mustRun },
            )
            .then(
                (signed) => {
                    this.deps.metrics.jobs.inc({ path: 'fast', outcome: 'signed' });
                    return signed;
                },
                (error: unknown) => {
                    this.deps.metrics.jobs.inc({ path: 'fast', outcome: error instanceof JobHandedBackError ? 'handed-back' : 'failed' });
                    throw error;
                },
            )
            .finally(() => this.running.delete(key));
        this.running.set(key, promise);
        return promise;
    }

    private async settle(promise: Promise<JobRecord>): Promise<JobRecord> {
        try {
            return await promise;
        } catch (error) {
            if (error instanceof JobHandedBackError) throw new ApiError('draining', error.message);
            throw error;
        }
    }

    private pricesOf(snapshot: ChannelSnapshot): ModelPrices {
        if (snapshot.status !== CHANNEL_OPEN) {
            throw new ApiError('payment_required', `channel ${snapshot.address.toString()} is ${channelStatusName(snapshot.status)}, not open: it takes no new work`);
        }
        if (!snapshot.signingKey.equals(this.deps.signingKey)) {
            throw new ApiError('bad_request', 'the channel was opened with other enclave keys of this worker (the worker renewed its attestation since): open a new channel');
        }
        const price = snapshot.prices.get(this.deps.model);
        if (!price) throw new ApiError('bad_request', 'the channel has no price for this model (it was opened before the worker offered it): open a new channel');
        return { prompt: price.prompt, completion: price.completion };
    }

    /** Why the channel cannot pay `maxCost` more, or undefined when it can. */
    private shortfall(snapshot: ChannelSnapshot, channel: Address, maxCost: bigint): string | undefined {
        const books = this.deps.journal.books(channel);
        const reserved = this.deps.journal.reserved(channel);
        const canPay = snapshot.deposit - snapshot.locked;
        if (books.served + reserved + maxCost > canPay) {
            return (
                `this job may cost up to ${maxCost} nanoTON; with ${books.served} served and ${reserved} running on this channel that exceeds ` +
                `what it can pay (deposit ${snapshot.deposit} - locked ${snapshot.locked}): top up the channel`
            );
        }
        const owed = books.served - (books.voucher?.cumulative ?? 0n);
        if (owed > books.lastCost) {
            return `the client owes ${owed} nanoTON without a voucher, more than the last job's cost (${books.lastCost}): send a voucher for what you owe (POST /v1/vouchers)`;
        }
        return undefined;
    }

    async voucher(body: unknown): Promise<{ cumulative: string }> {
        const o = requireObject(body, ['channel', 'cumulative', 'signature']);
        const channel = parseAddressField(o, 'channel');
        const voucher = this.voucherFields(o);
        const snapshot = await this.deps.channels.get(channel);
        const held = this.acceptVoucher(channel, snapshot, voucher, false);
        await this.deps.journal.flush();
        return { cumulative: held.cumulative.toString() };
    }

    private voucherFields(o: Record<string, unknown>): Voucher {
        const cumulative = parseUintField(o, 'cumulative', (1n << 120n) - 1n);
        const signature = parseBase64Field(o, 'signature', 64);
        if (signature.length !== 64) throw new ApiError('bad_request', `signature must be 64 bytes (Ed25519), got ${signature.length}`);
        return { cumulative, signature };
    }

    /** The `voucher` field of POST /v1/jobs: `{ cumulative, signature }`, as POST /v1/vouchers takes them. */
    private parseVoucher(value: unknown): Voucher {
        try {
            return this.voucherFields(requireObject(value, ['cumulative', 'signature']));
        } catch (error) {
            if (error instanceof ApiError) throw new ApiError(error.code, `voucher: ${error.message}`);
            throw error;
        }
    }

    /**
     * Checks the client's signature and keeps the voucher in the journal. `lowerIsFine`: a voucher
     * below the one held (sent along with a job while a higher one arrived by POST /v1/vouchers) is
     * ignored rather than refused.
     */
    private acceptVoucher(channel: Address, snapshot: ChannelSnapshot, voucher: Voucher, lowerIsFine: boolean): Voucher {
        if (!verifyCell(voucherCell({ channel, cumulative: voucher.cumulative }), voucher.signature, snapshot.clientKey)) {
            this.deps.metrics.vouchers.inc({ outcome: 'invalid' });
            throw new ApiError('bad_request', "the voucher's signature is not the channel client's key's signature of Voucher(channel, cumulative)");
        }
        try {
            const held = this.deps.journal.acceptVoucher(channel.toRawString(), voucher);
            this.deps.metrics.vouchers.inc({ outcome: 'accepted' });
            this.deps.onChannel?.(channel);
            return held;
        } catch (error) {
            if (error instanceof ApiError && error.code === 'voucher_stale') {
                this.deps.metrics.vouchers.inc({ outcome: 'stale' });
                if (lowerIsFine) return voucher;
            }
            throw error;
        }
    }

    async result(channelText: string, seqText: string) {
        const channel = parseAddressField({ channel: channelText }, 'channel');
        const seq = parseUintField({ seq: seqText }, 'seq');
        const record = this.deps.journal.job(channel, seq);
        if (!record && this.deps.journal.isRetired(channel, seq)) {
            throw new ApiError('not_found', `seq ${seq} of channel ${channel.toString()} was settled and its result pruned from this worker's journal`);
        }
        if (!record || record.state !== 'signed') throw new ApiError('not_found', `no result yet for seq ${seq} of channel ${channel.toString()}`);
        await this.deps.journal.flush();
        return {
            seq: record.seq.toString(),
            envelope: record.responseEnvelope!.toString('base64'),
            receipt: record.receipt!.toString('base64'),
            signature: record.signature!.toString('base64'),
        };
    }
}

import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { EnvelopeError } from '../core/envelope';
import { Enclave } from '../enclave/types';
import { EmbeddedEngine, promptLimitError } from '../inference/embedded';
import { ThreadedEmbeddedEngine } from '../inference/embedded-thread';
import { ChatMessage, CompletionResult, InferenceEngine } from '../inference/engine';
import { EmptyPromptError, InferenceError, InvalidRequestError, PromptTooLongError } from '../inference/errors';
import { receiptCell } from '../../wrappers/signed';
import { ApiError } from './errors';
import { Logger } from './logger';
import { WorkerMetrics } from './metrics';
import { JobRecord, SigningJournal } from './signing-journal';

/**
 * Runs one job inside the enclave boundary: opens the request envelope, runs the model, seals the
 * answer, and has the signing journal record and sign the Receipt. The plaintext prompt and
 * answer exist only in memory here; the journal and the network see envelopes and hashes.
 */
export interface JobPayload {
    messages: ChatMessage[];
    maxTokens: number;
    stop?: string[];
}

export interface ModelPrices {
    prompt: bigint;
    completion: bigint;
}

export function sha256(data: Buffer): Buffer {
    return createHash('sha256').update(data).digest();
}

export function hashToUint(hash: Buffer): bigint {
    return BigInt('0x' + hash.toString('hex'));
}

const ALLOWED_FIELDS = new Set(['messages', 'max_tokens', 'stop']);

/** Validates the request envelope's plaintext: `{ messages: [{role, content}], max_tokens?, stop? }`. */
export function parseJobPayload(plaintext: Buffer, limits: { maxPromptBytes: number; maxTokens: number }): JobPayload {
    if (plaintext.length > limits.maxPromptBytes) {
        throw new ApiError('too_large', `the prompt is ${plaintext.length} bytes; this worker takes at most ${limits.maxPromptBytes} (limits.maxPromptBytes)`);
    }
    let value: unknown;
    try {
        value = JSON.parse(plaintext.toString('utf8'));
    } catch {
        throw new ApiError('bad_request', 'the request envelope does not hold JSON: expected {"messages":[{"role","content"}],"max_tokens"?,"stop"?}');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new ApiError('bad_request', 'the request envelope must hold a JSON object {"messages": [...]}');
    }
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!ALLOWED_FIELDS.has(key)) throw new ApiError('bad_request', `unknown field "${key}" in the request (allowed: messages, max_tokens, stop)`);
    if (!Array.isArray(o.messages) || o.messages.length === 0) throw new ApiError('bad_request', 'messages must be a non-empty array of {role, content}');
    const messages: ChatMessage[] = o.messages.map((m, i) => {
        if (m === null || typeof m !== 'object') throw new ApiError('bad_request', `messages[${i}] must be an object {role, content}`);
        const { role, content } = m as Record<string, unknown>;
        if (typeof role !== 'string' || role.trim() === '') throw new ApiError('bad_request', `messages[${i}].role must be a non-empty string`);
        if (typeof content !== 'string') throw new ApiError('bad_request', `messages[${i}].content must be a string`);
        return { role, content };
    });
    let maxTokens = limits.maxTokens;
    if (o.max_tokens !== undefined && o.max_tokens !== null) {
        if (typeof o.max_tokens !== 'number' || !Number.isSafeInteger(o.max_tokens) || o.max_tokens < 1) {
            throw new ApiError('bad_request', `max_tokens must be a positive whole number, got ${JSON.stringify(o.max_tokens)}`);
        }
        if (o.max_tokens > limits.maxTokens) throw new ApiError('bad_request', `max_tokens ${o.max_tokens} is above this worker's limit of ${limits.maxTokens}`);
        maxTokens = o.max_tokens;
    }
    let stop: string[] | undefined;
    if (o.stop !== undefined && o.stop !== null) {
        const list = typeof o.stop === 'string' ? [o.stop] : o.stop;
        if (!Array.isArray(list) || list.length > 16 || list.some((s) => typeof s !== 'string' || s === '')) {
            throw new ApiError('bad_request', 'stop must be a non-empty string or an array of at most 16 non-empty strings');
        }
        stop = list as string[];
    }
    return { messages, maxTokens, stop };
}

/**
 * Prompt tokens the job will be billed for, counted before it runs: exact with the embedded
 * engine (its tokenizer and chat template); for an OpenAI-compatible backend an upper bound
 * (byte-level tokenizers never make more tokens than bytes, plus template overhead).
 */
export async function countPromptTokens(engine: InferenceEngine, messages: ChatMessage[]): Promise<number> {
    if (engine instanceof EmbeddedEngine || engine instanceof ThreadedEmbeddedEngine) {
        let count: number;
        try {
            count = engine instanceof EmbeddedEngine ? engine.promptTokenIds(messages).length : await engine.promptTokenCount(messages);
        } catch (error) {
            if (error instanceof InvalidRequestError) throw new ApiError('bad_request', error.message);
            throw error;
        }
        // Refused here, before the job is journalled, rather than by the model after.
        const tooLong = promptLimitError(count, engine);
        if (tooLong) throw new ApiError('bad_request', tooLong.message);
        return count;
    }
    return messages.reduce((n, m) => n + Buffer.byteLength(m.role) + Buffer.byteLength(m.content) + 16, 64);
}

export function costOf(promptTokens: number, completionTokens: number, prices: ModelPrices): bigint {
    return BigInt(promptTokens) * prices.prompt + BigInt(completionTokens) * prices.completion;
}

/** The job was stopped by shutdown before it finished: nothing signed, its intent stays journalled. */
export class JobHandedBackError extends Error {
    constructor() {
        super('the job was handed back unfinished because the worker is shutting down; retry it (same seq, same input)');
        this.name = 'JobHandedBackError';
    }
}

export interface ExecuteOptions {
    prices: ModelPrices;
    /** Called with each piece of the answer as it is generated (streaming). */
    onDelta?: (index: number, delta: string) => void;
    /** Seals a streamed piece to the client (streaming). */
    signal?: AbortSignal;
    /** Cost cap: a receipt's cost in the books never exceeds what was reserved or locked for it. */
    maxCost?: bigint;
    /** On-chain jobs whose input cannot be opened: commit to this error answer instead of running. */
    inputError?: string;
}

export interface JobRunnerDeps {
    enclave: Enclave;
    engine: InferenceEngine;
    journal: SigningJournal;
    model: bigint;
    limits: { maxPromptBytes: number; maxTokens: number; jobTimeoutMs: number };
    metrics: WorkerMetrics;
    log: Logger;
}

export class JobRunner {
    constructor(private readonly deps: JobRunnerDeps) {}

    /** Opens a request envelope for (channel, seq); envelope problems are the client's (400). */
    open(envelope: Buffer, channel: Address, seq: bigint): { plaintext: Buffer; replyTo: Buffer; inputHash: Buffer } {
        try {
            const opened = this.deps.enclave.openRequest(envelope, { channel, seq });
            return { plaintext: opened.payload, replyTo: opened.replyTo, inputHash: sha256(opened.payload) };
        } catch (error) {
            if (error instanceof EnvelopeError) throw new ApiError('bad_request', error.message);
            throw error;
        }
    }

    /**
     * Runs a journalled job (state `intent`) to a signed Receipt. Re-entrant after a crash: a
     * `result` record is only signed (the same cell), a `signed` one is returned as it is.
     */
    async execute(record: JobRecord, options: ExecuteOptions): Promise<JobRecord> {
        const { journal, enclave } = this.deps;
        if (record.state === 'signed') return record;
        if (record.state === 'result') {
            const resumed = journal.sign(record.channel, record.seq, (hash) => enclave.sign(hash), { later: true });
            await journal.flush();
            return resumed;
        }
        const channel = Address.parseRaw(record.channel);
        const context = { channel, seq: record.seq };
        let answer: { content: string; finishReason: string; promptTokens: number; completionTokens: number; replyTo?: Buffer };
        if (options.inputError !== undefined) {
            answer = { content: '', finishReason: 'error', promptTokens: 0, completionTokens: 0 };
        } else {
            const opened = enclave.openRequest(record.requestEnvelope, context);
            const payload = parseJobPayload(opened.payload, this.deps.limits);
            let index = 0;
            let result: CompletionResult;
            try {
                result = await this.deps.engine.complete({
                    messages: payload.messages,
                    maxTokens: payload.maxTokens,
                    stop: payload.stop,
                    signal: options.signal,
                    timeoutMs: this.deps.limits.jobTimeoutMs,
                    onToken: options.onDelta ? (chunk) => options.onDelta!(index++, chunk.text) : undefined,
                });
            } catch (error) {
                if (error instanceof EmptyPromptError || error instanceof PromptTooLongError || error instanceof InvalidRequestError) {
                    journal.fail(record.channel, record.seq, error.message);
                    throw new ApiError('bad_request', error.message);
                }
                const message = error instanceof InferenceError ? error.message : `inference failed: ${(error as Error).message}`;
                journal.fail(record.channel, record.seq, message);
                throw new ApiError('internal', message);
            }
            if (result.finishReason === 'cancelled') throw new JobHandedBackError();
            answer = {
                content: result.text,
                finishReason: result.finishReason,
                promptTokens: result.usage.promptTokens,
                completionTokens: result.usage.completionTokens,
                replyTo: opened.replyTo,
            };
        }
        const plaintext = Buffer.from(
            JSON.stringify(
                options.inputError !== undefined
                    ? { content: '', finish_reason: 'error', error: options.inputError }
                    : { content: answer.content, finish_reason: answer.finishReason },
            ),
        );
        const resultHash = sha256(plaintext);
        // An on-chain job whose input does not open has no client key to seal to: the answer is by hash only.
        const responseEnvelope = answer.replyTo ? enclave.sealResponse(plaintext, { replyTo: answer.replyTo, context }) : Buffer.alloc(0);
        let cost = costOf(answer.promptTokens, answer.completionTokens, options.prices);
        if (options.maxCost !== undefined && cost > options.maxCost) cost = options.maxCost;
        const receipt = receiptCell({
            channel,
            seq: record.seq,
            model: record.model,
            inputHash: hashToUint(record.inputHash),
            resultHash: hashToUint(resultHash),
            promptTokens: BigInt(answer.promptTokens),
            completionTokens: BigInt(answer.completionTokens),
        });
        journal.recordResult(record.channel, record.seq, {
            receipt,
            resultHash,
            responseEnvelope,
            promptTokens: answer.promptTokens,
            completionTokens: answer.completionTokens,
            cost,
        });
        const signed = journal.sign(record.channel, record.seq, (hash) => enclave.sign(hash), { later: true });
        // Nothing signed leaves before its record is on disk; the sync runs in the thread pool, shared by the jobs signed meanwhile.
        await journal.flush();
        const m = this.deps.metrics;
        m.receiptsSigned.inc();
        m.tokens.inc({ kind: 'prompt' }, answer.promptTokens);
        m.tokens.inc({ kind: 'completion' }, answer.completionTokens);
        m.earnedNano.inc({}, Number(cost));
        return signed;
    }

    /** Seals one streamed piece `{ index, delta }` for the job's client. */
    sealChunk(replyTo: Buffer, channel: Address, seq: bigint, index: number, delta: string): Buffer {
        return this.deps.enclave.sealResponse(Buffer.from(JSON.stringify({ index, delta })), { replyTo, context: { channel, seq } });
    }
}

/** The JSON answer of a signed fast-path job (docs/worker-api.md, POST /v1/jobs). */
export function jobAnswer(record: JobRecord) {
    return {
        seq: record.seq.toString(),
        envelope: record.responseEnvelope!.toString('base64'),
        receipt: record.receipt!.toString('base64'),
        signature: record.signature!.toString('base64'),
        promptTokens: String(record.promptTokens ?? 0),
        completionTokens: String(record.completionTokens ?? 0),
        cost: (record.cost ?? 0n).toString(),
    };
}

import { createHash } from 'node:crypto';
import { Address, Cell } from '@ton/core';
import { EnvelopeError, openResponse } from '../core/envelope';
import { parseReceipt, Receipt, verifyCell } from '../../wrappers';
import { ReceiptRejectedError } from './errors';
import { JobAnswerJson } from './worker-api';

/** Prices of one model in nanoTON per token, as the channel snapshotted them at open. */
export interface ModelPrices {
    prompt: bigint;
    completion: bigint;
}

/** What a job costs: prompt tokens × prompt price + completion tokens × completion price. */
export function jobCost(prices: ModelPrices, promptTokens: bigint, completionTokens: bigint): bigint {
    return promptTokens * prices.prompt + completionTokens * prices.completion;
}

export function sha256(data: Buffer): Buffer {
    return createHash('sha256').update(data).digest();
}

export function bufferToUint256(buffer: Buffer): bigint {
    return BigInt('0x' + buffer.toString('hex'));
}

/** The plaintext the client seals for a job (docs/worker-api.md): `{messages, max_tokens?, stop?}`. */
export interface JobInput {
    messages: { role: string; content: string }[];
    max_tokens?: number;
    stop?: string[];
    temperature?: number;
}

/** The answer's plaintext: `{content, finish_reason}`. */
export interface JobOutput {
    content: string;
    finish_reason: string;
}

export interface ExpectedJob {
    channel: Address;
    seq: bigint;
    model: bigint;
    /** The exact request plaintext bytes that were sealed (inputHash = sha256 of them). */
    input: Buffer;
    /** The worker's attested Ed25519 key (the channel's snapshot of it). */
    signingKey: Buffer;
    /** The worker's attested X25519 key: the answer must be sealed by it. */
    encryptionKey: Buffer;
    /** The client's ephemeral key for this job's answer. */
    replySecretKey: Buffer;
    prices: ModelPrices;
    /** Completion tokens asked for at most; a receipt claiming more is refused. */
    maxTokens?: number;
    /** Most the client is willing to pay for this job. */
    maxCost?: bigint;
}

export interface VerifiedAnswer {
    output: JobOutput;
    /** The decrypted plaintext whose sha256 is the receipt's resultHash. */
    plaintext: Buffer;
    receipt: Receipt;
    receiptCell: Cell;
    signature: Buffer;
    promptTokens: bigint;
    completionTokens: bigint;
    cost: bigint;
}

function reject(reason: string, message: string, cause?: unknown): never {
    throw new ReceiptRejectedError(reason, message, cause ? { cause } : undefined);
}

function decimal(value: unknown, name: string): bigint {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
    if (typeof value === 'string' && /^\d{1,40}$/.test(value)) return BigInt(value);
    return reject('malformed', `${name} must be a non-negative decimal integer, got ${JSON.stringify(value)}`);
}

function base64(value: unknown, name: string): Buffer {
    if (typeof value !== 'string' || value.length === 0) reject('malformed', `${name} must be base64`);
    return Buffer.from(value as string, 'base64');
}

/** Opens the answer's envelope and parses `{content, finish_reason}`. */
export function openAnswerEnvelope(envelope: Buffer, expect: Pick<ExpectedJob, 'channel' | 'seq' | 'encryptionKey' | 'replySecretKey'>): { plaintext: Buffer; output: JobOutput } {
    let plaintext: Buffer;
    try {
        plaintext = openResponse(envelope, {
            replySecretKey: expect.replySecretKey,
            expectedSenderKey: expect.encryptionKey,
            expect: { channel: expect.channel, seq: expect.seq },
        });
    } catch (error) {
        if (error instanceof EnvelopeError) reject(`envelope-${error.code}`, error.message, error);
        throw error;
    }
    let output: JobOutput;
    try {
        output = JSON.parse(plaintext.toString('utf8'));
    } catch {
        return reject('malformed', 'the answer plaintext is not JSON');
    }
    if (!output || typeof output.content !== 'string' || typeof output.finish_reason !== 'string') {
        reject('malformed', 'the answer plaintext must be {content, finish_reason}');
    }
    return { plaintext, output };
}

/**
 * Checks a worker's answer before the client owes anything for it: the Receipt parses, is
 * signed by the attested key, names this channel, seq and model, hashes exactly the input that
 * was sent and the output that came back; its token counts match the answer's, stay within
 * max_tokens, and token counts × the channel's snapshot prices equal the cost claimed (and stay
 * within what the client allowed). Throws `ReceiptRejectedError` with a reason otherwise.
 */
export function verifyJobAnswer(answer: JobAnswerJson, expected: ExpectedJob): VerifiedAnswer {
    if (!answer || typeof answer !== 'object') reject('malformed', 'the answer is not a JSON object');
    let receiptCell: Cell;
    let receipt: Receipt;
    try {
        receiptCell = Cell.fromBoc(base64(answer.receipt, 'receipt'))[0];
        receipt = parseReceipt(receiptCell);
    } catch (error) {
        if (error instanceof ReceiptRejectedError) throw error;
        return reject('malformed', `receipt is not a Receipt cell: ${(error as Error).message}`, error);
    }
    const signature = base64(answer.signature, 'signature');
    if (!verifyCell(receiptCell, signature, expected.signingKey)) reject('signature', "the receipt is not signed by the worker's attested signing key");
    if (!receipt.channel.equals(expected.channel)) reject('channel', `the receipt is for channel ${receipt.channel.toString()}, not ${expected.channel.toString()}`);
    if (receipt.seq !== expected.seq) reject('seq', `the receipt is for seq ${receipt.seq}, not ${expected.seq}`);
    if (decimal(answer.seq, 'seq') !== expected.seq) reject('seq', `the answer is for seq ${answer.seq}, not ${expected.seq}`);
    if (receipt.model !== expected.model) reject('model', 'the receipt names another model than the one requested');
    if (receipt.inputHash !== bufferToUint256(sha256(expected.input))) reject('input-hash', 'the receipt hashes another input than the one sent');
    const { plaintext, output } = openAnswerEnvelope(base64(answer.envelope, 'envelope'), expected);
    if (receipt.resultHash !== bufferToUint256(sha256(plaintext))) reject('result-hash', 'the receipt hashes another result than the one delivered');
    const promptTokens = decimal(answer.promptTokens, 'promptTokens');
    const completionTokens = decimal(answer.completionTokens, 'completionTokens');
    if (promptTokens !== receipt.promptTokens || completionTokens !== receipt.completionTokens) {
        reject('tokens', `the answer reports ${promptTokens}+${completionTokens} tokens, the receipt ${receipt.promptTokens}+${receipt.completionTokens}`);
    }
    if (expected.maxTokens !== undefined && completionTokens > BigInt(expected.maxTokens)) {
        reject('tokens', `the receipt claims ${completionTokens} completion tokens, more than max_tokens ${expected.maxTokens}`);
    }
    const cost = jobCost(expected.prices, promptTokens, completionTokens);
    if (decimal(answer.cost, 'cost') !== cost) {
        reject('cost', `the answer claims cost ${answer.cost}, but ${promptTokens}×${expected.prices.prompt} + ${completionTokens}×${expected.prices.completion} = ${cost}`);
    }
    if (expected.maxCost !== undefined && cost > expected.maxCost) reject('cost', `the job costs ${cost} nanoTON, more than the ${expected.maxCost} allowed`);
    return { output, plaintext, receipt, receiptCell, signature, promptTokens, completionTokens, cost };
}

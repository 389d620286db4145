import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { parseWorkerAttestation } from '../client/attestation';
import { fetchAttestation } from '../client/worker-api';
import { Chain, TxId, txIdOf } from '../chain/types';
import { InferenceEngine } from '../inference/engine';
import { modelHashToUint256 } from '../inference/model-identity';
import { isDeployed, openOnChain } from '../worker/chain-access';
import { ApiError } from '../worker/errors';
import { parseJobPayload } from '../worker/job-runner';
import {
    Channel,
    eventsOf,
    JOB_DISPUTED,
    jobSubject,
    parseChannelTerms,
    ResultCommitted,
    VERDICT_WORKER_FAULT,
    VERDICT_WORKER_RIGHT,
} from '../../wrappers';
import { hex256, readGenuineWorker } from './chain-view';
import { AuditorApiError } from './errors';

/**
 * Re-execution of a disputed on-chain job. The client reveals the plaintext of its request to
 * the auditor (`POST /v1/disputes`); the auditor checks it against the job's on-chain input hash,
 * runs it on the same model (the registered model hash) with the same decoding the worker uses
 * (greedy; `max_tokens` and `stop` from the request), rebuilds the answer's plaintext exactly as
 * the worker does (`{"content", "finish_reason"}`, docs/worker-api.md) and compares its hash and
 * token counts with the Receipt the worker committed. Equal: WorkerRight (the worker is paid and
 * gets the client's bond); different: WorkerFault (the client is refunded, the worker slashed).
 *
 * When the request names no `max_tokens`, the worker used its own limit: the auditor asks the
 * worker's endpoint for it (`limits.maxTokens`) and, if the endpoint is down, uses the committed
 * completion tokens (an honest worker that stopped by itself stops at the same token again; one
 * that billed more tokens than it generated is caught either way).
 */
export interface DisputeRequest {
    channel: Address;
    seq: bigint;
    /** The plaintext of the job's request envelope. */
    input: Buffer;
}

export interface CommittedResult {
    resultHash: bigint;
    promptTokens: number;
    completionTokens: number;
    tx: TxId;
}

export interface DisputeJudgement {
    kind: bigint;
    verdict: 'worker-right' | 'worker-fault';
    channel: Address;
    seq: bigint;
    worker: Address;
    subject: bigint;
    evidenceHash: bigint;
    committed: CommittedResult;
    recomputed: { resultHash: bigint; promptTokens: number; completionTokens: number; finishReason: string };
    /** Why the worker is at fault (empty when it is right). */
    differences: string[];
    maxTokensSource: 'request' | 'worker-limit' | 'committed-tokens';
}

export function sha256(data: Buffer | string): Buffer {
    return createHash('sha256').update(data).digest();
}

/**
 * The evidence hash of a job verdict: SHA-256 of a domain tag, the request plaintext's hash and
 * the re-executed answer's hash. Auditors that re-execute the same job compute the same value.
 */
export function jobEvidenceHash(input: Buffer, recomputedPlaintext: Buffer): bigint {
    const digest = createHash('sha256').update('cocoon-job-evidence-v1').update(sha256(input)).update(sha256(recomputedPlaintext)).digest();
    return BigInt('0x' + digest.toString('hex'));
}

/** Finds the ResultCommitted event of `seq` in the channel's history (newest first, bounded). */
export async function findCommittedResult(chain: Chain, channel: Address, seq: bigint, maxTransactions = 2000): Promise<CommittedResult | undefined> {
    let from: TxId | undefined;
    let seen = 0;
    for (;;) {
        const page = await chain.getTransactions(channel, { limit: 50, from });
        const fresh = from ? page.slice(1) : page;
        for (const tx of fresh) {
            const found = eventsOf(tx).find((e): e is ResultCommitted => e.$$type === 'ResultCommitted' && e.seq === seq);
            if (found) {
                return { resultHash: found.resultHash, promptTokens: Number(found.promptTokens), completionTokens: Number(found.completionTokens), tx: txIdOf(tx) };
            }
        }
        seen += fresh.length;
        if (page.length < 50 || fresh.length === 0 || seen >= maxTransactions) return undefined;
        from = txIdOf(page[page.length - 1]);
    }
}

export interface JudgeContext {
    chain: Chain;
    root: Address;
    engine: InferenceEngine;
    /** Timeout of the request for the worker's limits when the job names no max_tokens. */
    fetchTimeoutMs: number;
}

/** Checks a dispute against the chain and re-executes it. Throws `AuditorApiError` for a case it cannot judge. */
export async function judgeDispute(ctx: JudgeContext, request: DisputeRequest, now: number): Promise<DisputeJudgement> {
    const { chain, root } = ctx;
    if (!(await isDeployed(chain, request.channel))) throw new AuditorApiError('not_found', 'unknown-channel', `no channel contract at ${request.channel.toString()}`);
    const channel = openOnChain(chain, Channel.fromAddress(request.channel));
    let state;
    try {
        state = await channel.getState();
    } catch {
        throw new AuditorApiError('not_found', 'unknown-channel', `${request.channel.toString()} is not a Channel contract`);
    }
    if (!state.root.equals(root)) throw new AuditorApiError('unprocessable', 'foreign-root', `the channel belongs to Root ${state.root.toString()}, this auditor serves ${root.toString()}`);
    const info = await readGenuineWorker(chain, root, state.worker);
    if (!info) throw new AuditorApiError('unprocessable', 'not-a-worker', `the channel's worker ${state.worker.toString()} is not a Worker of this Root`);
    const job = await channel.getJob(request.seq);
    if (!job) throw new AuditorApiError('not_found', 'unknown-job', `the channel has no open job ${request.seq} (finished, expired, or never posted)`);
    if (job.status !== JOB_DISPUTED) throw new AuditorApiError('conflict', 'not-disputed', `job ${request.seq} is not disputed (status ${job.status}); the client disputes it first (Dispute)`);
    const terms = parseChannelTerms(await channel.getTerms());
    const disputeWindow = terms ? Number(terms.params.disputeWindow) : 0;
    if (now >= Number(job.at) + disputeWindow) {
        throw new AuditorApiError('conflict', 'window-over', 'the dispute window is over: the job resolves for the worker (FinalizeJob)');
    }
    if (BigInt('0x' + sha256(request.input).toString('hex')) !== job.inputHash) {
        throw new AuditorApiError('unprocessable', 'input-mismatch', "the revealed input's SHA-256 is not the job's input hash: reveal the exact request plaintext");
    }
    const modelHash = modelHashToUint256(ctx.engine.modelHash);
    if (job.model !== modelHash) {
        throw new AuditorApiError('unprocessable', 'model-unavailable', `the job ran model ${hex256(job.model)}; this auditor re-executes ${ctx.engine.modelHash} only`);
    }
    const committed = await findCommittedResult(chain, request.channel, request.seq);
    if (!committed) throw new AuditorApiError('conflict', 'no-result', `no ResultCommitted event for job ${request.seq} in the channel's history`);

    // max_tokens: the request's, else the worker's advertised limit, else the committed count.
    let declared: unknown;
    try {
        declared = (JSON.parse(request.input.toString('utf8')) as Record<string, unknown> | null)?.max_tokens;
    } catch {
        declared = undefined;
    }
    let maxTokens: number;
    let maxTokensSource: DisputeJudgement['maxTokensSource'];
    if (typeof declared === 'number' && Number.isSafeInteger(declared) && declared > 0) {
        maxTokens = declared;
        maxTokensSource = 'request';
    } else {
        maxTokens = Math.max(1, committed.completionTokens);
        maxTokensSource = 'committed-tokens';
        try {
            const { body } = await fetchAttestation(info.endpoint, { timeoutMs: ctx.fetchTimeoutMs });
            maxTokens = parseWorkerAttestation(body, state.worker.toString()).limits.maxTokens;
            maxTokensSource = 'worker-limit';
        } catch {
            /* the worker is down: the committed count stands in (see above) */
        }
    }
    let payload;
    try {
        payload = parseJobPayload(request.input, { maxPromptBytes: request.input.length, maxTokens });
    } catch (error) {
        if (error instanceof ApiError) throw new AuditorApiError('unprocessable', 'invalid-input', `the revealed input is not a job request: ${error.message}`);
        throw error;
    }
    const result = await ctx.engine.complete({ messages: payload.messages, maxTokens: payload.maxTokens, stop: payload.stop });
    // Byte for byte the plaintext the worker seals and hashes (agents/worker/job-runner.ts).
    const plaintext = Buffer.from(JSON.stringify({ content: result.text, finish_reason: result.finishReason }));
    const recomputed = {
        resultHash: BigInt('0x' + sha256(plaintext).toString('hex')),
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        finishReason: result.finishReason,
    };
    const differences: string[] = [];
    if (recomputed.resultHash !== committed.resultHash) differences.push('result-hash');
    if (recomputed.promptTokens !== committed.promptTokens) differences.push(`prompt-tokens (${committed.promptTokens} billed, ${recomputed.promptTokens} counted)`);
    if (recomputed.completionTokens !== committed.completionTokens) {
        differences.push(`completion-tokens (${committed.completionTokens} billed, ${recomputed.completionTokens} counted)`);
    }
    const right = differences.length === 0;
    return {
        kind: right ? VERDICT_WORKER_RIGHT : VERDICT_WORKER_FAULT,
        verdict: right ? 'worker-right' : 'worker-fault',
        channel: request.channel,
        seq: request.seq,
        worker: state.worker,
        subject: jobSubject(request.channel, request.seq),
        evidenceHash: jobEvidenceHash(request.input, plaintext),
        committed,
        recomputed,
        differences,
        maxTokensSource,
    };
}

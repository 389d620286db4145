import { VerifiedWorker } from './attestation';

/**
 * Choosing a worker for a model among verified ones, by price, reputation and measured latency.
 *
 * - price: the cost of a typical job (`expectedPromptTokens` × prompt price +
 *   `expectedCompletionTokens` × completion price), relative to the cheapest candidate;
 * - reputation: the share of the worker's on-chain jobs that went wrong
 *   ((expired + disputes lost) / (completed + expired + 1)), plus a flat penalty per slash;
 * - latency: the attestation round trip, relative to the fastest candidate.
 *
 * score = priceWeight × price/cheapest + reputationWeight × (failure share + slashPenalty × slashes)
 *       + latencyWeight × latency/fastest; the lowest score wins (ties: cheaper, then address).
 */
export interface SelectionPolicy {
    priceWeight: number;
    reputationWeight: number;
    latencyWeight: number;
    slashPenalty: number;
    expectedPromptTokens: number;
    expectedCompletionTokens: number;
    /** Leave out workers whose price for a typical job is above this (nanoTON). */
    maxJobPrice?: bigint;
}

export const DEFAULT_SELECTION: SelectionPolicy = {
    priceWeight: 1,
    reputationWeight: 2,
    latencyWeight: 0.25,
    slashPenalty: 0.5,
    expectedPromptTokens: 200,
    expectedCompletionTokens: 200,
};

export interface RankedWorker {
    worker: VerifiedWorker;
    typicalCost: bigint;
    failureShare: number;
    score: number;
}

export function typicalCost(worker: VerifiedWorker, model: string, policy: SelectionPolicy): bigint | undefined {
    const price = worker.models.get(model);
    if (!price) return undefined;
    return BigInt(policy.expectedPromptTokens) * price.prompt + BigInt(policy.expectedCompletionTokens) * price.completion;
}

/** Candidates that offer `model` (hash hex), best first. */
export function rankWorkers(workers: VerifiedWorker[], model: string, policy: SelectionPolicy = DEFAULT_SELECTION): RankedWorker[] {
    const offering = workers
        .map((worker) => ({ worker, cost: typicalCost(worker, model, policy) }))
        .filter((c): c is { worker: VerifiedWorker; cost: bigint } => c.cost !== undefined)
        .filter((c) => policy.maxJobPrice === undefined || c.cost <= policy.maxJobPrice);
    if (offering.length === 0) return [];
    const cheapest = offering.reduce((m, c) => (c.cost < m ? c.cost : m), offering[0].cost);
    const fastest = Math.max(1, Math.min(...offering.map((c) => c.worker.latencyMs)));
    const ranked = offering.map(({ worker, cost }) => {
        const s = worker.record.stats;
        const bad = Number(s.jobsExpired + s.disputesLost);
        const failureShare = bad / (Number(s.jobsCompleted) + Number(s.jobsExpired) + 1);
        const relativePrice = cheapest === 0n ? (cost === 0n ? 1 : 2) : Number((cost * 1000n) / cheapest) / 1000;
        const relativeLatency = Math.max(1, worker.latencyMs) / fastest;
        const score =
            policy.priceWeight * relativePrice +
            policy.reputationWeight * (failureShare + policy.slashPenalty * Number(s.slashCount)) +
            policy.latencyWeight * relativeLatency;
        return { worker, typicalCost: cost, failureShare, score };
    });
    return ranked.sort(
        (a, b) =>
            a.score - b.score ||
            (a.typicalCost < b.typicalCost ? -1 : a.typicalCost > b.typicalCost ? 1 : 0) ||
            a.worker.address.toRawString().localeCompare(b.worker.address.toRawString()),
    );
}

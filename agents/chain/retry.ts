import { isRetryable } from './errors';

/**
 * Exponential backoff with full jitter (the delay before attempt n is uniform in
 * [0, min(maxDelay, baseDelay * 2^n)]), for 429, 5xx and timeouts.
 */
export interface RetryPolicy {
    baseDelayMs: number;
    maxDelayMs: number;
    /** Total attempts including the first; Infinity retries until `signal` aborts. */
    maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 250, maxDelayMs: 30_000, maxAttempts: 8 };

export class RetryAbortedError extends Error {
    constructor() {
        super('retry loop aborted');
        this.name = 'RetryAbortedError';
    }
}

export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
    const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
    return Math.floor(random() * cap);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(new RetryAbortedError());
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(new RetryAbortedError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}

export async function withRetry<T>(
    operation: (attempt: number) => Promise<T>,
    options: {
        policy?: RetryPolicy;
        retryable?: (error: unknown) => boolean;
        onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
        signal?: AbortSignal;
    } = {},
): Promise<T> {
    const policy = options.policy ?? DEFAULT_RETRY;
    const retryable = options.retryable ?? isRetryable;
    for (let attempt = 0; ; attempt++) {
        if (options.signal?.aborted) throw new RetryAbortedError();
        try {
            return await operation(attempt);
        } catch (error) {
            if (!retryable(error) || attempt + 1 >= policy.maxAttempts) throw error;
            const delay = backoffDelay(attempt, policy);
            options.onRetry?.(error, attempt + 1, delay);
            await sleep(delay, options.signal);
        }
    }
}

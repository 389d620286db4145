import { ChainRequestError, ChainUnavailableError } from './errors';
import { backoffDelay, RetryAbortedError, withRetry } from './retry';
import { classifyHttpError } from './toncenter';

describe('retries with backoff', () => {
    const fast = { baseDelayMs: 1, maxDelayMs: 4, maxAttempts: 5 };

    it('retries 429, 5xx and timeouts, then succeeds', async () => {
        const errors = [new ChainUnavailableError('429', 429), new ChainUnavailableError('502', 502), new ChainUnavailableError('timeout')];
        const seen: number[] = [];
        const result = await withRetry(
            async (attempt) => {
                if (attempt < errors.length) throw errors[attempt];
                return 'ok';
            },
            { policy: fast, onRetry: (_e, attempt) => seen.push(attempt) },
        );
        expect(result).toBe('ok');
        expect(seen).toEqual([1, 2, 3]);
    });

    it('does not retry a request the server refused, and gives up after maxAttempts', async () => {
        let calls = 0;
        await expect(withRetry(async () => ((calls += 1), Promise.reject(new ChainRequestError('400', 400))), { policy: fast })).rejects.toThrow('400');
        expect(calls).toBe(1);
        calls = 0;
        await expect(withRetry(async () => ((calls += 1), Promise.reject(new ChainUnavailableError('503', 503))), { policy: fast })).rejects.toThrow('503');
        expect(calls).toBe(5);
    });

    it('stops waiting when aborted', async () => {
        const controller = new AbortController();
        const pending = withRetry(async () => Promise.reject(new ChainUnavailableError('down')), {
            policy: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: Infinity },
            signal: controller.signal,
        });
        setTimeout(() => controller.abort(), 10);
        await expect(pending).rejects.toThrow(RetryAbortedError);
    });

    it('uses full jitter, capped', () => {
        const policy = { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 10 };
        expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
        expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
        expect(backoffDelay(20, policy, () => 0.999)).toBe(999);
        expect(backoffDelay(5, policy, () => 0)).toBe(0);
    });

    it('classifies HTTP failures: 429/5xx/network are retryable, 4xx are not, and the API key never leaks', () => {
        const endpoint = 'https://toncenter.com/api/v2/jsonRPC?api_key=SECRET';
        expect(classifyHttpError({ response: { status: 429, data: { error: 'Ratelimit exceed' } } }, endpoint)).toBeInstanceOf(ChainUnavailableError);
        expect(classifyHttpError({ response: { status: 502, data: 'Bad Gateway' } }, endpoint)).toBeInstanceOf(ChainUnavailableError);
        expect(classifyHttpError({ code: 'ECONNABORTED', message: 'timeout of 100ms exceeded' }, endpoint)).toBeInstanceOf(ChainUnavailableError);
        expect(classifyHttpError({ code: 'ECONNREFUSED', message: 'connect' }, endpoint)).toBeInstanceOf(ChainUnavailableError);
        const refused = classifyHttpError({ response: { status: 400, data: { error: 'bad address' } } }, endpoint);
        expect(refused).toBeInstanceOf(ChainRequestError);
        expect(refused.message).toMatch(/bad address/);
        expect(refused.message).not.toMatch(/SECRET/);
    });
});

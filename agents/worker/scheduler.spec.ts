import { ApiError } from './errors';
import { JobScheduler } from './scheduler';

const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
};

describe('job scheduler', () => {
    it('runs at most maxConcurrent jobs, queues up to maxQueued, and refuses the next with busy', async () => {
        const scheduler = new JobScheduler(2, 1);
        const gates = [deferred(), deferred(), deferred()];
        let running = 0;
        let peak = 0;
        const job = (i: number) =>
            scheduler.run(async () => {
                running++;
                peak = Math.max(peak, running);
                await gates[i].promise;
                running--;
                return i;
            });
        const jobs = [job(0), job(1), job(2)];
        expect(scheduler.inFlight).toBe(2);
        expect(scheduler.queued).toBe(1);
        expect(() => scheduler.run(async () => 9)).toThrow(ApiError);
        try {
            scheduler.assertRoom();
        } catch (error) {
            expect((error as ApiError).code).toBe('busy');
        }
        // On-chain jobs are admitted past the bound.
        const forced = scheduler.run(async () => 'forced', { mustRun: true });
        gates.forEach((g) => g.resolve());
        expect(await Promise.all(jobs)).toEqual([0, 1, 2]);
        expect(await forced).toBe('forced');
        expect(peak).toBe(2);
    });

    it('drains: refuses new work, waits for running jobs, aborts what outlives the grace period', async () => {
        const scheduler = new JobScheduler(1, 5);
        const quick = deferred();
        const done = scheduler.run(async () => {
            await quick.promise;
            return 'done';
        });
        const stuck = scheduler.run(
            (signal) =>
                new Promise<string>((resolve) => {
                    signal.addEventListener('abort', () => resolve('aborted'));
                }),
        );
        const draining = scheduler.drain(100);
        expect(() => scheduler.run(async () => 1)).toThrow(/shutting down/);
        quick.resolve();
        expect(await done).toBe('done');
        expect(await draining).toEqual({ aborted: 1 });
        expect(await stuck).toBe('aborted');
    });
});

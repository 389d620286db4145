import { ApiError } from './errors';

/**
 * Bounded concurrency with a bounded queue: at most `maxConcurrent` jobs run, at most
 * `maxQueued` wait; a job beyond that is refused at once (429 `busy`) rather than piling up.
 * On-chain jobs are admitted past the queue bound (`mustRun`): they were accepted on-chain and
 * their number is bounded by each channel's maxOpenJobs.
 *
 * Each job gets an AbortSignal; `drain` stops admission, waits for running and queued jobs up
 * to a grace period, then aborts what is left (the job hands its work back: nothing signed).
 */
interface Waiting {
    start: () => void;
    reject: (error: Error) => void;
}

export class JobScheduler {
    private running = 0;
    private readonly waiting: Waiting[] = [];
    private readonly controllers = new Set<AbortController>();
    private readonly active = new Set<Promise<unknown>>();
    private closed = false;
    private abortingAll = false;

    constructor(
        readonly maxConcurrent: number,
        readonly maxQueued: number,
    ) {}

    get inFlight(): number {
        return this.running;
    }

    get queued(): number {
        return this.waiting.length;
    }

    get draining(): boolean {
        return this.closed;
    }

    /** Whether a new fast-path job would be admitted now (checked before any work is journalled). */
    hasRoom(): boolean {
        return !this.closed && (this.running < this.maxConcurrent || this.waiting.length < this.maxQueued);
    }

    /** Throws the API error a refused job gets, if it would be refused. */
    assertRoom(): void {
        if (this.closed) throw new ApiError('draining', 'the worker is shutting down and takes no new work; retry on another worker or later');
        if (!this.hasRoom()) {
            throw new ApiError('busy', `the worker is at capacity (${this.running} running, ${this.waiting.length} queued); retry later`, { 'retry-after': '1' });
        }
    }

    /** Runs `task` when a slot is free. */
    run<T>(task: (signal: AbortSignal) => Promise<T>, options: { mustRun?: boolean } = {}): Promise<T> {
        if (this.closed && !options.mustRun) return Promise.reject(new ApiError('draining', 'the worker is shutting down and takes no new work'));
        if (!options.mustRun) this.assertRoom();
        const controller = new AbortController();
        const execution = new Promise<T>((resolve, reject) => {
            const start = () => {
                this.running += 1;
                this.controllers.add(controller);
                if (this.abortingAll) controller.abort();
                Promise.resolve()
                    .then(() => task(controller.signal))
                    .then(resolve, reject)
                    .finally(() => {
                        this.running -= 1;
                        this.controllers.delete(controller);
                        this.next();
                    });
            };
            if (this.running < this.maxConcurrent) start();
            else this.waiting.push({ start, reject });
        });
        const tracked = execution.catch(() => undefined);
        this.active.add(tracked);
        void tracked.finally(() => this.active.delete(tracked));
        return execution;
    }

    private next(): void {
        while (this.running < this.maxConcurrent && this.waiting.length > 0) this.waiting.shift()!.start();
    }

    /**
     * Stops admission; waits up to `graceMs` for jobs to finish, then aborts the rest and waits
     * for them to hand back. Returns how many finished in time and how many were aborted.
     */
    async drain(graceMs: number): Promise<{ aborted: number }> {
        this.closed = true;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
        const all = () => Promise.all([...this.active]);
        const outcome = await Promise.race([all().then(() => 'done' as const), timedOut]);
        clearTimeout(timer);
        if (outcome === 'done') return { aborted: 0 };
        const aborted = this.controllers.size + this.waiting.length;
        this.abortingAll = true;
        for (const c of this.controllers) c.abort();
        // Queued jobs never started: they still start, see the aborted signal and hand back at once.
        for (const c of this.waiting.splice(0)) c.start();
        await all();
        return { aborted };
    }
}

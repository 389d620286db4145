/**
 * Prometheus text exposition (format 0.0.4) for the agent's counters and gauges: a small
 * registry, enough for `GET /metrics`, with no dependency.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
    const keys = Object.keys(labels).sort();
    if (keys.length === 0) return '';
    const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
    return `{${keys.map((k) => `${k}="${escape(labels[k])}"`).join(',')}}`;
}

abstract class Metric {
    protected readonly values = new Map<string, number>();
    constructor(
        readonly name: string,
        readonly help: string,
        readonly type: 'counter' | 'gauge',
    ) {}

    render(): string {
        const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
        if (this.values.size === 0 && this.type === 'gauge') lines.push(`${this.name} 0`);
        for (const [labels, value] of this.values) lines.push(`${this.name}${labels} ${Number.isFinite(value) ? value : 0}`);
        return lines.join('\n');
    }

    get(labels: Labels = {}): number {
        return this.values.get(labelKey(labels)) ?? 0;
    }
}

export class Counter extends Metric {
    constructor(name: string, help: string) {
        super(name, help, 'counter');
    }

    inc(labels: Labels = {}, by = 1): void {
        const key = labelKey(labels);
        this.values.set(key, (this.values.get(key) ?? 0) + by);
    }
}

export class Gauge extends Metric {
    constructor(
        name: string,
        help: string,
        private readonly collect?: () => number,
    ) {
        super(name, help, 'gauge');
    }

    set(value: number, labels: Labels = {}): void {
        this.values.set(labelKey(labels), value);
    }

    render(): string {
        if (this.collect) this.set(this.collect());
        return super.render();
    }
}

export class MetricsRegistry {
    private readonly metrics: Metric[] = [];

    counter(name: string, help: string): Counter {
        const metric = new Counter(name, help);
        this.metrics.push(metric);
        return metric;
    }

    gauge(name: string, help: string, collect?: () => number): Gauge {
        const metric = new Gauge(name, help, collect);
        this.metrics.push(metric);
        return metric;
    }

    render(): string {
        return this.metrics.map((m) => m.render()).join('\n') + '\n';
    }
}

/** The worker agent's metrics (names documented in docs/worker-agent.md). */
export function workerMetrics(registry = new MetricsRegistry()) {
    return {
        registry,
        httpRequests: registry.counter('cocoon_worker_http_requests_total', 'HTTP requests by route and status code'),
        jobs: registry.counter('cocoon_worker_jobs_total', 'Jobs finished, by path (fast|onchain) and outcome (signed|repeat|failed|refused)'),
        receiptsSigned: registry.counter('cocoon_worker_receipts_signed_total', 'Receipts signed (each (channel, seq) at most once)'),
        tokens: registry.counter('cocoon_worker_tokens_total', 'Tokens served, by kind (prompt|completion)'),
        earnedNano: registry.counter('cocoon_worker_served_nanoton_total', 'nanoTON of work receipted (fast path and on-chain)'),
        vouchers: registry.counter('cocoon_worker_vouchers_total', 'Vouchers received, by outcome (accepted|stale|invalid)'),
        settlements: registry.counter('cocoon_worker_settlements_total', 'Settle messages sent, by outcome'),
        onchain: registry.counter('cocoon_worker_onchain_actions_total', 'On-chain job actions sent, by action (commit|finalize)'),
        chainErrors: registry.counter('cocoon_worker_chain_errors_total', 'Chain calls that failed after retries, by operation'),
        inFlight: registry.gauge('cocoon_worker_jobs_in_flight', 'Jobs running now'),
        queued: registry.gauge('cocoon_worker_jobs_queued', 'Jobs waiting for a slot'),
        draining: registry.gauge('cocoon_worker_draining', '1 while shutting down'),
    };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;

// Small statistics for the bench: quantiles, medians with a bootstrap CI, a least-squares slope.
import { execSync } from 'node:child_process';
import * as os from 'node:os';

export function quantile(sorted: number[], q: number): number {
    if (sorted.length === 0) return NaN;
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values: number[]): number {
    return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function summary(values: number[]): { median: number; q1: number; q3: number; p10: number; p90: number } {
    const s = [...values].sort((a, b) => a - b);
    return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

/** Percentile-bootstrap 95 % confidence interval of the median (deterministic PRNG). */
export function medianCi(values: number[], resamples = 2000): [number, number] {
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const medians: number[] = [];
    for (let r = 0; r < resamples; r++) {
        const sample = values.map(() => values[Math.floor(rand() * values.length)]).sort((a, b) => a - b);
        medians.push(quantile(sample, 0.5));
    }
    medians.sort((a, b) => a - b);
    return [quantile(medians, 0.025), quantile(medians, 0.975)];
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b, 0) / n;
    const my = ys.reduce((a, b) => a + b, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
        num += (xs[i] - mx) * (ys[i] - my);
        den += (xs[i] - mx) ** 2;
    }
    return den === 0 ? 0 : num / den;
}

export interface MachineInfo {
    cpu: string;
    cores: number;
    memGiB: number;
    os: string;
    node: string;
    loadAverage: number[];
}

export function machine(): MachineInfo {
    let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    try {
        const model = /Model name:\s*(.+)/.exec(execSync('lscpu', { encoding: 'utf8' }))?.[1];
        if (model) cpu = model.trim();
    } catch {
        // lscpu is optional
    }
    return {
        cpu,
        cores: os.cpus().length,
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()}`,
        node: process.version,
        loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
}

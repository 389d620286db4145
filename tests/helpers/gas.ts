// Gas snapshots: each spec file that measures gas owns a group, stored in
// tests/gas-snapshot/<group>.json as { "operation": gas }. A recorded operation whose gas grows
// more than GAS_TOLERANCE over its snapshot fails the test; an operation missing from the
// snapshot, or a snapshot entry no longer measured, fails too. `GAS_SNAPSHOT_UPDATE=1 npx jest
// tests/gas` rewrites the group's file from the measurements (review the diff, commit it, and
// update docs/gas.md). To add operations (e.g. the Channel's), create a spec with its own group:
//     const gas = new GasSnapshot('channel');  ...  gas.record('Channel.Settle', tx);
//     afterAll(() => gas.verify());
import fs from 'node:fs';
import path from 'node:path';
import { Address, Transaction } from '@ton/core';
import { SendMessageResult } from '@ton/sandbox';

export const GAS_TOLERANCE = 0.05;
export const SNAPSHOT_DIR = path.resolve(__dirname, '..', 'gas-snapshot');

/** Compute gas of one transaction (0 when it had no VM compute phase). */
export function computeGas(tx: Transaction): bigint {
    const d = tx.description;
    if (d.type !== 'generic' || d.computePhase.type !== 'vm') return 0n;
    return d.computePhase.gasUsed;
}

/** The transaction of `result` that ran on `address` (the first one, or the n-th). */
export function txOn(result: SendMessageResult, address: Address, nth = 0): Transaction {
    const txs = result.transactions.filter((t) => {
        const dest = t.inMessage?.info.dest;
        return dest instanceof Address && dest.equals(address);
    });
    if (txs.length <= nth) throw new Error(`no transaction #${nth} on ${address.toString()} in this trace`);
    return txs[nth];
}

/** Sum of compute gas over the trace, excluding the sending wallet's own transaction. */
export function traceGas(result: SendMessageResult): bigint {
    return result.transactions.slice(1).reduce((sum, tx) => sum + computeGas(tx), 0n);
}

export function isUpdateMode(): boolean {
    return process.env.GAS_SNAPSHOT_UPDATE === '1';
}

export class GasSnapshot {
    readonly file: string;
    private readonly measured = new Map<string, number>();
    private readonly snapshot: Record<string, number>;

    constructor(readonly group: string) {
        this.file = path.join(SNAPSHOT_DIR, `${group}.json`);
        this.snapshot = fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, number>) : {};
    }

    /** Records `gas` (a number or a transaction's compute gas) and returns it as a number. */
    record(operation: string, gas: bigint | number | Transaction): number {
        const value = typeof gas === 'object' ? Number(computeGas(gas)) : Number(gas);
        if (this.measured.has(operation)) throw new Error(`gas operation "${operation}" recorded twice`);
        this.measured.set(operation, value);
        return value;
    }

    measurements(): ReadonlyMap<string, number> {
        return this.measured;
    }

    /** Fails on growth beyond the tolerance, unknown operations and stale entries; rewrites in update mode. */
    verify(): void {
        if (isUpdateMode()) {
            const sorted = Object.fromEntries([...this.measured.entries()].sort(([a], [b]) => a.localeCompare(b)));
            fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
            fs.writeFileSync(this.file, JSON.stringify(sorted, null, 2) + '\n');
            return;
        }
        const problems: string[] = [];
        for (const [operation, gas] of this.measured) {
            const budget = this.snapshot[operation];
            if (budget === undefined) {
                problems.push(`${operation}: ${gas} gas, not in ${path.basename(this.file)} (run with GAS_SNAPSHOT_UPDATE=1)`);
            } else if (gas > budget * (1 + GAS_TOLERANCE)) {
                problems.push(`${operation}: ${gas} gas, more than ${Math.round(GAS_TOLERANCE * 100)}% over the snapshot's ${budget}`);
            }
        }
        for (const operation of Object.keys(this.snapshot)) {
            if (!this.measured.has(operation)) problems.push(`${operation}: in the snapshot but no longer measured`);
        }
        if (problems.length > 0) throw new Error(`gas snapshot "${this.group}":\n  ${problems.join('\n  ')}`);
    }
}

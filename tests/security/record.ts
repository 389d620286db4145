// Counts that the security specs record for `npm run audit` (scripts/audit.ts): how many
// properties, runs, invariant checks, fuzz cases and matrix cells each spec exercised. Each spec
// writes one JSON file under temp/security-audit/ (git-ignored) when it finishes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const AUDIT_DIR = join(__dirname, '..', '..', 'temp', 'security-audit');

export type Counts = Record<string, number>;

/** A tally a spec fills while it runs and writes in afterAll. */
export class Tally {
    readonly counts: Counts = {};
    readonly notes: string[] = [];

    constructor(readonly spec: string) {}

    add(key: string, n = 1): void {
        this.counts[key] = (this.counts[key] ?? 0) + n;
    }

    note(line: string): void {
        this.notes.push(line);
    }

    write(): void {
        mkdirSync(AUDIT_DIR, { recursive: true });
        writeFileSync(
            join(AUDIT_DIR, `${this.spec}.json`),
            JSON.stringify({ spec: this.spec, writtenAt: new Date().toISOString(), counts: this.counts, notes: this.notes }, null, 2),
        );
    }
}

// Static analysis: the Misti analyzer for Tact with every built-in detector (-A) over the
// project's contracts (tact.config.json). Every warning must be listed, with its reason, in the
// "Misti warnings" table of docs/security.md; a new warning (or more of a listed kind) fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tally } from './record';

const ROOT = join(__dirname, '..', '..');
const tally = new Tally('misti');

interface MistiWarning {
    detectorId: string;
    description: string;
    severity: number;
    location: { file: string; line: number; column: number };
}

interface Allowed {
    detector: string;
    file: string;
    description: string;
    count: number;
    reason: string;
}

/** Rows of the "Misti warnings" table: | detector | file | description | count | reason |. */
function allowList(): Allowed[] {
    const doc = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
    const section = doc.split('### Misti warnings')[1];
    if (!section) throw new Error('docs/security.md has no "### Misti warnings" section');
    const rows: Allowed[] = [];
    for (const line of section.split('\n')) {
        if (line.startsWith('#')) break;
        const cells = line.split('|').map((c) => c.trim());
        if (cells.length < 7 || cells[1] === 'detector' || cells[1].startsWith('---')) continue;
        const strip = (s: string) => s.replace(/^`|`$/g, '');
        rows.push({ detector: strip(cells[1]), file: strip(cells[2]), description: strip(cells[3]), count: Number(cells[4]), reason: cells[5] });
    }
    return rows;
}

/** Runs Misti (all detectors, JSON output) and returns its warnings. */
function runMisti(): { warnings: MistiWarning[]; disabled: string[] } {
    const bin = join(ROOT, 'node_modules', '.bin', 'misti');
    const run = spawnSync(bin, ['-A', '-C', '-o', 'json', 'tact.config.json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const text = `${run.stdout}\n${run.stderr}`;
    const start = text.indexOf('{\n  "kind"');
    if (start < 0) throw new Error(`Misti produced no JSON report (exit ${run.status}):\n${text.slice(0, 2000)}`);
    const report = JSON.parse(text.slice(start, text.lastIndexOf('}') + 1)) as {
        kind: string;
        warnings?: MistiWarning[];
        logs?: { warn?: string[] };
    };
    const disabled = (report.logs?.warn ?? []).filter((w) => w.includes('will be disabled'));
    return { warnings: report.warnings ?? [], disabled };
}

describe('Misti static analysis (all detectors)', () => {
    afterAll(() => tally.write());

    it('every Misti warning on contracts/ is explained in docs/security.md', () => {
        const allowed = allowList();
        expect(allowed.length).toBeGreaterThan(0);
        for (const row of allowed) expect(row.reason.length).toBeGreaterThan(10);
        const { warnings, disabled } = runMisti();
        const seen = new Map<string, MistiWarning[]>();
        for (const w of warnings) {
            const key = `${w.detectorId}|${basename(w.location.file)}|${w.description}`;
            seen.set(key, [...(seen.get(key) ?? []), w]);
        }
        const unexplained: string[] = [];
        for (const [key, list] of seen) {
            const [detector, file, description] = key.split('|');
            const row = allowed.find((a) => a.detector === detector && a.file === file && a.description === description);
            if (!row || list.length > row.count) {
                const where = list.map((w) => `${file}:${w.location.line}`).join(', ');
                unexplained.push(`${detector} ${where}: ${description} (${list.length} seen, ${row?.count ?? 0} explained)`);
            }
        }
        tally.add('warnings', warnings.length);
        tally.add('explainedKinds', allowed.length);
        tally.add('detectorsDisabledNoSouffle', disabled.length > 0 ? 3 : 0);
        tally.note(`Misti 0.9.0 -A: ${warnings.length} warnings in ${seen.size} kinds, all explained`);
        if (disabled.length > 0) tally.note('Soufflé is not installed: DivideBeforeMultiply, ReadOnlyVariables, UnboundLoop did not run');
        expect(unexplained).toEqual([]);
    }, 180_000);
});

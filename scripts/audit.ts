// `npm run audit`: runs the security suite (tests/security, Misti included) and writes
// audit-report.md from the counts the specs recorded under temp/security-audit/ (properties and
// runs, invariant checks, fuzz cases, matrix cells, Misti warnings). Exits non-zero when a test
// fails; the report then says so. Usage: npm run audit [-- --out <file>]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const AUDIT_DIR = join(ROOT, 'temp', 'security-audit');

interface Recorded {
    spec: string;
    writtenAt: string;
    counts: Record<string, number>;
    notes: string[];
}

function main(): number {
    const outIndex = process.argv.indexOf('--out');
    const out = outIndex > 0 ? process.argv[outIndex + 1] : join(ROOT, 'audit-report.md');
    rmSync(AUDIT_DIR, { recursive: true, force: true });
    const started = Date.now();
    const jest = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), 'tests/security', '--maxWorkers=1', '--json', '--outputFile', join(ROOT, 'temp', 'security-jest.json')],
        { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const recorded: Recorded[] = existsSync(AUDIT_DIR)
        ? readdirSync(AUDIT_DIR)
              .filter((f) => f.endsWith('.json'))
              .sort()
              .map((f) => JSON.parse(readFileSync(join(AUDIT_DIR, f), 'utf8')) as Recorded)
        : [];
    let results: { numPassedTests: number; numFailedTests: number; numTotalTests: number; testResults: { name: string; status: string }[] } | null = null;
    try {
        results = JSON.parse(readFileSync(join(ROOT, 'temp', 'security-jest.json'), 'utf8'));
    } catch {
        results = null;
    }
    const totals: Record<string, number> = {};
    for (const r of recorded) for (const [k, v] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + v;
    const lines: string[] = [];
    lines.push('# Cocoon on TON: contracts security audit report', '');
    lines.push(`Generated ${new Date().toISOString()} by \`npm run audit\` (tests/security and Misti, ${seconds} s).`, '');
    lines.push(
        results
            ? `Result: **${results.numFailedTests === 0 && jest.status === 0 ? 'PASS' : 'FAIL'}**: ${results.numPassedTests} of ${results.numTotalTests} tests passed in ${results.testResults.length} spec files.`
            : `Result: **FAIL**: jest exited ${jest.status} without a report.`,
        '',
    );
    lines.push('## Totals', '', '| count | value |', '|---|---:|');
    for (const [k, v] of Object.entries(totals).sort()) lines.push(`| ${k} | ${v} |`);
    lines.push('');
    for (const r of recorded) {
        lines.push(`## ${r.spec}`, '', '| count | value |', '|---|---:|');
        for (const [k, v] of Object.entries(r.counts).sort()) lines.push(`| ${k} | ${v} |`);
        if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`));
        lines.push('');
    }
    if (results) {
        lines.push('## Spec files', '');
        for (const t of results.testResults) lines.push(`- ${t.status}: ${t.name.replace(ROOT + '/', '')}`);
        lines.push('');
    }
    lines.push('The threat model and the Misti warnings explained: docs/security.md.', '');
    writeFileSync(out, lines.join('\n'));
    console.log(`audit report: ${out}`);
    return jest.status === 0 ? 0 : 1;
}

process.exit(main());

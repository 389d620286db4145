// The contract docs list every message, event, getter and exit code of Root and Worker, with
// the same numbers as the code.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const abiOf = (name: string) => JSON.parse(read(`build/Cocoon/Cocoon_${name}.abi`)) as {
    types: { name: string; header: number | null }[];
    receivers: { receiver: string; message: { kind: string; type?: string } }[];
    getters: { name: string }[];
};

describe('docs/', () => {
    it('exit-codes.md lists every ERR_ constant of contracts/errors.tact with its number', () => {
        const doc = read('docs/exit-codes.md');
        const constants = [...read('contracts/errors.tact').matchAll(/^const (ERR_\w+): Int = (\d+);/gm)];
        expect(constants.length).toBeGreaterThan(40);
        for (const [, name, code] of constants) {
            expect(doc).toMatch(new RegExp(`\\|\\s*${code}\\s*\\|\\s*\`${name}\``));
        }
    });

    it.each(['Root', 'Worker'])('%s: docs list every message it receives, with its opcode', (contract) => {
        const abi = abiOf(contract);
        const doc = read(`docs/${contract.toLowerCase()}.md`);
        const headers = new Map(abi.types.map((t) => [t.name, t.header]));
        const typed = abi.receivers.filter((r) => r.message.kind === 'typed').map((r) => r.message.type!);
        expect(typed.length).toBeGreaterThan(10);
        for (const name of typed) {
            expect([name, doc.includes(`\`${name}`)]).toEqual([name, true]);
            const op = `0x${headers.get(name)!.toString(16).toUpperCase().padStart(8, '0')}`;
            expect([name, doc.includes(op)]).toEqual([name, true]);
        }
    });

    it.each([
        ['Root', 0xe0520000],
        ['Worker', 0xe0570000],
    ])('%s: docs list every event with its opcode', (contract, base) => {
        const doc = read(`docs/${contract.toLowerCase()}.md`);
        const events = abiOf(contract).types.filter((t) => t.header !== null && t.header >= base && t.header < base + 0x10000);
        expect(events.length).toBeGreaterThan(10);
        for (const event of events) {
            const op = `0x${event.header!.toString(16).toUpperCase()}`;
            expect([event.name, doc.includes(`| \`${event.name}\` | \`${op}\``)]).toEqual([event.name, true]);
        }
    });

    it.each(['Root', 'Worker'])('getters.md lists every getter of %s', (contract) => {
        const doc = read('docs/getters.md');
        const section = doc.slice(doc.indexOf(`## ${contract}`));
        for (const getter of abiOf(contract).getters) {
            expect([getter.name, section.includes(`| \`${getter.name}\` |`)]).toEqual([getter.name, true]);
        }
    });
});

// contracts/schema.tlb against the compiled Tact ABI: every message, event and signed object has
// the same opcode, field names, field order and field types, and a body serialized by the
// generated bindings parses with the schema's physical layout, to the last bit.
import fs from 'node:fs';
import path from 'node:path';
import { Address, beginCell, Builder, Cell, Dictionary, Slice } from '@ton/core';
import * as bindings from '../wrappers';

interface AbiType {
    kind: string;
    type?: string;
    format?: number | string;
    optional?: boolean;
    key?: string;
    keyFormat?: number;
    value?: string;
    valueFormat?: number | string;
}
interface AbiStruct {
    name: string;
    header: number | null;
    fields: { name: string; type: AbiType }[];
}
type SchemaField = { name: string; type: string } | { continuation: SchemaField[] };
interface Constructor {
    name: string; // Tact type name
    tag: number | null;
    fields: SchemaField[];
}

const ROOT = path.resolve(__dirname, '..');
const abiTypes: AbiStruct[] = [
    ...JSON.parse(fs.readFileSync(path.join(ROOT, 'build/Cocoon/Cocoon_Root.abi'), 'utf8')).types,
    ...JSON.parse(fs.readFileSync(path.join(ROOT, 'build/Cocoon/Cocoon_Worker.abi'), 'utf8')).types,
];
const abi = new Map<string, AbiStruct>(abiTypes.map((t) => [t.name, t]));

const PROTOCOL_RANGES: [number, number][] = [
    [0x52000000, 0x53000000],
    [0x57000000, 0x58000000],
    [0x43000000, 0x44000000],
    [0xe0520000, 0xe0530000],
    [0xe0570000, 0xe0580000],
    [0xe0430000, 0xe0440000],
    [0x5e000000, 0x5e000100],
];
const isProtocolOpcode = (op: number) => PROTOCOL_RANGES.some(([lo, hi]) => op >= lo && op < hi);

function tokenize(text: string): string[] {
    const tokens: string[] = [];
    let i = 0;
    while (i < text.length) {
        const c = text[i];
        if (/\s/.test(c)) {
            i++;
        } else if (c === '(') {
            const end = text.indexOf(')', i);
            tokens.push(text.slice(i, end + 1));
            i = end + 1;
        } else if (text.startsWith('^[', i)) {
            tokens.push('^[');
            i += 2;
        } else if (c === ']') {
            tokens.push(']');
            i++;
        } else {
            let j = i;
            while (j < text.length && !/\s/.test(text[j]) && text[j] !== ']') {
                j = text[j] === '(' ? text.indexOf(')', j) + 1 : j + 1;
            }
            tokens.push(text.slice(i, j));
            i = j;
        }
    }
    return tokens;
}

function camel(snake: string): string {
    return snake.replace(/(^|_)([a-z])/g, (_m, _u, ch: string) => ch.toUpperCase());
}

function parseSchema(text: string): Map<string, Constructor> {
    const result = new Map<string, Constructor>();
    const body = text.replace(/\/\/.*$/gm, '');
    for (const statement of body.split(';').map((s) => s.trim()).filter(Boolean)) {
        const [lhs, resultType] = statement.split('=').map((s) => s.trim());
        const tokens = tokenize(lhs);
        const head = tokens.shift()!;
        const match = /^([a-z_]+)(?:#([0-9a-f]{8})|\$_)$/.exec(head);
        if (!match) throw new Error(`schema.tlb: cannot read constructor "${head}"`);
        const parse = (): SchemaField[] => {
            const fields: SchemaField[] = [];
            while (tokens.length > 0) {
                const token = tokens.shift()!;
                if (token === ']') return fields;
                if (token === '^[') {
                    fields.push({ continuation: parse() });
                    continue;
                }
                const colon = token.indexOf(':');
                fields.push({ name: token.slice(0, colon), type: token.slice(colon + 1) });
            }
            return fields;
        };
        const tag = match[2] ? parseInt(match[2], 16) : null;
        const name = tag === null || abi.has(resultType) ? resultType : camel(match[1]);
        result.set(name, { name, tag, fields: parse() });
    }
    return result;
}

function flat(fields: SchemaField[]): { name: string; type: string }[] {
    return fields.flatMap((f) => ('continuation' in f ? flat(f.continuation) : [f]));
}

function tlbTypeOf(t: AbiType): string {
    if (t.kind === 'dict') {
        const value = t.value === 'bool' ? 'Bool' : t.value === 'uint' ? `uint${t.valueFormat}` : t.valueFormat === 'ref' ? `^${t.value}` : t.value!;
        return `(HashmapE ${t.keyFormat} ${value})`;
    }
    const base = (() => {
        switch (t.type) {
            case 'uint':
                return t.format === 'coins' ? 'Coins' : `uint${t.format}`;
            case 'int':
                return `int${t.format}`;
            case 'address':
                return 'MsgAddress';
            case 'bool':
                return 'Bool';
            case 'cell':
                return '^Cell';
            case 'string':
                return '^Text';
            case 'fixed-bytes':
                return `bits${Number(t.format) * 8}`;
            default:
                return t.type!;
        }
    })();
    if (t.optional && t.type !== 'address') return `(Maybe ${base})`;
    return base;
}

// ---- sample values built from the ABI, serialized with the generated store functions ----

const SAMPLE_ADDRESS = Address.parse('EQD__________________________________________0vo');
let counter = 1n;

function sampleOf(t: AbiType): unknown {
    counter += 1n;
    if (t.kind === 'dict') {
        const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), (bindings as Record<string, any>)[`dictValueParser${t.value}`]());
        dict.set(counter, sampleStruct(t.value!));
        return dict;
    }
    switch (t.type) {
        case 'uint':
            return t.format === 'coins' ? 1_000_000_000n + counter : (counter % (1n << BigInt(Math.min(Number(t.format), 60)))) || 1n;
        case 'int':
            return counter;
        case 'address':
            return SAMPLE_ADDRESS;
        case 'bool':
            return true;
        case 'cell':
            return beginCell().storeUint(counter, 32).endCell();
        case 'string':
            return `text ${counter}`;
        case 'fixed-bytes':
            return Buffer.alloc(Number(t.format), Number(counter % 256n));
        default:
            return sampleStruct(t.type!);
    }
}

function sampleStruct(name: string): Record<string, unknown> {
    const struct = abi.get(name);
    if (!struct) throw new Error(`no ABI type ${name}`);
    const value: Record<string, unknown> = { $$type: name };
    for (const field of struct.fields) value[field.name] = sampleOf(field.type);
    return value;
}

function serialize(name: string, value: Record<string, unknown>): Cell {
    const store = (bindings as Record<string, any>)[`store${name}`] as (v: unknown) => (b: Builder) => void;
    return beginCell().store(store(value)).endCell();
}

// ---- a reader that follows the schema's physical layout ----

function read(schema: Map<string, Constructor>, ctor: Constructor, slice: Slice, out: Record<string, unknown>): void {
    if (ctor.tag !== null) expect(slice.loadUint(32)).toBe(ctor.tag);
    const walk = (fields: SchemaField[], s: Slice) => {
        for (const field of fields) {
            if ('continuation' in field) {
                const next = s.loadRef().beginParse();
                walk(field.continuation, next);
                expect(next.remainingBits).toBe(0);
                expect(next.remainingRefs).toBe(0);
                continue;
            }
            out[field.name] = readType(schema, field.type, s);
        }
    };
    walk(ctor.fields, slice);
}

function readType(schema: Map<string, Constructor>, type: string, s: Slice): unknown {
    let m: RegExpExecArray | null;
    if ((m = /^uint(\d+)$/.exec(type))) return s.loadUintBig(Number(m[1]));
    if ((m = /^int(\d+)$/.exec(type))) return s.loadIntBig(Number(m[1]));
    if ((m = /^bits(\d+)$/.exec(type))) return s.loadBuffer(Number(m[1]) / 8);
    if (type === 'Coins') return s.loadCoins();
    if (type === 'MsgAddress') return s.loadAddressAny();
    if (type === 'Bool') return s.loadBit();
    if (type === '^Cell' || type === '^Text') return s.loadRef();
    if (type.startsWith('(Maybe ^') || type.startsWith('(HashmapE ')) return s.loadMaybeRef();
    const nested = schema.get(type);
    if (!nested) throw new Error(`schema.tlb: unknown type ${type}`);
    const out: Record<string, unknown> = {};
    read(schema, nested, s, out);
    return out;
}

function expectSameLeaves(parsed: Record<string, unknown>, sample: Record<string, unknown>, where: string): void {
    for (const [key, value] of Object.entries(parsed)) {
        const expected = sample[key];
        if (typeof value === 'bigint' || typeof value === 'boolean') {
            expect([where, key, value]).toEqual([where, key, expected]);
        } else if (Buffer.isBuffer(value)) {
            expect((expected as Buffer).equals(value)).toBe(true);
        } else if (value && typeof value === 'object' && !(value instanceof Cell) && !(value instanceof Address) && 'type' in (value as object) === false) {
            expectSameLeaves(value as Record<string, unknown>, expected as Record<string, unknown>, `${where}.${key}`);
        }
    }
}

describe('contracts/schema.tlb', () => {
    const schema = parseSchema(fs.readFileSync(path.join(ROOT, 'contracts/schema.tlb'), 'utf8'));
    const tagged = [...abi.values()].filter((t) => t.header !== null && isProtocolOpcode(t.header));

    it('lists every message, event and signed object of the ABI with its opcode, and nothing else', () => {
        const abiOps = new Map(tagged.map((t) => [t.name, t.header]));
        const schemaOps = new Map([...schema.values()].filter((c) => c.tag !== null).map((c) => [c.name, c.tag]));
        expect(Object.fromEntries(schemaOps)).toEqual(Object.fromEntries(abiOps));
        expect(tagged.length).toBeGreaterThan(60);
    });

    it.each([...schema.values()].map((c) => [c.name, c] as const))('%s: field names, order and types match the ABI', (name, ctor) => {
        const struct = abi.get(name);
        expect(struct).toBeDefined();
        expect(flat(ctor.fields)).toEqual(struct!.fields.map((f) => ({ name: f.name, type: tlbTypeOf(f.type) })));
    });

    it.each([...schema.values()].map((c) => [c.name, c] as const))('%s: a body serialized by the bindings parses with the schema layout', (name, ctor) => {
        const sample = sampleStruct(name);
        const slice = serialize(name, sample).beginParse();
        const parsed: Record<string, unknown> = {};
        read(schema, ctor, slice, parsed);
        expect(slice.remainingBits).toBe(0);
        expect(slice.remainingRefs).toBe(0);
        expectSameLeaves(parsed, sample, name);
    });

    it('ParamsHead is exactly the prefix of Params that paramsHead() reads', () => {
        const head = flat(schema.get('ParamsHead')!.fields);
        expect(flat(schema.get('Params')!.fields).slice(0, head.length)).toEqual(head);
    });
});

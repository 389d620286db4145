import { Cell, TupleItem } from '@ton/core';

/**
 * TVM stacks in toncenter v2 JSON.
 *
 * Request (what `TonClient` sends): `[["num", "123" | "0x7b"], ["tvm.Cell", base64], ["tvm.Slice", base64], ...]`.
 * Response: top-level `["num", "0x7b"]`, `["cell", {bytes}]`, `["slice", {bytes}]`, `["builder", {bytes}]`,
 * `["null"]`, `["tuple", {"@type": "tvm.tuple", elements: [entry...]}]`, with nested entries
 * `{"@type": "tvm.stackEntryNumber", number: {number: "123"}}`, `tvm.stackEntryCell`,
 * `tvm.stackEntrySlice`, `tvm.stackEntryTuple`, `tvm.stackEntryList` and (devnet) `tvm.stackEntryNull`.
 *
 * `TonClient` turns nested tuple entries into bare values that `TupleReader` cannot read, so the
 * toncenter chain parses responses here instead, into proper `TupleItem`s.
 */
export class StackFormatError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'StackFormatError';
    }
}

function parseBigInt(value: unknown, where: string): bigint {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value !== 'string' || !/^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) {
        throw new StackFormatError(`${where}: "${String(value)}" is not an integer (decimal or 0x-hex)`);
    }
    return value.startsWith('-') ? -BigInt(value.slice(1)) : BigInt(value);
}

function parseBoc(value: unknown, where: string): Cell {
    if (typeof value !== 'string') throw new StackFormatError(`${where}: expected a base64 BOC`);
    try {
        const cells = Cell.fromBoc(Buffer.from(value, 'base64'));
        if (cells.length !== 1) throw new Error(`${cells.length} roots`);
        return cells[0];
    } catch (error) {
        throw new StackFormatError(`${where}: not a valid BOC (${(error as Error).message})`);
    }
}

/** Parses a request stack (the `stack` param of runGetMethod). */
export function parseRequestStack(raw: unknown): TupleItem[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) throw new StackFormatError('stack must be an array of [type, value] pairs');
    return raw.map((entry, i): TupleItem => {
        const where = `stack[${i}]`;
        if (!Array.isArray(entry) || entry.length < 1 || typeof entry[0] !== 'string') {
            throw new StackFormatError(`${where} must be a [type, value] pair`);
        }
        const [type, value] = entry as [string, unknown];
        switch (type) {
            case 'num':
            case 'number':
            case 'int':
                return { type: 'int', value: parseBigInt(value, where) };
            case 'tvm.Cell':
            case 'cell':
                return { type: 'cell', cell: parseBoc(value, where) };
            case 'tvm.Slice':
            case 'slice':
                return { type: 'slice', cell: parseBoc(value, where) };
            case 'tvm.Builder':
            case 'builder':
                return { type: 'builder', cell: parseBoc(value, where) };
            case 'null':
                return { type: 'null' };
            default:
                throw new StackFormatError(`${where}: unsupported stack entry type "${type}" (num, tvm.Cell, tvm.Slice, tvm.Builder, null)`);
        }
    });
}

function hexNumber(value: bigint): string {
    return value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

function encodeNested(item: TupleItem): unknown {
    switch (item.type) {
        case 'int':
            return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } };
        case 'cell':
            return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') } };
        case 'slice':
        case 'builder':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') } };
        case 'tuple':
            return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(encodeNested) } };
        case 'null':
            return { '@type': 'tvm.stackEntryNull' };
        case 'nan':
            throw new StackFormatError('NaN cannot be returned over toncenter v2');
    }
}

/** Encodes get-method results the way toncenter v2 returns them. */
export function encodeResponseStack(items: TupleItem[]): unknown[] {
    return items.map((item) => {
        switch (item.type) {
            case 'int':
                return ['num', hexNumber(item.value)];
            case 'cell':
                return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
            case 'slice':
                return ['slice', { bytes: item.cell.toBoc().toString('base64') }];
            case 'builder':
                return ['builder', { bytes: item.cell.toBoc().toString('base64') }];
            case 'null':
                return ['null'];
            case 'tuple':
                return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(encodeNested) }];
            case 'nan':
                throw new StackFormatError('NaN cannot be returned over toncenter v2');
        }
    });
}

function parseNested(entry: unknown, where: string): TupleItem {
    const e = entry as Record<string, any> | null;
    if (e === null) return { type: 'null' };
    switch (e?.['@type']) {
        case 'tvm.stackEntryNumber':
            return { type: 'int', value: parseBigInt(e.number?.number, where) };
        case 'tvm.stackEntryCell':
            return { type: 'cell', cell: parseBoc(e.cell?.bytes, where) };
        case 'tvm.stackEntrySlice':
            return { type: 'slice', cell: parseBoc(e.slice?.bytes, where) };
        case 'tvm.stackEntryTuple':
            return { type: 'tuple', items: parseElements(e.tuple?.elements, where) };
        case 'tvm.stackEntryList':
            return { type: 'tuple', items: parseElements(e.list?.elements, where) };
        case 'tvm.stackEntryNull':
            return { type: 'null' };
        default:
            throw new StackFormatError(`${where}: unsupported nested stack entry ${JSON.stringify(e?.['@type'])}`);
    }
}

function parseElements(elements: unknown, where: string): TupleItem[] {
    if (!Array.isArray(elements)) throw new StackFormatError(`${where}: tuple elements must be an array`);
    return elements.map((el, i) => parseNested(el, `${where}[${i}]`));
}

/** Parses a runGetMethod response stack into TupleItems (nested tuples included). */
export function parseResponseStack(raw: unknown): TupleItem[] {
    if (!Array.isArray(raw)) throw new StackFormatError('response stack must be an array');
    return raw.map((entry, i): TupleItem => {
        const where = `stack[${i}]`;
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new StackFormatError(`${where} must be a [type, value] pair`);
        const [type, value] = entry as [string, any];
        switch (type) {
            case 'num':
                return { type: 'int', value: parseBigInt(value, where) };
            case 'cell':
                return { type: 'cell', cell: parseBoc(value?.bytes, where) };
            case 'slice':
                return { type: 'slice', cell: parseBoc(value?.bytes, where) };
            case 'builder':
                return { type: 'builder', cell: parseBoc(value?.bytes, where) };
            case 'null':
                return { type: 'null' };
            case 'tuple':
            case 'list': {
                const items = parseElements(value?.elements, where);
                return type === 'list' && items.length === 0 ? { type: 'null' } : { type: 'tuple', items };
            }
            default:
                throw new StackFormatError(`${where}: unsupported stack entry type "${type}"`);
        }
    });
}

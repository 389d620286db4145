import { beginCell, TupleItem } from '@ton/core';
import { encodeResponseStack, parseRequestStack, parseResponseStack, StackFormatError } from './toncenter-stack';

describe('toncenter v2 stack codec', () => {
    const cell = beginCell().storeUint(42, 32).endCell();

    it('round-trips get-method results, nested tuples (Tact structs) included', () => {
        const items: TupleItem[] = [
            { type: 'int', value: -5n },
            { type: 'int', value: 2n ** 255n },
            { type: 'null' },
            { type: 'cell', cell },
            { type: 'slice', cell },
            { type: 'tuple', items: [{ type: 'int', value: 7n }, { type: 'null' }, { type: 'tuple', items: [{ type: 'cell', cell }] }] },
        ];
        const back = parseResponseStack(JSON.parse(JSON.stringify(encodeResponseStack(items))));
        expect(back).toHaveLength(items.length);
        expect(back[0]).toEqual({ type: 'int', value: -5n });
        expect(back[1]).toEqual({ type: 'int', value: 2n ** 255n });
        expect(back[2]).toEqual({ type: 'null' });
        expect((back[3] as { cell: typeof cell }).cell.equals(cell)).toBe(true);
        expect(back[4].type).toBe('slice');
        const tuple = back[5] as Extract<TupleItem, { type: 'tuple' }>;
        expect(tuple.items[0]).toEqual({ type: 'int', value: 7n });
        expect(tuple.items[1]).toEqual({ type: 'null' });
        expect((tuple.items[2] as Extract<TupleItem, { type: 'tuple' }>).items[0].type).toBe('cell');
    });

    it('reads what TonClient sends, decimal or hex', () => {
        const parsed = parseRequestStack([
            ['num', '123'],
            ['num', '0x7b'],
            ['num', '-0x7b'],
            ['tvm.Cell', cell.toBoc().toString('base64')],
            ['tvm.Slice', cell.toBoc().toString('base64')],
        ]);
        expect(parsed.slice(0, 3)).toEqual([
            { type: 'int', value: 123n },
            { type: 'int', value: 123n },
            { type: 'int', value: -123n },
        ]);
        expect(parsed[4].type).toBe('slice');
    });

    it('names what is wrong with a malformed stack', () => {
        expect(() => parseRequestStack('x')).toThrow(StackFormatError);
        expect(() => parseRequestStack([['num', '12a']])).toThrow(/stack\[0\]: "12a" is not an integer/);
        expect(() => parseRequestStack([['tvm.Cell', 'AAAA']])).toThrow(/not a valid BOC/);
        expect(() => parseResponseStack([['tuple', { elements: [{ '@type': 'tvm.stackEntryWeird' }] }]])).toThrow(/unsupported nested stack entry/);
    });
});

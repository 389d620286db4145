import { beginCell, Builder, Cell } from '@ton/core';

/**
 * Bytes carried inline in a cell (an on-chain job's request envelope in PostJob.input, its sealed
 * answer in CommitResult.output): "snake" format, 127 bytes per cell, the rest in the cell's
 * first reference. The Channel accepts at most 32 cells (MAX_PAYLOAD_CELLS), i.e. 4064 bytes.
 */
export const SNAKE_BYTES_PER_CELL = 127;
export const MAX_PAYLOAD_BYTES = 32 * SNAKE_BYTES_PER_CELL;

export function bytesToCell(bytes: Buffer): Cell {
    if (bytes.length > MAX_PAYLOAD_BYTES) throw new RangeError(`an inline payload holds at most ${MAX_PAYLOAD_BYTES} bytes, got ${bytes.length}`);
    let next: Cell | null = null;
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += SNAKE_BYTES_PER_CELL) chunks.push(bytes.subarray(offset, offset + SNAKE_BYTES_PER_CELL));
    if (chunks.length === 0) return beginCell().endCell();
    for (let i = chunks.length - 1; i >= 0; i--) {
        const builder: Builder = beginCell().storeBuffer(chunks[i]);
        if (next) builder.storeRef(next);
        next = builder.endCell();
    }
    return next!;
}

/** Reads snake bytes; throws on bits that are not whole bytes or on a branching cell. */
export function cellToBytes(cell: Cell): Buffer {
    const parts: Buffer[] = [];
    let current: Cell | null = cell;
    let cells = 0;
    while (current) {
        if (++cells > 1024) throw new RangeError('inline payload is too deep');
        const slice = current.beginParse();
        if (slice.remainingBits % 8 !== 0) throw new RangeError('inline payload cell holds a partial byte');
        parts.push(slice.loadBuffer(slice.remainingBits / 8));
        if (slice.remainingRefs > 1) throw new RangeError('inline payload cell has more than one reference');
        current = slice.remainingRefs === 1 ? slice.loadRef() : null;
    }
    return Buffer.concat(parts);
}

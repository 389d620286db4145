// TypeScript 5.9 made Uint8Array generic; the pinned @types/node 20.9.5 predates that, so every
// Buffer passed where a Uint8Array/BinaryLike is expected fails `tsc` (Buffer.slice returns a
// Buffer whose `.buffer` may be a SharedArrayBuffer). This overload restores assignability without
// changing what `buf.slice()` returns in code (still Buffer). Delete this file once @types/node is
// raised to a release with generic Buffer types (>= 20.17).
export {};
declare global {
    interface Buffer {
        slice(start?: number, end?: number): Uint8Array<ArrayBuffer>;
    }
}

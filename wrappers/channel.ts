// Helpers for reading a Channel's cold state through its getters: the terms the Worker answered
// at open, and the open on-chain jobs. Parsing uses only the generated load functions.
import { Cell, Dictionary, Slice } from '@ton/core';
import { ChannelTerms, Job, loadChannelTerms, loadJob } from '../build/Cocoon/Cocoon_Channel';

/** Parses the `terms` getter's cell (null before the first open). */
export function parseChannelTerms(cell: Cell | null): ChannelTerms | null {
    if (!cell) return null;
    const slice = cell.beginParse();
    const terms = loadChannelTerms(slice);
    slice.endParse();
    return terms;
}

/** Dictionary value of the `jobs` getter: a Job inline in the leaf. */
const jobValue = {
    serialize: () => {
        throw new Error('the jobs dictionary is read-only off-chain');
    },
    parse: (slice: Slice): Job => {
        const job = loadJob(slice);
        slice.endParse();
        return job;
    },
};

/** Parses the `jobs` getter's dictionary: open on-chain jobs by seq. */
export function parseChannelJobs(cell: Cell | null): Map<bigint, Job> {
    const result = new Map<bigint, Job>();
    if (!cell) return result;
    const dict = Dictionary.loadDirect(Dictionary.Keys.BigUint(64), jobValue, cell);
    for (const [seq, job] of dict) result.set(seq, job);
    return result;
}

// The deterministic half of `npm run bench` (bench/gas.ts), asserted: the Settle floor contract
// (bench/contracts/floor.tact) and the settlement batch table. Gas and fees in the sandbox do not
// depend on the machine, so these are exact checks, not timings.
import { toNano } from '@ton/core';
import { measureGas, GasReport } from '../bench/gas';

jest.setTimeout(120_000);

describe('bench: the Settle floor and jobs per settlement', () => {
    let report: GasReport;

    beforeAll(async () => {
        report = await measureGas({ batches: [1, 10, 100, 1000] });
    });

    it('every transaction of every measured trace succeeded', () => {
        const failed = report.operations.flatMap((op) => op.txs.filter((t) => !t.ok).map((t) => `${op.name}: ${t.on}`));
        expect(failed).toEqual([]);
        expect(report.operations.length).toBeGreaterThanOrEqual(18);
    });

    it('the floor checks a signature, writes a counter and pays, for less gas than Settle (and Settle stays within 1.5x of it)', () => {
        expect(report.floor.gas).toBeGreaterThan(1000); // a signature check alone costs more than that
        expect(report.floor.gas).toBeLessThan(report.settle.channelGas);
        expect(report.settle.channelGas).toBeLessThanOrEqual(6000);
        expect(report.settle.channelGas / report.floor.gas).toBeLessThanOrEqual(1.5);
        expect(report.settle.fees).toBeLessThanOrEqual(toNano('0.004'));
    });

    it('one Settle serves 1, 10, 100 or 1000 jobs for the same gas and fees; per job at 100 it costs 1 % of a settlement', () => {
        expect(report.batches.map((b) => b.jobs)).toEqual([1, 10, 100, 1000]);
        for (const b of report.batches) {
            expect(b.settleGas).toBe(report.batches[0].settleGas);
            expect(b.fees).toBe(report.batches[0].fees);
            expect(b.perJob).toBe(b.fees / BigInt(b.jobs));
        }
        const at100 = report.batches.find((b) => b.jobs === 100)!;
        expect(at100.perJob * 100n).toBeLessThanOrEqual(report.settle.fees);
    });
});

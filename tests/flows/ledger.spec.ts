// The stories' and the property's money checks must be able to fail: the Ledger refuses a trace
// that reaches an account outside the parties, catches money that moved outside a step, and its
// fee sum is exact on a plain transfer (no slack that could hide a lost nanoTON).
import { Blockchain } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { Ledger, networkFees } from '../helpers/ledger';

describe('Ledger (the conservation check of tests/flows)', () => {
    it('a transfer between two parties conserves money to the nanoTON; onlyMoved names the others', async () => {
        const blockchain = await Blockchain.create();
        const alice = await blockchain.treasury('alice');
        const bob = await blockchain.treasury('bob');
        const carol = await blockchain.treasury('carol');
        const ledger = new Ledger(blockchain, { alice: alice.address, bob: bob.address, carol: carol.address });
        const step = await ledger.step('alice pays bob', () => alice.send({ to: bob.address, value: toNano('1') }));
        expect(step.received('bob', 'alice')).toBe(toNano('1'));
        expect(step.delta.bob).toBe(toNano('1') - step.feesOn('bob'));
        expect(step.delta.alice + step.delta.bob).toBe(-networkFees(step.txs));
        expect(step.fees).toBeGreaterThan(0n);
        step.onlyMoved('alice', 'bob');
        expect(() => step.onlyMoved('alice')).toThrow(/bob's balance moved/);
        await ledger.expectConservedSinceStart();
    });

    it('refuses a trace that reaches an account outside the parties', async () => {
        const blockchain = await Blockchain.create();
        const alice = await blockchain.treasury('alice');
        const outsider = await blockchain.treasury('outsider');
        const ledger = new Ledger(blockchain, { alice: alice.address });
        await expect(ledger.step('to an outsider', () => alice.send({ to: outsider.address, value: toNano('1') }))).rejects.toThrow(
            /outside the parties/,
        );
    });

    it('catches money that moved outside a step (created or lost between steps)', async () => {
        const blockchain = await Blockchain.create();
        const alice = await blockchain.treasury('alice');
        const bob = await blockchain.treasury('bob');
        const ledger = new Ledger(blockchain, { alice: alice.address, bob: bob.address });
        await ledger.step('alice pays bob', () => alice.send({ to: bob.address, value: toNano('1') }));
        await ledger.expectConservedSinceStart();
        await alice.send({ to: bob.address, value: toNano('1') }); // not accounted: its fees are missing
        await expect(ledger.expectConservedSinceStart()).rejects.toThrow(/not conserved/);
    });
});

// Assertions that every refusal and every payment test shares: a refusal names its exit code
// and moves no money except the bounce; a payment moves exactly what it should.
import { Blockchain, SendMessageResult } from '@ton/sandbox';
import { Address, beginCell, Transaction } from '@ton/core';
import { flattenTransaction } from '@ton/test-utils';

function destOf(tx: Transaction): Address | null {
    const dest = tx.inMessage?.info.dest;
    return dest instanceof Address ? dest : null;
}

/** Transactions of the trace that ran on `address`. */
export function txsOn(result: SendMessageResult, address: Address): Transaction[] {
    return result.transactions.filter((t) => destOf(t)?.equals(address) ?? false);
}

/**
 * `target` refused the message with `exitCode`; its only outgoing message is the bounce to the
 * sender (or nothing), and no other contract received anything but that bounce.
 */
export function expectRefused(result: SendMessageResult, target: Address, exitCode: number): void {
    const txs = txsOn(result, target);
    expect(txs.length).toBeGreaterThan(0);
    const refused = txs.find((t) => flattenTransaction(t).exitCode === exitCode && flattenTransaction(t).aborted);
    if (!refused) {
        const seen = txs.map((t) => flattenTransaction(t).exitCode).join(', ');
        throw new Error(`expected ${target.toString()} to refuse with exit code ${exitCode}; saw exit codes [${seen}]`);
    }
    for (const message of refused.outMessages.values()) {
        expect(message.info.type).toBe('internal');
        if (message.info.type === 'internal') expect(message.info.bounced).toBe(true);
    }
    // After the refusal nothing but the bounce travels: every later transaction is a bounce
    // being delivered, which changes no books (wallets ignore bounces).
    const index = result.transactions.findIndex((t) => t.lt === refused.lt && t.hash().equals(refused.hash()));
    for (const later of result.transactions.slice(index + 1)) {
        const info = later.inMessage?.info;
        if (info?.type === 'internal' && !info.bounced) {
            throw new Error(`unexpected message after the refusal: to ${destOf(later)?.toString()}`);
        }
    }
}

/** Money that arrived at `to` in this trace (sum of internal message values, bounces excluded). */
export function receivedBy(result: SendMessageResult, to: Address, from?: Address): bigint {
    let sum = 0n;
    for (const tx of result.transactions) {
        const info = tx.inMessage?.info;
        if (info?.type !== 'internal' || info.bounced) continue;
        if (!info.dest.equals(to)) continue;
        if (from && !info.src.equals(from)) continue;
        sum += info.value.coins;
    }
    return sum;
}

/** No internal message in the trace went to `to` (other than bounces). */
export function expectNothingSentTo(result: SendMessageResult, to: Address): void {
    expect(receivedBy(result, to)).toBe(0n);
}

export async function balanceOf(blockchain: Blockchain, address: Address): Promise<bigint> {
    return (await blockchain.getContract(address)).balance;
}

import { Address, Transaction } from '@ton/core';
import { readBodyHead } from './decoders';
import { normalizedExternalHash } from './messages';
import { sleep } from './retry';
import { Chain, TxId, txIdOf } from './types';

/** Finding the transaction a message caused: by external-message hash, or by the in-message's sender, op and query id. */
export type TransactionMatcher = (tx: Transaction) => boolean;

export function byNormalizedHash(...hashes: Buffer[]): TransactionMatcher {
    return (tx) => tx.inMessage?.info.type === 'external-in' && hashes.some((h) => h.equals(normalizedExternalHash(tx.inMessage!)));
}

export function byInternalMessage(filter: { from?: Address; op?: number; queryId?: bigint }): TransactionMatcher {
    return (tx) => {
        const msg = tx.inMessage;
        if (!msg || msg.info.type !== 'internal') return false;
        if (filter.from && !msg.info.src.equals(filter.from)) return false;
        const head = readBodyHead(msg.body);
        if (filter.op !== undefined && head.op !== filter.op) return false;
        return filter.queryId === undefined || head.queryId === filter.queryId;
    };
}

export class TransactionWaitTimeoutError extends Error {
    constructor(address: Address, waitedMs: number) {
        super(`no matching transaction on ${address.toString()} within ${Math.round(waitedMs / 1000)} s`);
        this.name = 'TransactionWaitTimeoutError';
    }
}

/** The newest transaction of `address` above `sinceLt` that matches, or undefined. */
export async function findTransaction(
    chain: Chain,
    address: Address,
    match: TransactionMatcher,
    options: { sinceLt?: bigint; pageSize?: number } = {},
): Promise<Transaction | undefined> {
    const sinceLt = options.sinceLt ?? 0n;
    const limit = options.pageSize ?? 20;
    let from: TxId | undefined;
    for (;;) {
        const page = await chain.getTransactions(address, { limit, from });
        let oldest: Transaction | undefined;
        for (const tx of page) {
            if (!oldest || tx.lt < oldest.lt) oldest = tx;
            if (tx.lt > sinceLt && match(tx)) return tx;
        }
        if (!oldest || oldest.lt <= sinceLt || page.length < limit) return undefined;
        const next = txIdOf(oldest);
        if (from && next.lt === from.lt) return undefined;
        from = next;
    }
}

/** Polls until a matching transaction appears (chain errors propagate: wrap the chain or retry the call). */
export async function waitForTransaction(
    chain: Chain,
    address: Address,
    match: TransactionMatcher,
    options: { sinceLt?: bigint; timeoutMs?: number; pollIntervalMs?: number; signal?: AbortSignal } = {},
): Promise<Transaction> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 60_000;
    for (;;) {
        const found = await findTransaction(chain, address, match, { sinceLt: options.sinceLt });
        if (found) return found;
        if (Date.now() - started >= timeoutMs) throw new TransactionWaitTimeoutError(address, Date.now() - started);
        await sleep(options.pollIntervalMs ?? 1000, options.signal);
    }
}

import { Address, Cell, Transaction, TupleItem, TupleReader } from '@ton/core';

/** A transaction's identity on its account: logical time and hash. */
export interface TxId {
    lt: bigint;
    hash: Buffer;
}

export type AccountStatus = 'active' | 'uninit' | 'frozen' | 'nonexist';

export interface AccountState {
    address: Address;
    status: AccountStatus;
    balance: bigint;
    code: Cell | null;
    data: Cell | null;
    lastTransaction: TxId | null;
}

export interface GetMethodResult {
    exitCode: number;
    gasUsed: number;
    stack: TupleReader;
}

export interface TransactionPageRequest {
    /** Page size, 1..100. */
    limit: number;
    /**
     * Start the page AT this transaction (inclusive, the toncenter v2 convention: the cursor item
     * comes back as the first item of the next page). Omitted: start at the newest transaction.
     */
    from?: TxId;
}

/**
 * One chain interface for the agents, with two implementations: `SandboxChain` (in-process
 * @ton/sandbox) and `ToncenterChain` (toncenter v2 HTTP API via @ton/ton: testnet, mainnet or the
 * local devnet). Implementations do not retry; callers decide (see `withRetry`).
 */
export interface Chain {
    readonly kind: 'sandbox' | 'toncenter';
    getAccount(address: Address): Promise<AccountState>;
    /** Runs a get-method on an active account; `AccountNotActiveError` otherwise. */
    runGetMethod(address: Address, method: string, args?: TupleItem[]): Promise<GetMethodResult>;
    /**
     * Broadcasts a serialized external-in message (BOC bytes, resent byte for byte on retries).
     * Returns its normalized hash (TEP-467), which finds its transaction later.
     */
    sendExternal(boc: Buffer): Promise<{ normalizedHash: Buffer }>;
    /** An account's transactions, newest first, paged by (lt, hash). */
    getTransactions(address: Address, page: TransactionPageRequest): Promise<Transaction[]>;
    /** The chain's current time (unix seconds), for deadlines: never the local clock. */
    now(): Promise<number>;
}

export function txIdOf(tx: Transaction): TxId {
    return { lt: tx.lt, hash: tx.hash() };
}

export function sameTx(a: TxId, b: TxId): boolean {
    return a.lt === b.lt && a.hash.equals(b.hash);
}

export function formatTxId(id: TxId): string {
    return `${id.lt}:${id.hash.toString('hex')}`;
}

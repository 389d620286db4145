import { Address, Transaction, TupleItem, TupleReader } from '@ton/core';
import { Blockchain, BlockchainTransaction, EmulationError, GetMethodError } from '@ton/sandbox';
import { AccountNotActiveError, ChainRequestError, ExternalMessageRejectedError, TransactionNotFoundError } from './errors';
import { normalizedExternalHash, parseExternalBoc } from './messages';
import { AccountState, Chain, GetMethodResult, TransactionPageRequest, TxId } from './types';

export const MAX_PAGE_LIMIT = 100;

/** Transactions per account in lt order, answering toncenter-style (lt, hash) pages. */
export class TransactionIndex {
    private readonly byAccount = new Map<string, Transaction[]>();
    private readonly seen = new Set<string>();
    private total = 0;

    get size(): number {
        return this.total;
    }

    /** Adds a transaction of `account`; a transaction already indexed is ignored. */
    add(account: Address, tx: Transaction): boolean {
        const id = `${account.toRawString()}:${tx.lt}:${tx.hash().toString('hex')}`;
        if (this.seen.has(id)) return false;
        this.seen.add(id);
        const key = account.toRawString();
        let list = this.byAccount.get(key);
        if (!list) this.byAccount.set(key, (list = []));
        // Sandbox lt only grows, so this is an append except when history is loaded out of order.
        let i = list.length;
        while (i > 0 && list[i - 1].lt > tx.lt) i--;
        list.splice(i, 0, tx);
        this.total++;
        return true;
    }

    page(address: Address, request: TransactionPageRequest): Transaction[] {
        const limit = validatePageLimit(request.limit);
        const list = this.byAccount.get(address.toRawString()) ?? [];
        let start = list.length - 1;
        if (request.from) {
            const from = request.from;
            start = list.findIndex((tx) => tx.lt === from.lt && tx.hash().equals(from.hash));
            if (start < 0) {
                throw new TransactionNotFoundError(
                    `no transaction ${from.lt}:${from.hash.toString('hex')} on ${address.toString()}; the cursor is not from this chain`,
                );
            }
        }
        const out: Transaction[] = [];
        for (let i = start; i >= 0 && out.length < limit; i--) out.push(list[i]);
        return out;
    }

    last(address: Address): TxId | null {
        const list = this.byAccount.get(address.toRawString());
        if (!list || list.length === 0) return null;
        const tx = list[list.length - 1];
        return { lt: tx.lt, hash: tx.hash() };
    }
}

export function validatePageLimit(limit: number): number {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
        throw new ChainRequestError(`transaction page limit must be an integer 1..${MAX_PAGE_LIMIT}, got ${limit}`, 400);
    }
    return limit;
}

/** The account a sandbox transaction ran on: its in-message destination (tick-tock: masterchain). */
export function accountOf(tx: Transaction): Address {
    const info = tx.inMessage?.info;
    if (info && info.type !== 'external-out') return info.dest;
    return new Address(-1, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex'));
}

function byLt(a: { tx: Transaction }, b: { tx: Transaction }): number {
    return a.tx.lt < b.tx.lt ? -1 : a.tx.lt > b.tx.lt ? 1 : 0;
}

export interface SandboxChainOptions {
    /**
     * 'sandbox' (default): time is whatever the test sets on `blockchain.now`.
     * 'wall': before every call the chain time becomes the wall clock (never going backwards).
     */
    clock?: 'sandbox' | 'wall';
    /**
     * Move transactions out of the sandbox's own list once indexed (the devnet does this so
     * memory and snapshots do not grow with history).
     */
    drainSandboxTransactions?: boolean;
}

/**
 * The chain interface over an in-process @ton/sandbox `Blockchain` (tests, the one-command demo,
 * and the engine of the devnet). Sending an external message runs its whole cascade at once.
 *
 * It keeps its own transaction index: the sandbox's `getTransactions` reverses the sandbox's list
 * in place and compares hashes by reference, so it cannot serve paging.
 */
export class SandboxChain implements Chain {
    readonly kind = 'sandbox' as const;
    readonly index = new TransactionIndex();
    private readonly indexed = new WeakSet<object>();
    private unclaimed: { account: Address; tx: BlockchainTransaction }[] = [];
    private lastWallTime = 0;

    constructor(
        readonly blockchain: Blockchain,
        private readonly options: SandboxChainOptions = {},
    ) {}

    static async create(options: SandboxChainOptions = {}): Promise<SandboxChain> {
        return new SandboxChain(await Blockchain.create(), options);
    }

    /** Chain time to use from now on when the clock is the wall clock; the devnet restores it after a restart. */
    set minimumTime(t: number) {
        this.lastWallTime = Math.max(this.lastWallTime, t);
    }

    /** Advances chain time to the wall clock (wall-clock mode only) and returns it. */
    tick(): number {
        if (this.options.clock !== 'wall') return this.blockchain.now ?? Math.floor(Date.now() / 1000);
        this.lastWallTime = Math.max(this.lastWallTime, Math.floor(Date.now() / 1000));
        this.blockchain.now = this.lastWallTime;
        return this.lastWallTime;
    }

    /** Indexes transactions the sandbox produced since the last call; returns them in execution order. */
    syncIndex(): { account: Address; tx: BlockchainTransaction }[] {
        const list = (this.blockchain as unknown as { transactions: BlockchainTransaction[] }).transactions;
        const fresh: { account: Address; tx: BlockchainTransaction }[] = [];
        for (const tx of list) {
            if (this.indexed.has(tx)) continue;
            this.indexed.add(tx);
            const account = accountOf(tx);
            if (this.index.add(account, tx)) fresh.push({ account, tx });
        }
        if (this.options.drainSandboxTransactions) {
            list.length = 0;
            this.unclaimed.push(...fresh);
        }
        return fresh.sort(byLt);
    }

    /**
     * Drain mode only: every transaction indexed since the last call, in execution order, however
     * it was indexed (the devnet persists exactly these as one block).
     */
    takeNewTransactions(): { account: Address; tx: BlockchainTransaction }[] {
        this.syncIndex();
        const taken = this.unclaimed.sort(byLt);
        this.unclaimed = [];
        return taken;
    }

    async getAccount(address: Address): Promise<AccountState> {
        this.tick();
        const contract = await this.blockchain.getContract(address);
        const state = contract.accountState;
        const lastLt = contract.lastTransactionLt;
        // The sandbox shows a never-touched address as an empty uninit account; toncenter calls it nonexistent.
        const untouched = state === undefined || (state.type === 'uninit' && contract.balance === 0n && lastLt === 0n);
        return {
            address,
            status: untouched ? 'nonexist' : state.type,
            balance: contract.balance,
            code: state?.type === 'active' ? (state.state.code ?? null) : null,
            data: state?.type === 'active' ? (state.state.data ?? null) : null,
            lastTransaction:
                lastLt > 0n ? { lt: lastLt, hash: Buffer.from(contract.lastTransactionHash.toString(16).padStart(64, '0'), 'hex') } : null,
        };
    }

    async runGetMethod(address: Address, method: string, args: TupleItem[] = []): Promise<GetMethodResult> {
        this.tick();
        const contract = await this.blockchain.getContract(address);
        if (contract.accountState?.type !== 'active') throw new AccountNotActiveError(address.toString(), method);
        try {
            const result = await this.blockchain.runGetMethod(address, method, args);
            return { exitCode: result.exitCode, gasUsed: Number(result.gasUsed), stack: new TupleReader(result.stack) };
        } catch (error) {
            if (error instanceof GetMethodError) return { exitCode: error.exitCode, gasUsed: Number(error.gasUsed), stack: new TupleReader([]) };
            throw error;
        }
    }

    async sendExternal(boc: Buffer): Promise<{ normalizedHash: Buffer }> {
        let message;
        try {
            message = parseExternalBoc(boc);
        } catch (error) {
            throw new ChainRequestError((error as Error).message, 400);
        }
        this.tick();
        try {
            await this.blockchain.sendMessage(message);
        } catch (error) {
            if (error instanceof EmulationError) {
                throw new ExternalMessageRejectedError(
                    `external message was not accepted by ${message.info.dest!.toString()}: ${error.error}` +
                        (error.exitCode !== undefined ? ` (exit code ${error.exitCode})` : ''),
                    error.exitCode,
                );
            }
            throw error;
        } finally {
            this.syncIndex();
        }
        return { normalizedHash: normalizedExternalHash(message) };
    }

    async getTransactions(address: Address, page: TransactionPageRequest): Promise<Transaction[]> {
        this.syncIndex();
        return this.index.page(address, page);
    }

    async now(): Promise<number> {
        return this.tick();
    }
}

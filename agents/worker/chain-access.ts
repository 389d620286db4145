import { createHash } from 'node:crypto';
import { Address, Cell, Contract, ContractProvider, ContractState, internal, OpenedContract, openContract, Transaction, TupleItem } from '@ton/core';
import { withRetry, RetryPolicy } from '../chain/retry';
import { IdempotentSender, SendOutcome } from '../chain/sender';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';

/**
 * The generated contract bindings (wrappers/) read get-methods through a `ContractProvider`;
 * this one runs them over the agents' `Chain` (sandbox or toncenter), with retries on
 * transient errors. Sends do not go through it: every message the agent sends leaves through the
 * idempotent sender, with a query id.
 */
export class GetMethodError extends Error {
    constructor(
        readonly address: Address,
        readonly method: string,
        readonly exitCode: number,
    ) {
        super(`get-method ${method} of ${address.toString()} failed with exit code ${exitCode}`);
        this.name = 'GetMethodError';
    }
}

const READ_RETRY: RetryPolicy = { baseDelayMs: 200, maxDelayMs: 5_000, maxAttempts: 6 };

export function chainProvider(chain: Chain, address: Address, retry: RetryPolicy = READ_RETRY): ContractProvider {
    const unsupported = (what: string) => async () => {
        throw new Error(`${what} is not available through the read-only chain provider; the agent sends through its idempotent sender`);
    };
    return {
        async getState(): Promise<ContractState> {
            const account = await withRetry(() => chain.getAccount(address), { policy: retry });
            const state: ContractState['state'] =
                account.status === 'active'
                    ? { type: 'active', code: account.code?.toBoc() ?? null, data: account.data?.toBoc() ?? null }
                    : account.status === 'frozen'
                      ? { type: 'frozen', stateHash: Buffer.alloc(32) }
                      : { type: 'uninit' };
            return { balance: account.balance, extracurrency: null, last: account.lastTransaction, state };
        },
        async get(name: string | number, args: TupleItem[]) {
            if (typeof name !== 'string') throw new Error('get-methods are called by name');
            const result = await withRetry(() => chain.runGetMethod(address, name, args), { policy: retry });
            if (result.exitCode !== 0 && result.exitCode !== 1) throw new GetMethodError(address, name, result.exitCode);
            return { stack: result.stack, gasUsed: BigInt(result.gasUsed) };
        },
        external: unsupported('external'),
        internal: unsupported('internal'),
        open<T extends Contract>(contract: T): OpenedContract<T> {
            return openOnChain(chain, contract);
        },
        async getTransactions(target: Address, lt: bigint, hash: Buffer, limit?: number): Promise<Transaction[]> {
            return chain.getTransactions(target, { limit: limit ?? 20, from: { lt, hash } });
        },
    };
}

/** Like `blockchain.openContract`: the binding's getters run over `chain`. */
export function openOnChain<T extends Contract>(chain: Chain, contract: T): OpenedContract<T> {
    return openContract(contract, ({ address }) => chainProvider(chain, address));
}

export async function isDeployed(chain: Chain, address: Address): Promise<boolean> {
    const account = await withRetry(() => chain.getAccount(address), { policy: READ_RETRY });
    return account.status === 'active';
}

/**
 * A query id that is a pure function of what it is for (e.g. "commit", channel, seq), so that
 * after a crash the same action is resent under the same id and the sender finds the first send
 * instead of making a second one. 63 bits, so it is a positive uint64 anywhere.
 */
export function deterministicQueryId(...parts: (string | bigint | number)[]): bigint {
    const digest = createHash('sha256').update(parts.map(String).join('\u0000')).digest();
    return digest.readBigUInt64BE(0) & ((1n << 63n) - 1n);
}

/** Sends one internal message from the agent's wallet through the idempotent sender. */
export async function sendFromWallet(
    sender: IdempotentSender,
    request: { queryId: bigint; to: Address; value: bigint; body: Cell; bounce?: boolean },
): Promise<SendOutcome> {
    return sender.send({
        queryId: request.queryId,
        messages: [internal({ to: request.to, value: request.value, bounce: request.bounce ?? true, body: request.body })],
    });
}

export interface ChainContext {
    chain: Chain;
    wallet: Wallet;
    sender: IdempotentSender;
}

import { Address, Cell, Contract, ContractProvider, ContractState, OpenedContract, openContract, TupleItem } from '@ton/core';
import { Chain } from '../chain/types';
import { withRetry } from '../chain/retry';
import { CocoonClientError } from './errors';

/** A get-method ended with a non-zero exit code (the contract threw): the read is not trustworthy. */
export class GetterFailedError extends CocoonClientError {
    constructor(
        readonly address: Address,
        readonly method: string,
        readonly exitCode: number,
    ) {
        super('getter_failed', `get-method ${method} of ${address.toString()} failed with exit code ${exitCode}`);
    }
}

/**
 * A read-only `ContractProvider` over the agents' `Chain`, so the generated wrappers' getters
 * (`Worker.getInfo`, `Root.getParams`, ...) run against the sandbox, the devnet or toncenter alike.
 * Chain calls are retried on 429/5xx/timeouts. Sending is not a provider's business here: the
 * client sends through its wallet (`IdempotentSender`), so `internal`/`external` refuse.
 */
export function chainProvider(chain: Chain, address: Address): ContractProvider {
    const provider: ContractProvider = {
        async getState(): Promise<ContractState> {
            const account = await withRetry(() => chain.getAccount(address));
            const state: ContractState['state'] =
                account.status === 'active'
                    ? { type: 'active', code: account.code?.toBoc() ?? null, data: account.data?.toBoc() ?? null }
                    : account.status === 'frozen'
                      ? { type: 'frozen', stateHash: Buffer.alloc(32) }
                      : { type: 'uninit' };
            return { balance: account.balance, extracurrency: null, last: account.lastTransaction, state };
        },
        async get(name: string | number, args: TupleItem[]) {
            if (typeof name !== 'string') throw new TypeError('get-methods are called by name');
            const result = await withRetry(() => chain.runGetMethod(address, name, args));
            if (result.exitCode !== 0 && result.exitCode !== 1) throw new GetterFailedError(address, name, result.exitCode);
            return { stack: result.stack, gasUsed: BigInt(result.gasUsed) };
        },
        async external(_message: Cell) {
            throw new TypeError('chainProvider is read-only: send through the wallet');
        },
        async internal() {
            throw new TypeError('chainProvider is read-only: send through the wallet');
        },
        open<T extends Contract>(contract: T): OpenedContract<T> {
            return openContract(contract, (params) => chainProvider(chain, params.address));
        },
        async getTransactions() {
            throw new TypeError('chainProvider does not page transactions: use Chain.getTransactions');
        },
    };
    return provider;
}

/** Opens a wrapper (`Worker.fromAddress(a)`) for reading its getters through `chain`. */
export function openReadOnly<T extends Contract>(chain: Chain, contract: T): OpenedContract<T> {
    return openContract(contract, (params) => chainProvider(chain, params.address));
}

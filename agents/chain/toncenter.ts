import { Address, Cell, Transaction, TupleItem, TupleReader } from '@ton/core';
import { TonClient } from '@ton/ton';
import {
    AccountNotActiveError,
    ChainError,
    ChainRequestError,
    ChainUnavailableError,
    ExternalMessageRejectedError,
    TransactionNotFoundError,
} from './errors';
import { normalizedExternalHash, parseExternalBoc } from './messages';
import { parseResponseStack, StackFormatError } from './toncenter-stack';
import { validatePageLimit } from './sandbox';
import { AccountState, Chain, GetMethodResult, TransactionPageRequest } from './types';

interface RawGetMethodApi {
    callGetMethod(address: Address, method: string, stack: TupleItem[]): Promise<{ gas_used: number; exit_code: number; stack: unknown[] }>;
}

export interface ToncenterChainOptions {
    /** JSON-RPC endpoint, e.g. https://testnet.toncenter.com/api/v2/jsonRPC or http://127.0.0.1:8081/jsonRPC. */
    endpoint: string;
    /** toncenter API key (sent as X-API-Key); never logged. */
    apiKey?: string;
    /** Per-request timeout (default 10 s). */
    timeoutMs?: number;
    /** Minimum spacing between requests, for keyless toncenter (1 request/s). Default 0. */
    minIntervalMs?: number;
}

/**
 * The chain interface over the toncenter v2 HTTP API through @ton/ton's `TonClient`: testnet,
 * mainnet, or the local devnet. Errors are classified (retryable or not) but not retried here.
 */
export class ToncenterChain implements Chain {
    readonly kind = 'toncenter' as const;
    readonly client: TonClient;
    private readonly minIntervalMs: number;
    private nextSlot = 0;

    constructor(readonly options: ToncenterChainOptions) {
        let url: URL;
        try {
            url = new URL(options.endpoint);
        } catch {
            throw new ChainRequestError(`toncenter endpoint "${options.endpoint}" is not a URL (expected e.g. https://toncenter.com/api/v2/jsonRPC)`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
            throw new ChainRequestError(`toncenter endpoint must be http(s), got ${url.protocol}`);
        }
        this.client = new TonClient({ endpoint: options.endpoint, apiKey: options.apiKey, timeout: options.timeoutMs ?? 10_000 });
        this.minIntervalMs = options.minIntervalMs ?? 0;
    }

    async getAccount(address: Address): Promise<AccountState> {
        const state = await this.call(() => this.client.getContractState(address));
        // Code and data are parsed when first read: parsing hashes every cell (a contract's code is
        // hundreds), and most callers only want the status, the balance or the last transaction.
        const code = lazyCell(state.code);
        const data = lazyCell(state.data);
        return {
            address,
            status: state.state === 'uninitialized' ? (state.balance === 0n && !state.lastTransaction ? 'nonexist' : 'uninit') : state.state,
            balance: state.balance,
            get code() {
                return code();
            },
            get data() {
                return data();
            },
            lastTransaction: state.lastTransaction
                ? { lt: BigInt(state.lastTransaction.lt), hash: Buffer.from(state.lastTransaction.hash, 'base64') }
                : null,
        };
    }

    async runGetMethod(address: Address, method: string, args: TupleItem[] = []): Promise<GetMethodResult> {
        // TonClient's own stack parser mangles nested tuples (Tact structs), so parse the raw answer.
        const api = (this.client as unknown as { api: RawGetMethodApi }).api;
        let raw;
        try {
            raw = await this.call(() => api.callGetMethod(address, method, args));
        } catch (error) {
            if (error instanceof ChainRequestError && /not active|inactive account|uninit/i.test(error.message)) {
                throw new AccountNotActiveError(address.toString(), method);
            }
            throw error;
        }
        try {
            return { exitCode: raw.exit_code, gasUsed: raw.gas_used, stack: new TupleReader(parseResponseStack(raw.stack)) };
        } catch (error) {
            if (error instanceof StackFormatError) throw new ChainRequestError(`get-method ${method} answered an unreadable stack: ${error.message}`);
            throw error;
        }
    }

    async sendExternal(boc: Buffer): Promise<{ normalizedHash: Buffer }> {
        let message;
        try {
            message = parseExternalBoc(boc);
        } catch (error) {
            throw new ChainRequestError((error as Error).message);
        }
        try {
            await this.call(() => this.client.sendFile(boc));
        } catch (error) {
            // Liteservers answer "cannot apply external message" when the contract does not accept it.
            if (error instanceof ChainError && /not accepted|cannot apply external message/i.test(error.message)) {
                const exit = /exit code (-?\d+)/i.exec(error.message);
                throw new ExternalMessageRejectedError(error.message, exit ? Number(exit[1]) : undefined);
            }
            throw error;
        }
        return { normalizedHash: normalizedExternalHash(message) };
    }

    async getTransactions(address: Address, page: TransactionPageRequest): Promise<Transaction[]> {
        const limit = validatePageLimit(page.limit);
        try {
            return await this.call(() =>
                this.client.getTransactions(address, {
                    limit,
                    ...(page.from ? { lt: page.from.lt.toString(), hash: page.from.hash.toString('base64'), inclusive: true } : {}),
                    archival: true,
                }),
            );
        } catch (error) {
            // The devnet answers 404; liteserver-backed toncenter says "cannot locate transaction".
            const status = (error as { status?: number }).status;
            if (error instanceof ChainError && (status === 404 || /cannot locate transaction|transaction not found|no transaction/i.test(error.message))) {
                throw new TransactionNotFoundError(error.message);
            }
            throw error;
        }
    }

    async now(): Promise<number> {
        // The masterchain state's sync time comes with any account query; use the zero address.
        const state = await this.call(() => this.client.getContractState(new Address(-1, Buffer.alloc(32))));
        return state.timestampt;
    }

    private async call<T>(operation: () => Promise<T>): Promise<T> {
        if (this.minIntervalMs > 0) {
            const now = Date.now();
            const wait = this.nextSlot - now;
            this.nextSlot = Math.max(now, this.nextSlot) + this.minIntervalMs;
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        try {
            return await operation();
        } catch (error) {
            throw classifyHttpError(error, this.options.endpoint);
        }
    }
}

/** Maps axios/TonClient failures to retryable and non-retryable chain errors. */
export function classifyHttpError(error: unknown, endpoint: string): Error {
    if (error instanceof ChainError) return error;
    const e = error as {
        message?: string;
        code?: string;
        response?: { status?: number; data?: unknown };
    };
    const status = e.response?.status;
    const body = e.response?.data as { error?: unknown } | string | undefined;
    const detail = typeof body === 'object' && body && 'error' in body ? String(body.error) : typeof body === 'string' ? body.slice(0, 300) : e.message;
    const where = redactEndpoint(endpoint);
    if (status === 429) return new ChainUnavailableError(`${where} rate-limits us (429): ${detail}`, 429, { cause: error });
    if (status !== undefined && status >= 500) return new ChainUnavailableError(`${where} failed (${status}): ${detail}`, status, { cause: error });
    if (status !== undefined) return new ChainRequestError(`${where} refused the request (${status}): ${detail}`, status, { cause: error });
    const code = e.code ?? '';
    if (/ECONNABORTED|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EPIPE|EAI_AGAIN|ENOTFOUND|ERR_NETWORK|ERR_BAD_RESPONSE|ERR_CANCELED/.test(code) || /timeout|socket hang up|network/i.test(e.message ?? '')) {
        return new ChainUnavailableError(`${where} is unreachable or timed out (${code || e.message})`, undefined, { cause: error });
    }
    if (/Malformed response|Received error/.test(e.message ?? '')) {
        return new ChainUnavailableError(`${where} answered something that is not a toncenter v2 response: ${e.message}`, undefined, { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
}

function redactEndpoint(endpoint: string): string {
    try {
        const url = new URL(endpoint);
        url.search = '';
        url.username = '';
        url.password = '';
        return url.toString();
    } catch {
        return 'the endpoint';
    }
}

function lazyCell(boc: Buffer | null): () => Cell | null {
    let cell: Cell | null | undefined;
    return () => (cell === undefined ? (cell = boc ? Cell.fromBoc(boc)[0] : null) : cell);
}

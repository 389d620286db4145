import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Address, Cell, toNano } from '@ton/core';
import { AccountNotActiveError, ChainError, ExternalMessageRejectedError, TransactionNotFoundError } from '../errors';
import { MAX_PAGE_LIMIT } from '../sandbox';
import { encodeResponseStack, parseRequestStack, StackFormatError } from '../toncenter-stack';
import { Devnet, DevnetStateError } from './devnet';
import { addressInformationJson, accountStatusJson, devnetBlockId, transactionJson } from './toncenter-json';

/**
 * The devnet's HTTP face: the toncenter v2 API (what @ton/ton's TonClient calls) on 127.0.0.1,
 * as JSON-RPC (`POST /jsonRPC`, `POST /api/v2/jsonRPC`) and REST (`GET|POST /api/v2/<method>`,
 * `/<method>`), plus a faucet. Every answer is `{ok: true, result}` or
 * `{ok: false, error, code}` with the HTTP status `code`.
 */
export class DevnetHttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
    ) {
        super(message);
        this.name = 'DevnetHttpError';
    }
}

type Params = Record<string, unknown>;
type Handler = (devnet: Devnet, params: Params) => Promise<unknown>;

function requireString(params: Params, name: string): string {
    const value = params[name];
    if (value === undefined || value === null || value === '') throw new DevnetHttpError(400, `missing parameter "${name}"`);
    if (typeof value !== 'string') throw new DevnetHttpError(400, `parameter "${name}" must be a string`);
    return value;
}

function requireAddress(params: Params, name = 'address'): Address {
    const text = requireString(params, name);
    try {
        return Address.parse(text);
    } catch {
        throw new DevnetHttpError(400, `parameter "${name}": "${text}" is not a TON address (raw 0:<hex> or user-friendly base64)`);
    }
}

function optionalInteger(params: Params, name: string): bigint | undefined {
    const value = params[name];
    if (value === undefined || value === null || value === '') return undefined;
    if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))) return BigInt(value);
    throw new DevnetHttpError(400, `parameter "${name}" must be an integer, got ${JSON.stringify(value)}`);
}

function requireBoc(params: Params, name: string): Buffer {
    const text = requireString(params, name);
    const bytes = Buffer.from(text, 'base64');
    try {
        Cell.fromBoc(bytes);
    } catch (error) {
        throw new DevnetHttpError(400, `parameter "${name}" is not a base64 BOC: ${(error as Error).message}`);
    }
    return bytes;
}

function optionalCell(params: Params, name: string): Cell | null {
    const value = params[name];
    if (value === undefined || value === null || value === '') return null;
    return Cell.fromBoc(requireBoc(params, name))[0];
}

function parseHash(text: string): Buffer {
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== 32) throw new DevnetHttpError(400, `parameter "hash" must be 32 bytes in hex or base64`);
    return bytes;
}

function block(devnet: Devnet) {
    return devnetBlockId(devnet.seqno);
}

const handlers: Record<string, Handler> = {
    async getAddressInformation(devnet, params) {
        const address = requireAddress(params);
        return devnet.exclusive(async () => addressInformationJson(await devnet.chain.getAccount(address), block(devnet), devnet.chain.tick()));
    },
    async getAddressState(devnet, params) {
        const address = requireAddress(params);
        return devnet.exclusive(async () => accountStatusJson(await devnet.chain.getAccount(address)));
    },
    async getAddressBalance(devnet, params) {
        const address = requireAddress(params);
        return devnet.exclusive(async () => (await devnet.chain.getAccount(address)).balance.toString());
    },
    async runGetMethod(devnet, params) {
        const address = requireAddress(params);
        const method = params.method;
        if (typeof method !== 'string' && !(typeof method === 'number' && Number.isInteger(method))) {
            throw new DevnetHttpError(400, 'parameter "method" must be a get-method name or numeric id');
        }
        let stack;
        try {
            stack = parseRequestStack(typeof params.stack === 'string' ? JSON.parse(params.stack) : params.stack);
        } catch (error) {
            throw new DevnetHttpError(400, `parameter "stack": ${(error as Error).message}`);
        }
        return devnet.exclusive(async () => {
            const account = await devnet.chain.getAccount(address);
            if (account.status !== 'active') throw new AccountNotActiveError(address.toString(), String(method));
            const result = await devnet.chain.blockchain.runGetMethod(address, method, stack).then(
                (r) => ({ exitCode: r.exitCode, gasUsed: Number(r.gasUsed), stack: r.stack }),
                (error: { exitCode?: number; gasUsed?: bigint }) => {
                    if (typeof error?.exitCode === 'number') return { exitCode: error.exitCode, gasUsed: Number(error.gasUsed ?? 0n), stack: [] };
                    throw error;
                },
            );
            return { '@type': 'smc.runResult', gas_used: result.gasUsed, stack: encodeResponseStack(result.stack), exit_code: result.exitCode, block_id: block(devnet) };
        });
    },
    async sendBoc(devnet, params) {
        await devnet.sendBoc(requireBoc(params, 'boc'));
        return { '@type': 'ok' };
    },
    async sendBocReturnHash(devnet, params) {
        const { hash, normalizedHash } = await devnet.sendBoc(requireBoc(params, 'boc'));
        return { '@type': 'raw.extMessageInfo', hash: hash.toString('base64'), hash_norm: normalizedHash.toString('base64') };
    },
    async getTransactions(devnet, params) {
        const address = requireAddress(params);
        const limit = Number(optionalInteger(params, 'limit') ?? 10n);
        if (limit < 1 || limit > MAX_PAGE_LIMIT) throw new DevnetHttpError(400, `parameter "limit" must be 1..${MAX_PAGE_LIMIT}, got ${limit}`);
        const lt = optionalInteger(params, 'lt');
        const hashText = params.hash === undefined || params.hash === null || params.hash === '' ? undefined : requireString(params, 'hash');
        if ((lt === undefined) !== (hashText === undefined)) throw new DevnetHttpError(400, 'parameters "lt" and "hash" go together: give both or neither');
        const toLt = optionalInteger(params, 'to_lt') ?? 0n;
        const from = lt !== undefined && hashText !== undefined ? { lt, hash: parseHash(hashText) } : undefined;
        return devnet.exclusive(async () => {
            const page = await devnet.chain.getTransactions(address, { limit, from });
            return page.filter((tx) => tx.lt > toLt).map((tx) => transactionJson(address, tx));
        });
    },
    async getMasterchainInfo(devnet) {
        return devnet.exclusive(async () => ({
            '@type': 'blocks.masterchainInfo',
            last: block(devnet),
            state_root_hash: block(devnet).root_hash,
            init: devnetBlockId(1),
        }));
    },
    async estimateFee(devnet, params) {
        const address = requireAddress(params);
        const body = optionalCell(params, 'body');
        if (!body) throw new DevnetHttpError(400, 'missing parameter "body"');
        const fees = await devnet.estimateFee({
            address,
            body,
            initCode: optionalCell(params, 'init_code'),
            initData: optionalCell(params, 'init_data'),
            ignoreSignature: params.ignore_chksig === true || params.ignore_chksig === 'true',
        });
        return {
            '@type': 'query.fees',
            source_fees: { '@type': 'fees', in_fwd_fee: Number(fees.inFwdFee), storage_fee: Number(fees.storageFee), gas_fee: Number(fees.gasFee), fwd_fee: Number(fees.fwdFee) },
            destination_fees: [],
        };
    },
    /** Devnet only: fund a dev wallet. `amount` in nanoTON (default 100 TON). */
    async faucet(devnet, params) {
        const address = requireAddress(params);
        const amount = optionalInteger(params, 'amount') ?? toNano('100');
        const result = await devnet.faucet(address, amount);
        return {
            '@type': 'devnet.faucetGrant',
            amount: result.amount.toString(),
            transaction_id: { '@type': 'internal.transactionId', lt: result.transaction.lt.toString(), hash: result.transaction.hash.toString('base64') },
        };
    },
};

export const DEVNET_METHODS = Object.keys(handlers);

function errorStatus(error: unknown): { status: number; message: string } {
    if (error instanceof DevnetHttpError) return { status: error.status, message: error.message };
    if (error instanceof ExternalMessageRejectedError) {
        // The wording liteservers use, which clients recognise.
        return { status: 500, message: error.message.startsWith('cannot apply') ? error.message : `cannot apply external message to current state: ${error.message}` };
    }
    if (error instanceof TransactionNotFoundError) return { status: 404, message: error.message };
    if (error instanceof AccountNotActiveError) return { status: 400, message: error.message };
    if (error instanceof StackFormatError) return { status: 400, message: error.message };
    if (error instanceof ChainError) return { status: error.retryable ? 503 : 400, message: error.message };
    if (error instanceof DevnetStateError) return { status: 503, message: error.message };
    return { status: 500, message: `devnet internal error: ${(error as Error)?.message ?? String(error)}` };
}

function send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > limit) throw new DevnetHttpError(413, `request body exceeds ${limit} bytes`);
        chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
    if (text.trim() === '') return {};
    try {
        return JSON.parse(text);
    } catch {
        throw new DevnetHttpError(400, 'request body is not valid JSON');
    }
}

export interface DevnetServerOptions {
    host?: string;
    port: number;
    maxBodyBytes?: number;
    /** Called once per request with a structured log entry. */
    log?: (entry: Record<string, unknown>) => void;
    /** Time allowed to receive a request's headers (default 10 s) and the whole request (default 30 s). */
    headersTimeoutMs?: number;
    requestTimeoutMs?: number;
}

export interface RunningDevnetServer {
    url: string;
    port: number;
    server: Server;
    close(): Promise<void>;
}

export async function startDevnetServer(devnet: Devnet, options: DevnetServerOptions): Promise<RunningDevnetServer> {
    const host = options.host ?? '127.0.0.1';
    const limit = options.maxBodyBytes ?? 2 * 1024 * 1024;
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    // Node's defaults (60 s for headers, checked every 30 s) let a slow client hold a connection
    // for up to 90 s; check every second against shorter limits.
    const server = createServer({ connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeoutMs / 2))) }, (req, res) => {
        void handle(req, res);
    });
    server.requestTimeout = requestTimeoutMs;
    server.headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeoutMs);
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) return socket.destroy();
        const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
        const body = JSON.stringify({ ok: false, error: status === 408 ? 'the request was not received in time' : `malformed HTTP request (${error.code ?? 'parse error'})`, code: status });
        socket.end(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const started = Date.now();
        const url = new URL(req.url ?? '/', 'http://devnet');
        const path = url.pathname.replace(/\/+$/, '') || '/';
        let rpcId: unknown;
        let method = '';
        let status = 200;
        try {
            if (path === '/health') return send(res, 200, { ok: true, result: { seqno: devnet.seqno, time: devnet.chain.tick() } });
            let params: Params;
            if (path === '/jsonRPC' || path === '/api/v2/jsonRPC') {
                if (req.method !== 'POST') throw new DevnetHttpError(405, 'JSON-RPC takes POST requests');
                const body = parseJson(await readBody(req, limit)) as { id?: unknown; method?: unknown; params?: unknown } | null;
                if (!body || typeof body !== 'object' || Array.isArray(body)) throw new DevnetHttpError(400, 'JSON-RPC request must be an object');
                rpcId = body.id;
                if (typeof body.method !== 'string') throw new DevnetHttpError(400, 'JSON-RPC request needs a "method" string');
                method = body.method;
                if (body.params !== undefined && (typeof body.params !== 'object' || body.params === null || Array.isArray(body.params))) {
                    throw new DevnetHttpError(400, 'JSON-RPC "params" must be an object');
                }
                params = (body.params ?? {}) as Params;
            } else {
                method = path.replace(/^\/api\/v2\//, '').replace(/^\//, '');
                if (req.method === 'GET') {
                    params = Object.fromEntries(url.searchParams.entries());
                } else if (req.method === 'POST') {
                    const body = parseJson(await readBody(req, limit));
                    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new DevnetHttpError(400, 'request body must be a JSON object');
                    params = { ...Object.fromEntries(url.searchParams.entries()), ...(body as Params) };
                } else {
                    throw new DevnetHttpError(405, `method ${req.method} is not allowed; use GET or POST`);
                }
            }
            const handler = Object.prototype.hasOwnProperty.call(handlers, method) ? handlers[method] : undefined;
            if (!handler) throw new DevnetHttpError(404, `unknown method "${method}"; this devnet serves ${DEVNET_METHODS.join(', ')}`);
            const result = await handler(devnet, params);
            send(res, 200, rpcId !== undefined ? { ok: true, result, jsonrpc: '2.0', id: rpcId } : { ok: true, result });
        } catch (error) {
            const mapped = errorStatus(error);
            status = mapped.status;
            const body = { ok: false, error: mapped.message, code: mapped.status };
            send(res, mapped.status, rpcId !== undefined ? { ...body, jsonrpc: '2.0', id: rpcId } : body);
        } finally {
            options.log?.({ event: 'request', method, status, ms: Date.now() - started });
        }
    }

    await new Promise<void>((resolvePromise, reject) => {
        server.once('error', reject);
        server.listen(options.port, host, () => {
            server.off('error', reject);
            resolvePromise();
        });
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://${host}:${port}`,
        port,
        server,
        close: () =>
            new Promise<void>((resolvePromise) => {
                server.close(() => resolvePromise());
                server.closeAllConnections?.();
            }),
    };
}

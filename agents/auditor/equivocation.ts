import { Address, beginCell, Cell, internal } from '@ton/core';
import { IdempotentSender } from '../chain/sender';
import { Chain } from '../chain/types';
import { JournalStore } from '../store/store';
import { deterministicQueryId, isDeployed, openOnChain } from '../worker/chain-access';
import { Logger } from '../worker/logger';
import {
    Channel,
    parseReceipt,
    Receipt,
    storeProveEquivocation,
    verifyCell,
    Worker,
    WORKER_STATUS_EXITED,
    WORKER_STATUS_NONE,
    WORKER_STATUS_TOMBSTONED,
} from '../../wrappers';
import { bufferOf256, pollUntil, readGenuineWorker } from './chain-view';
import { AuditorApiError } from './errors';

/**
 * Equivocation: two Receipts for one (channel, seq) whose content differs, both signed by the
 * worker's enclave key. Anyone may hand them to the auditor (`POST /v1/equivocations`); the
 * auditor checks everything the Worker contract will check — so it never pays gas for a proof
 * the contract refuses — and submits `ProveEquivocation` to the worker's contract, which slashes
 * the stake, pays this agent's wallet the reporter reward and tombstones the worker.
 */
export interface SignedReceipt {
    cell: Cell;
    signature: Buffer;
}

export interface EquivocationCase {
    worker: Address;
    channel: Address;
    seq: bigint;
    first: SignedReceipt;
    second: SignedReceipt;
}

export interface EquivocationRecord {
    worker: string;
    channel: string;
    seq: bigint;
    queryId: bigint;
    status: 'sent';
    succeeded: boolean;
    workerStatus: bigint;
    stakeBefore: bigint;
    stakeAfter: bigint;
}

function readReceipt(text: unknown, which: string): { cell: Cell; receipt: Receipt } {
    if (typeof text !== 'string' || text.length === 0 || text.length > 8192) {
        throw new AuditorApiError('bad_request', 'malformed-receipt', `${which}.receipt must be the base64 BOC of a Receipt cell`);
    }
    let cell: Cell;
    try {
        const cells = Cell.fromBoc(Buffer.from(text, 'base64'));
        if (cells.length !== 1) throw new Error('more than one root');
        cell = cells[0];
    } catch (error) {
        throw new AuditorApiError('bad_request', 'malformed-receipt', `${which}.receipt is not a BOC (${(error as Error).message})`);
    }
    try {
        return { cell, receipt: parseReceipt(cell) };
    } catch (error) {
        throw new AuditorApiError('bad_request', 'malformed-receipt', `${which}.receipt is not a Receipt cell (${(error as Error).message})`);
    }
}

function readSignature(text: unknown, which: string): Buffer {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (bytes.length !== 64) throw new AuditorApiError('bad_request', 'malformed-signature', `${which}.signature must be a 64-byte Ed25519 signature in base64`);
    return bytes;
}

/**
 * Checks a reported equivocation against the chain: `{ first: {receipt, signature}, second:
 * {...} }` (receipts as base64 BOC, signatures base64). Throws `AuditorApiError` naming what is
 * wrong; returns the case to submit.
 */
export async function checkEquivocation(chain: Chain, root: Address, body: unknown): Promise<EquivocationCase> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
        throw new AuditorApiError('bad_request', 'malformed-request', 'send {"first": {"receipt", "signature"}, "second": {"receipt", "signature"}}');
    }
    const o = body as Record<string, unknown>;
    for (const key of Object.keys(o)) if (key !== 'first' && key !== 'second') throw new AuditorApiError('bad_request', 'malformed-request', `unknown field "${key}"`);
    const part = (name: 'first' | 'second') => {
        const p = o[name] as Record<string, unknown> | undefined;
        if (!p || typeof p !== 'object') throw new AuditorApiError('bad_request', 'malformed-request', `${name} must be an object {receipt, signature}`);
        return { ...readReceipt(p.receipt, name), signature: readSignature(p.signature, name) };
    };
    const first = part('first');
    const second = part('second');
    if (!first.receipt.channel.equals(second.receipt.channel) || first.receipt.seq !== second.receipt.seq) {
        throw new AuditorApiError('unprocessable', 'not-equivocation', 'the two receipts are for different (channel, seq): that is no equivocation');
    }
    if (first.cell.hash().equals(second.cell.hash())) {
        throw new AuditorApiError('unprocessable', 'not-equivocation', 'the two receipts are identical: a worker may sign the same receipt twice');
    }
    const channel = first.receipt.channel;
    if (!(await isDeployed(chain, channel))) throw new AuditorApiError('not_found', 'unknown-channel', `no channel contract at ${channel.toString()}`);
    let state;
    try {
        state = await openOnChain(chain, Channel.fromAddress(channel)).getState();
    } catch {
        throw new AuditorApiError('not_found', 'unknown-channel', `${channel.toString()} is not a Channel contract`);
    }
    if (!state.root.equals(root)) throw new AuditorApiError('unprocessable', 'foreign-root', `the channel belongs to Root ${state.root.toString()}, this auditor serves ${root.toString()}`);
    const info = await readGenuineWorker(chain, root, state.worker);
    if (!info) throw new AuditorApiError('unprocessable', 'not-a-worker', `the channel's worker ${state.worker.toString()} is not a Worker of this Root`);
    if (info.status === WORKER_STATUS_TOMBSTONED) throw new AuditorApiError('conflict', 'already-tombstoned', 'this worker was already proven to equivocate and slashed');
    if (info.status === WORKER_STATUS_NONE || info.status === WORKER_STATUS_EXITED) {
        throw new AuditorApiError('conflict', 'not-slashable', 'the worker has exited (or never registered): it holds no stake to slash');
    }
    // The contract accepts the current signing key or the one before the last rotation.
    const keys = [info.attestation.claim.signingKey, info.attestation.previousSigningKey].filter((k) => k !== 0n).map(bufferOf256);
    const signedByWorker = (r: SignedReceipt) => keys.some((k) => verifyCell(r.cell, r.signature, k));
    for (const [name, r] of [['first', first], ['second', second]] as const) {
        if (!signedByWorker(r)) throw new AuditorApiError('unprocessable', 'bad-signature', `the ${name} receipt is not signed by the worker's enclave key`);
    }
    return {
        worker: state.worker,
        channel,
        seq: first.receipt.seq,
        first: { cell: first.cell, signature: first.signature },
        second: { cell: second.cell, signature: second.signature },
    };
}

export interface EquivocationDeps {
    chain: Chain;
    sender: IdempotentSender;
    store: JournalStore;
    value: bigint;
    log: Logger;
}

/** Submits ProveEquivocation for a checked case; one submission per (worker, channel, seq). */
export async function proveEquivocation(deps: EquivocationDeps, c: EquivocationCase): Promise<EquivocationRecord> {
    const key = `auditor/equivocations/${c.worker.toRawString()}/${c.channel.toRawString()}/${c.seq}`;
    const previous = deps.store.get<EquivocationRecord>(key);
    if (previous) return previous;
    // The pair in a canonical order, so the same report sent twice (either way round) is one send.
    const [a, b] = [c.first, c.second].sort((x, y) => Buffer.compare(x.cell.hash(), y.cell.hash()));
    const queryId = deterministicQueryId('prove-equivocation', c.worker.toRawString(), a.cell.hash().toString('hex'), b.cell.hash().toString('hex'));
    const worker = openOnChain(deps.chain, Worker.fromAddress(c.worker));
    const stakeBefore = await worker.getStake();
    const body = beginCell()
        .store(storeProveEquivocation({ $$type: 'ProveEquivocation', queryId, first: a.cell, firstSignature: a.signature, second: b.cell, secondSignature: b.signature }))
        .endCell();
    const outcome = await deps.sender.send({ queryId, messages: [internal({ to: c.worker, value: deps.value, bounce: true, body })] });
    const info = await pollUntil(() => worker.getInfo(), (i) => i.status === WORKER_STATUS_TOMBSTONED, deps.chain.kind === 'sandbox' ? 0 : 60_000);
    const record: EquivocationRecord = {
        worker: c.worker.toRawString(),
        channel: c.channel.toRawString(),
        seq: c.seq,
        queryId,
        status: 'sent',
        succeeded: outcome.succeeded,
        workerStatus: info.status,
        stakeBefore,
        stakeAfter: info.stake,
    };
    deps.store.update((batch) => batch.put(key, record as never));
    deps.log.info('equivocation-proven', { worker: c.worker.toString(), channel: c.channel.toString(), seq: c.seq, tombstoned: info.status === WORKER_STATUS_TOMBSTONED });
    return record;
}

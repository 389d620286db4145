import { Address, Dictionary } from '@ton/core';
import { Chain } from '../chain/types';
import { Channel, CHANNEL_CLOSED, CHANNEL_CLOSING, CHANNEL_OPEN, CHANNEL_OPENING, channelFor, ChannelParams, ChannelState, ChannelTerms, dictValueParserModelPrice, loadTupleChannelParams, ModelPrice } from '../../wrappers';
import { intToPublicKey } from '../../wrappers/signed';
import { chainProvider, isDeployed, openOnChain } from './chain-access';
import { ApiError } from './errors';

/**
 * The worker's view of its channels, read on-chain (`state` and `terms` getters) and cached for
 * `cacheMs`; a caller that finds the cached view short of money asks again with `fresh` before
 * refusing (the client may just have topped up). A channel counts only if it is genuine: its
 * address is `initOf Channel(root, client, this worker)`, so a look-alike contract can never
 * fake a deposit.
 */
export interface ChannelSnapshot {
    address: Address;
    status: bigint;
    client: Address;
    payee: Address;
    clientKey: Buffer;
    deposit: bigint;
    settled: bigint;
    locked: bigint;
    free: bigint;
    openJobs: bigint;
    nextSeq: bigint;
    closeAt: bigint;
    signingKey: Buffer;
    encryptionKey: Buffer;
    prices: Dictionary<bigint, ModelPrice>;
    params: ChannelParams | null;
    /** Local time (ms) of the read. */
    readAt: number;
}

export function channelStatusName(status: bigint): string {
    switch (status) {
        case CHANNEL_CLOSED:
            return 'closed';
        case CHANNEL_OPENING:
            return 'opening';
        case CHANNEL_OPEN:
            return 'open';
        case CHANNEL_CLOSING:
            return 'closing';
        default:
            return `unknown(${status})`;
    }
}

/**
 * The `terms` getter, parsed here: the binding Tact 1.6.13 generates for it reads the nested
 * ChannelParams from the outer tuple instead of its own (loadTupleChannelTerms calls
 * loadTupleChannelParams(source), not source.readTuple()), and fails with "Not a number".
 */
export async function readTerms(chain: Chain, address: Address): Promise<ChannelTerms | null> {
    const result = await chainProvider(chain, address).get('terms', []);
    const tuple = result.stack.readTupleOpt();
    if (!tuple) return null;
    const signingKey = tuple.readBigNumber();
    const prices = Dictionary.loadDirect(Dictionary.Keys.BigUint(256), dictValueParserModelPrice(), tuple.readCellOpt());
    const encryptionKey = tuple.readBigNumber();
    const params = loadTupleChannelParams(tuple.readTuple());
    return { $$type: 'ChannelTerms', signingKey, prices, encryptionKey, params };
}

export class ChannelDirectory {
    private readonly cache = new Map<string, ChannelSnapshot>();
    /** Channels already proven genuine (address derivation is pure; no need to redo it). */
    private readonly genuine = new Set<string>();

    constructor(
        private readonly chain: Chain,
        private readonly root: Address,
        private readonly worker: Address,
        private readonly cacheMs: number,
    ) {}

    /** Forgets a cached view (after the agent changed the channel, e.g. settled). */
    invalidate(address: Address): void {
        this.cache.delete(address.toRawString());
    }

    /**
     * The channel's current view; throws ApiError `payment_required` when there is no channel
     * there, `bad_request` when it is not a channel of this worker.
     */
    async get(address: Address, options: { fresh?: boolean } = {}): Promise<ChannelSnapshot> {
        const key = address.toRawString();
        const cached = this.cache.get(key);
        if (cached && !options.fresh && Date.now() - cached.readAt < this.cacheMs) return cached;
        const snapshot = await this.read(address);
        this.cache.set(key, snapshot);
        return snapshot;
    }

    private async read(address: Address): Promise<ChannelSnapshot> {
        if (!(await isDeployed(this.chain, address))) {
            throw new ApiError('payment_required', `there is no channel at ${address.toString()} on-chain: open a channel with this worker first`);
        }
        const channel = openOnChain(this.chain, Channel.fromAddress(address));
        let state: ChannelState;
        try {
            state = await channel.getState();
        } catch {
            throw new ApiError('bad_request', `the contract at ${address.toString()} is not a Channel`);
        }
        const key = address.toRawString();
        if (!this.genuine.has(key)) {
            if (!state.worker.equals(this.worker) || !state.root.equals(this.root)) {
                throw new ApiError('bad_request', `channel ${address.toString()} is with worker ${state.worker.toString()}, not with this worker (${this.worker.toString()})`);
            }
            const expected = (await channelFor(this.root, state.client, this.worker)).address;
            if (!expected.equals(address)) {
                throw new ApiError('bad_request', `the contract at ${address.toString()} is not the genuine Channel of client ${state.client.toString()} and this worker`);
            }
            this.genuine.add(key);
        }
        const terms = state.status === CHANNEL_OPENING || state.status === CHANNEL_CLOSED ? null : await readTerms(this.chain, address);
        return {
            address,
            status: state.status,
            client: state.client,
            payee: state.payee,
            clientKey: intToPublicKey(state.clientKey),
            deposit: state.deposit,
            settled: state.settled,
            locked: state.locked,
            free: state.free,
            openJobs: state.openJobs,
            nextSeq: state.nextSeq,
            closeAt: state.closeAt,
            signingKey: intToPublicKey(state.signingKey),
            encryptionKey: intToPublicKey(state.encryptionKey),
            prices: terms?.prices ?? Dictionary.empty(Dictionary.Keys.BigUint(256), dictValueParserModelPrice()),
            params: terms?.params ?? null,
            readAt: Date.now(),
        };
    }
}

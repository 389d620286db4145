import { Address, Dictionary } from '@ton/core';
import { Chain } from '../chain/types';
import { Watcher } from '../chain/watcher';
import { JournalStore } from '../store/store';
import { allowList } from '../enclave/policy';
import { teeTypeFromCode, TeeType } from '../enclave/types';
import {
    eventsOf,
    ModelPrice,
    Params,
    Root,
    Worker,
    WorkerInfo,
    WorkerRegistered,
    WorkerStats,
    workerFor,
} from '../../wrappers';
import { openReadOnly } from './chain-provider';
import { WorkerNotGenuineError, WorkerNotServingError } from './errors';

/** Worker status codes (contracts/constants.tact). */
export const WorkerStatus = {
    None: 0,
    Pending: 1,
    Active: 2,
    Jailed: 3,
    Unbonding: 4,
    Exited: 5,
    Tombstoned: 6,
} as const;

const STATUS_NAMES = ['none', 'pending', 'active', 'jailed', 'unbonding', 'exited', 'tombstoned'];

export function workerStatusName(code: number | bigint): string {
    return STATUS_NAMES[Number(code)] ?? `unknown(${code})`;
}

/** What the client needs from Root: params, allow-lists, pause flag. Read fresh, cached briefly. */
export interface RootSnapshot {
    address: Address;
    params: Params;
    paused: boolean;
    /** Measurement (lowercase hex) → TEE type, as the attestation policy takes it. */
    measurements: Map<string, TeeType>;
    /** Allowed model hashes (lowercase hex) → flags. */
    models: Map<string, number>;
    readAt: number;
}

/** A worker as its contract records it: the record attestation evidence must match. */
export interface WorkerRecord {
    address: Address;
    root: Address;
    owner: Address;
    slot: bigint;
    status: number;
    /** Status once an expired attestation is taken into account (ACTIVE turns JAILED). */
    effectiveStatus: number;
    stake: bigint;
    /** Seconds: after RequestUnbond the stake stays at least this long (the longest claim span of its channels). */
    claimSpan: bigint;
    attestationExpiry: number;
    attested: boolean;
    rejected: boolean;
    signingKey: Buffer;
    encryptionKey: Buffer;
    teeType: number;
    measurement: Buffer;
    quoteHash: Buffer;
    endpoint: string;
    capacity: number;
    rootPaused: boolean;
    /** Model hash (lowercase hex) → prices in nanoTON per token. */
    prices: Map<string, { prompt: bigint; completion: bigint }>;
    stats: WorkerStats;
}

export function hex256(value: bigint): string {
    return value.toString(16).padStart(64, '0');
}

export function bufferOf256(value: bigint): Buffer {
    return Buffer.from(hex256(value), 'hex');
}

/** Model hash given as 64 hex digits (optionally 0x-prefixed) → bigint; throws on anything else. */
export function parseModelHash(text: string): bigint {
    const hex = text.startsWith('0x') ? text.slice(2) : text;
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError(`model hash must be 64 hex digits, got "${text}"`);
    return BigInt('0x' + hex);
}

function priceMap(dict: Dictionary<bigint, ModelPrice>): Map<string, { prompt: bigint; completion: bigint }> {
    const out = new Map<string, { prompt: bigint; completion: bigint }>();
    for (const [model, price] of dict) out.set(hex256(model), { prompt: price.prompt, completion: price.completion });
    return out;
}

/**
 * Reads Root and Worker contracts through their generated getters, and discovers workers from
 * Root's `WorkerRegistered` events. Every worker address is checked to be the genuine
 * `Worker(root, owner, slot)` of this Root before anything else is believed about it: a Channel
 * trusts the worker address it is deployed with (docs/contract-interfaces.md), so a fake one
 * would take the deposit.
 */
export class RootRegistry {
    private rootSnapshot: RootSnapshot | undefined;
    private readonly watcher: Watcher<WorkerRegistered> | undefined;

    constructor(
        readonly chain: Chain,
        readonly root: Address,
        private readonly options: {
            /** Persists the discovery cursor and the workers found (the client's store). */
            store?: JournalStore;
            /** Seconds a Root snapshot is reused (default 30). */
            rootCacheSeconds?: number;
            log?: (entry: Record<string, unknown>) => void;
        } = {},
    ) {
        if (options.store) {
            this.watcher = new Watcher<WorkerRegistered>({
                chain,
                store: options.store,
                name: `client/discovery/${root.toRawString()}`,
                accounts: [root],
                decoder: (tx) => eventsOf(tx).filter((e): e is WorkerRegistered => e.$$type === 'WorkerRegistered'),
                handler: ({ event }, batch) => {
                    batch.put(this.workerKey(event.worker), { owner: event.owner.toRawString(), slot: event.slot });
                },
                startFrom: 'genesis',
                log: options.log,
            });
        }
    }

    private workerKey(worker: Address): string {
        return `client/workers/${this.root.toRawString()}/${worker.toRawString()}`;
    }

    /** Root's params, allow-lists and pause flag (cached for `rootCacheSeconds`). */
    async readRoot(force = false): Promise<RootSnapshot> {
        const now = Date.now();
        const ttl = (this.options.rootCacheSeconds ?? 30) * 1000;
        if (!force && this.rootSnapshot && now - this.rootSnapshot.readAt < ttl) return this.rootSnapshot;
        const root = openReadOnly(this.chain, Root.fromAddress(this.root));
        const state = await root.getState();
        if (!state.configured) throw new WorkerNotServingError(`Root ${this.root.toString()} has no params yet (not deployed by governance)`);
        const [params, measurements, models] = await Promise.all([root.getParams(), root.getMeasurements(), root.getModels()]);
        const measurementList: { measurement: bigint; teeType: TeeType }[] = [];
        for (const [measurement, teeType] of measurements) {
            try {
                measurementList.push({ measurement, teeType: teeTypeFromCode(Number(teeType)) });
            } catch {
                // A TEE type this client does not know cannot be verified; leave it out.
            }
        }
        const modelMap = new Map<string, number>();
        for (const [model, flags] of models) modelMap.set(hex256(model), Number(flags));
        this.rootSnapshot = { address: this.root, params, paused: state.paused, measurements: allowList(measurementList), models: modelMap, readAt: now };
        return this.rootSnapshot;
    }

    /**
     * Workers registered at this Root, from its `WorkerRegistered` events. With a store the scan
     * is incremental (a durable cursor); without one it pages the whole history each time.
     */
    async discover(): Promise<Address[]> {
        if (this.watcher && this.options.store) {
            await this.watcher.pollOnce();
            const prefix = `client/workers/${this.root.toRawString()}/`;
            return this.options.store.keys(prefix).map((key) => Address.parseRaw(key.slice(prefix.length)));
        }
        const found = new Map<string, Address>();
        let from: { lt: bigint; hash: Buffer } | undefined;
        for (;;) {
            const page = await this.chain.getTransactions(this.root, { limit: 100, from });
            let oldest = page[0];
            for (const tx of page) {
                if (tx.lt < oldest.lt) oldest = tx;
                for (const event of eventsOf(tx)) if (event.$$type === 'WorkerRegistered') found.set(event.worker.toRawString(), event.worker);
            }
            if (page.length < 100 || !oldest) break;
            const next = { lt: oldest.lt, hash: oldest.hash() };
            if (from && from.lt === next.lt) break;
            from = next;
        }
        return [...found.values()];
    }

    /**
     * The worker's on-chain record, after checking that the address is the genuine
     * `Worker(root, owner, slot)` of this Root. Throws `WorkerNotGenuineError` otherwise.
     */
    async readWorker(address: Address): Promise<WorkerRecord> {
        const worker = openReadOnly(this.chain, Worker.fromAddress(address));
        let info: WorkerInfo;
        try {
            info = await worker.getInfo();
        } catch (error) {
            throw new WorkerNotGenuineError(
                `${address.toString()} does not answer the Worker 'info' getter (${(error as Error).message}): it is not a deployed Worker contract`,
            );
        }
        await this.assertGenuine(address, info.owner, info.slot, info.root);
        const [prices, stats] = await Promise.all([worker.getPrices(), worker.getStats()]);
        const claim = info.attestation.claim;
        return {
            address,
            root: info.root,
            owner: info.owner,
            slot: info.slot,
            status: Number(info.status),
            effectiveStatus: Number(info.effectiveStatus),
            stake: info.stake,
            claimSpan: info.claimSpan,
            attestationExpiry: Number(info.attestationExpiry),
            attested: info.attestation.attested,
            rejected: info.attestation.rejected,
            signingKey: bufferOf256(claim.signingKey),
            encryptionKey: bufferOf256(claim.encryptionKey),
            teeType: Number(claim.teeType),
            measurement: bufferOf256(claim.measurement),
            quoteHash: bufferOf256(claim.quoteHash),
            endpoint: info.endpoint,
            capacity: Number(info.capacity),
            rootPaused: info.rootPaused,
            prices: priceMap(prices),
            stats,
        };
    }

    /**
     * The address a contract claims to be must be the one this Root deploys for (owner, slot):
     * the Worker's code and initial data are fixed, so the address proves both.
     */
    async assertGenuine(address: Address, owner: Address, slot: bigint, claimedRoot?: Address): Promise<void> {
        if (claimedRoot && !claimedRoot.equals(this.root)) {
            throw new WorkerNotGenuineError(`${address.toString()} says its Root is ${claimedRoot.toString()}, not ${this.root.toString()}`);
        }
        const expected = (await workerFor(this.root, owner, slot)).address;
        if (!expected.equals(address)) {
            throw new WorkerNotGenuineError(
                `${address.toString()} is not Worker(root ${this.root.toString()}, owner ${owner.toString()}, slot ${slot}) ` +
                    `(that address is ${expected.toString()}): it is not a worker of this network; refusing to deal with it`,
            );
        }
    }
}

/** Why a worker cannot take a new job now, or undefined when it can. */
export function notServingReason(record: WorkerRecord, root: RootSnapshot, now: number): string | undefined {
    if (root.paused || record.rootPaused) return 'the network is paused by governance';
    if (record.effectiveStatus !== WorkerStatus.Active) {
        return `worker status is ${workerStatusName(record.effectiveStatus)}` + (record.status !== record.effectiveStatus ? ` (stored ${workerStatusName(record.status)})` : '');
    }
    if (record.rejected) return "auditors rejected the worker's attestation";
    if (record.attestationExpiry !== 0 && record.attestationExpiry <= now) return `its attestation expired at ${record.attestationExpiry}`;
    if (record.stake < root.params.minWorkerStake) return `its stake ${record.stake} is below the minimum ${root.params.minWorkerStake}`;
    return undefined;
}

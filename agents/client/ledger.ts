import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { ed25519FromSeed, Ed25519KeyPair } from '../core/ed25519';
import { JournalStore, StoredValue } from '../store/store';
import { signVoucher } from '../../wrappers';
import { LedgerError } from './errors';
import { ModelPrices } from './receipts';

/**
 * The client's books, in its crash-safe store (one journal file per client, one writer):
 *
 * - per channel: the worker, the keys and prices snapshotted at open, the next job seq, what the
 *   client owes for verified fast-path receipts, and the last voucher it signed;
 * - the receipts of recent jobs (evidence for disputes and equivocation proofs).
 *
 * Two rules money depends on:
 * 1. a seq is persisted as used before its request leaves, so a restart never reuses one
 *    (one increasing space per channel, shared by fast-path and on-chain jobs);
 * 2. a voucher is persisted before its signature leaves, and a new one is signed only for a
 *    cumulative at least as high as the last: a restart never signs lower or forgets what it signed.
 */
export interface ChannelRecord {
    address: Address;
    root: Address;
    worker: Address;
    status: 'opening' | 'open' | 'closing' | 'closed';
    /** The worker's keys and prices as the channel snapshotted them at open. */
    signingKey: Buffer;
    encryptionKey: Buffer;
    prices: Map<string, ModelPrices>;
    voucherKey: Buffer;
    /** The next seq this client will use on this channel. */
    nextSeq: bigint;
    /** Cumulative nanoTON owed for verified fast-path receipts. */
    owed: bigint;
    /** The last voucher signed (cumulative, signature), if any. */
    voucher?: { cumulative: bigint; signature: Buffer };
    /** The highest voucher the worker confirmed holding. */
    deliveredCumulative: bigint;
    openedAt: number;
}

interface StoredChannel {
    [key: string]: StoredValue | undefined;
    address: string;
    root: string;
    worker: string;
    status: string;
    signingKey: Buffer;
    encryptionKey: Buffer;
    prices: { [model: string]: { prompt: bigint; completion: bigint } };
    voucherKey: Buffer;
    nextSeq: bigint;
    owed: bigint;
    voucher: { cumulative: bigint; signature: Buffer } | null;
    deliveredCumulative: bigint;
    openedAt: number;
}

export interface StoredReceipt {
    [key: string]: StoredValue | undefined;
    channel: string;
    seq: bigint;
    receipt: Buffer;
    signature: Buffer;
    cost: bigint;
    at: number;
}

const RECEIPTS_KEPT = 1000;

/**
 * An on-chain job this client posted and has not seen finished. It keeps the ephemeral key that
 * opens the answer, so a restarted client can still read the result, finalize it, or expire it
 * and collect the timeout compensation.
 */
export interface OnChainJobRecord {
    [key: string]: StoredValue | undefined;
    channel: string;
    seq: bigint;
    model: bigint;
    inputHash: Buffer;
    maxPayment: bigint;
    deadline: number;
    replySecretKey: Buffer;
    status: 'posted' | 'committed' | 'finalized' | 'expired' | 'rejected';
    postedAt: number;
}

function toStored(c: ChannelRecord): StoredChannel {
    const prices: StoredChannel['prices'] = {};
    for (const [model, p] of c.prices) prices[model] = { prompt: p.prompt, completion: p.completion };
    return {
        address: c.address.toRawString(),
        root: c.root.toRawString(),
        worker: c.worker.toRawString(),
        status: c.status,
        signingKey: c.signingKey,
        encryptionKey: c.encryptionKey,
        prices,
        voucherKey: c.voucherKey,
        nextSeq: c.nextSeq,
        owed: c.owed,
        voucher: c.voucher ?? null,
        deliveredCumulative: c.deliveredCumulative,
        openedAt: c.openedAt,
    };
}

function fromStored(s: StoredChannel): ChannelRecord {
    return {
        address: Address.parseRaw(s.address),
        root: Address.parseRaw(s.root),
        worker: Address.parseRaw(s.worker),
        status: s.status as ChannelRecord['status'],
        signingKey: s.signingKey,
        encryptionKey: s.encryptionKey,
        prices: new Map(Object.entries(s.prices).map(([m, p]) => [m, { prompt: p.prompt, completion: p.completion }])),
        voucherKey: s.voucherKey,
        nextSeq: s.nextSeq,
        owed: s.owed,
        voucher: s.voucher ?? undefined,
        deliveredCumulative: s.deliveredCumulative,
        openedAt: s.openedAt,
    };
}

/** Where channel voucher keys come from: derived from the wallet key, or given explicitly. */
export interface VoucherKeySource {
    keyFor(channel: Address): Ed25519KeyPair;
}

/**
 * Voucher keys derived from the wallet key: seed = SHA-256(domain ‖ Ed25519 signature of
 * SHA-256(domain ‖ channel address)). Ed25519 signatures are deterministic, so the same wallet
 * always derives the same key for a channel (a lost store never loses the key), one key per
 * channel, and the wallet's own secret is never exposed.
 */
export function walletDerivedVoucherKeys(wallet: { sign(hash: Buffer): Buffer }): VoucherKeySource {
    const domain = Buffer.from('cocoon-channel-voucher-key-v1', 'ascii');
    const cache = new Map<string, Ed25519KeyPair>();
    return {
        keyFor(channel: Address): Ed25519KeyPair {
            const id = channel.toRawString();
            let key = cache.get(id);
            if (!key) {
                const workchain = Buffer.alloc(1);
                workchain.writeInt8(channel.workChain);
                const message = createHash('sha256').update(domain).update(workchain).update(channel.hash).digest();
                const seed = createHash('sha256').update(domain).update(wallet.sign(message)).digest();
                key = ed25519FromSeed(seed);
                cache.set(id, key);
            }
            return key;
        },
    };
}

export class ClientLedger {
    constructor(private readonly store: JournalStore) {}

    private channelKey(channel: Address): string {
        return `client/channel/${channel.toRawString()}`;
    }

    channel(channel: Address): ChannelRecord | undefined {
        const stored = this.store.get<StoredChannel>(this.channelKey(channel));
        return stored ? fromStored(stored) : undefined;
    }

    channels(): ChannelRecord[] {
        return this.store.keys('client/channel/').map((k) => fromStored(this.store.get<StoredChannel>(k)!));
    }

    /** Records a channel (at open); an existing record keeps its seq, owed and voucher. */
    saveChannel(record: ChannelRecord): ChannelRecord {
        const existing = this.channel(record.address);
        const merged: ChannelRecord = existing
            ? {
                  ...record,
                  nextSeq: existing.nextSeq > record.nextSeq ? existing.nextSeq : record.nextSeq,
                  owed: existing.owed,
                  voucher: existing.voucher,
                  deliveredCumulative: existing.deliveredCumulative,
                  openedAt: existing.openedAt,
              }
            : record;
        this.store.update((b) => b.put(this.channelKey(record.address), toStored(merged)));
        return merged;
    }

    setStatus(channel: Address, status: ChannelRecord['status']): void {
        const record = this.require(channel);
        record.status = status;
        this.store.update((b) => b.put(this.channelKey(channel), toStored(record)));
    }

    private require(channel: Address): ChannelRecord {
        const record = this.channel(channel);
        if (!record) throw new LedgerError(`no channel ${channel.toString()} in this client's ledger; open it first`);
        return record;
    }

    /**
     * Takes the next seq of the channel and persists the move before returning it. `atLeast`
     * (the chain's next on-chain seq) lifts the counter when the contract requires it.
     */
    allocateSeq(channel: Address, atLeast = 0n): bigint {
        const record = this.require(channel);
        const seq = record.nextSeq > atLeast ? record.nextSeq : atLeast;
        if (seq >= 1n << 64n) throw new LedgerError(`channel ${channel.toString()} has used every seq; open a new channel`);
        record.nextSeq = seq + 1n;
        // Durable in the background and at the latest with the answer's receipt (a plain commit): a crash of the
        // process loses nothing; a power cut while the request is out may hand the seq out again, which the
        // worker refuses (409 seq_used) and the SDK answers with a fresh seq.
        this.store.update((b) => b.put(this.channelKey(channel), toStored(record)), { later: true });
        return seq;
    }

    /**
     * A verified fast-path receipt: adds its cost to what is owed, keeps the receipt, and signs
     * the voucher for the new cumulative, all in one durable commit before the voucher leaves.
     * `delivered`: a voucher the job's request carried, which the worker's answer confirms it holds.
     * `later`: the caller awaits the store's `flush()` before the answer or the voucher goes anywhere.
     */
    recordReceiptAndSignVoucher(
        channel: Address,
        receipt: { seq: bigint; cell: Buffer; signature: Buffer; cost: bigint },
        voucherKey: Ed25519KeyPair,
        limit?: bigint,
        delivered?: bigint,
        options: { later?: boolean } = {},
    ): { cumulative: bigint; signature: Buffer } {
        const record = this.require(channel);
        if (delivered !== undefined && delivered > record.deliveredCumulative) record.deliveredCumulative = delivered;
        if (!voucherKey.publicKey.equals(record.voucherKey)) {
            throw new LedgerError(`the voucher key given is not the key channel ${channel.toString()} was opened with`);
        }
        const owed = record.owed + receipt.cost;
        if (limit !== undefined && owed > limit) {
            throw new LedgerError(`signing ${owed} nanoTON on channel ${channel.toString()} would exceed its deposit ${limit}; top up first`);
        }
        const voucher = this.signAtLeast(record, owed, voucherKey);
        record.owed = owed;
        record.voucher = voucher;
        const receiptKey = `client/receipt/${channel.toRawString()}/${receipt.seq.toString().padStart(20, '0')}`;
        const stored: StoredReceipt = { channel: channel.toRawString(), seq: receipt.seq, receipt: receipt.cell, signature: receipt.signature, cost: receipt.cost, at: Math.floor(Date.now() / 1000) };
        const old = this.store.keys(`client/receipt/${channel.toRawString()}/`);
        this.store.update((b) => {
            b.put(this.channelKey(channel), toStored(record));
            b.put(receiptKey, stored);
            for (const key of old.slice(0, Math.max(0, old.length + 1 - RECEIPTS_KEPT))) b.delete(key);
        }, options);
        return voucher;
    }

    /** The voucher to (re)deliver: the last one signed. */
    lastVoucher(channel: Address): { cumulative: bigint; signature: Buffer } | undefined {
        return this.require(channel).voucher;
    }

    markDelivered(channel: Address, cumulative: bigint): void {
        const record = this.require(channel);
        if (cumulative <= record.deliveredCumulative) return;
        record.deliveredCumulative = cumulative;
        // Losing this only means sending the voucher again.
        this.store.update((b) => b.put(this.channelKey(channel), toStored(record)), { later: true });
    }

    recordOnChainJob(job: OnChainJobRecord): void {
        this.store.update((b) => b.put(this.onChainKey(job.channel, job.seq), job));
    }

    onChainJob(channel: Address, seq: bigint): OnChainJobRecord | undefined {
        return this.store.get<OnChainJobRecord>(this.onChainKey(channel.toRawString(), seq));
    }

    /** On-chain jobs not yet finalized, expired or rejected (all channels, or one). */
    openOnChainJobs(channel?: Address): OnChainJobRecord[] {
        const prefix = channel ? `client/onchain/${channel.toRawString()}/` : 'client/onchain/';
        return this.store
            .keys(prefix)
            .map((k) => this.store.get<OnChainJobRecord>(k)!)
            .filter((j) => j.status === 'posted' || j.status === 'committed');
    }

    setOnChainJobStatus(channel: Address, seq: bigint, status: OnChainJobRecord['status']): void {
        const job = this.onChainJob(channel, seq);
        if (!job) return;
        job.status = status;
        this.store.update((b) => {
            // A finished job's key is no longer needed: drop the secret with the record's status change.
            if (status === 'finalized' || status === 'expired' || status === 'rejected') job.replySecretKey = Buffer.alloc(0);
            b.put(this.onChainKey(job.channel, job.seq), job);
        });
    }

    private onChainKey(channel: string, seq: bigint): string {
        return `client/onchain/${channel}/${seq.toString().padStart(20, '0')}`;
    }

    receipts(channel: Address): StoredReceipt[] {
        return this.store.keys(`client/receipt/${channel.toRawString()}/`).map((k) => this.store.get<StoredReceipt>(k)!);
    }

    private signAtLeast(record: ChannelRecord, cumulative: bigint, key: Ed25519KeyPair): { cumulative: bigint; signature: Buffer } {
        const last = record.voucher;
        if (last && cumulative < last.cumulative) {
            throw new LedgerError(
                `refusing to sign a voucher for ${cumulative} on channel ${record.address.toString()}: one for ${last.cumulative} was already signed (vouchers only grow)`,
            );
        }
        if (last && cumulative === last.cumulative) return last;
        const signed = signVoucher({ channel: record.address, cumulative }, key.seed);
        return { cumulative, signature: signed.signature };
    }
}

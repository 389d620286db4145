// Money accounting across every party of a story: balances before and after each step, the fees
// the network took, and who received what. A step checks, to the nanoTON, that the balances of
// all the parties changed by exactly minus the fees the trace paid (conservation), and that no
// account outside the parties took part. Generic on purpose: it reads balances and fees, not
// the shape of a trace, so a message flow that gains or loses a hop keeps the same checks.
import { Blockchain, SendMessageResult } from '@ton/sandbox';
import { Address, Transaction } from '@ton/core';

/**
 * What a trace cost the parties as a whole: every transaction's totalFees (storage, compute,
 * the action phase's share of forward fees, import fees) plus the forward fees still in transit
 * on the internal messages it created (the part of a forward fee that totalFees leaves out).
 */
export function networkFees(txs: Transaction[]): bigint {
    let sum = 0n;
    for (const tx of txs) {
        sum += tx.totalFees.coins;
        for (const message of tx.outMessages.values()) {
            if (message.info.type === 'internal') sum += message.info.forwardFee;
        }
    }
    return sum;
}

/** Storage fees collected from the account of each transaction (they come out of its balance). */
export function storageFeesOf(tx: Transaction): bigint {
    if (tx.description.type !== 'generic') return 0n;
    return tx.description.storagePhase?.storageFeesCollected ?? 0n;
}

/** Compute fee of a transaction (0 when it skipped the compute phase). */
export function computeFeeOf(tx: Transaction): bigint {
    if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return 0n;
    return tx.description.computePhase.gasFees;
}

function hashKey(address: Address | bigint): string {
    return (typeof address === 'bigint' ? address : BigInt('0x' + address.hash.toString('hex'))).toString(16);
}

export interface Step {
    label: string;
    txs: Transaction[];
    /** networkFees of the step's traces. */
    fees: bigint;
    /** Balance change of every party. */
    delta: Record<string, bigint>;
    before: Record<string, bigint>;
    after: Record<string, bigint>;
    /** The named party's address. */
    address(name: string): Address;
    /** Transactions of the step on the named party. */
    on(name: string): Transaction[];
    /** Value of the non-bounced internal messages `to` received (from `from`, when given). */
    received(to: string, from?: string): bigint;
    /** Storage fees the named party paid in this step. */
    storage(name: string): bigint;
    /** totalFees of the named party's transactions in this step. */
    feesOn(name: string): bigint;
    /** Throws unless every party outside `names` kept its balance to the nanoTON. */
    onlyMoved(...names: string[]): void;
}

export class Ledger {
    private readonly parties = new Map<string, Address>();
    private readonly byHash = new Map<string, string>();
    /** Fees of every step so far, and the first balances: the story's totals. */
    totalFees = 0n;
    private start: Record<string, bigint> | null = null;
    readonly steps: Step[] = [];

    constructor(private readonly blockchain: Blockchain, parties: Record<string, Address> = {}) {
        for (const [name, address] of Object.entries(parties)) this.add(name, address);
    }

    add(name: string, address: Address): void {
        if (this.parties.has(name)) throw new Error(`ledger: party ${name} already tracked`);
        this.parties.set(name, address);
        this.byHash.set(hashKey(address), name);
        if (this.start) this.start[name] = 0n; // a party added later must be new (no balance yet)
    }

    address(name: string): Address {
        const address = this.parties.get(name);
        if (!address) throw new Error(`ledger: unknown party ${name}`);
        return address;
    }

    names(): string[] {
        return [...this.parties.keys()];
    }

    nameOf(address: Address | bigint): string | undefined {
        return this.byHash.get(hashKey(address));
    }

    async balances(): Promise<Record<string, bigint>> {
        const out: Record<string, bigint> = {};
        for (const [name, address] of this.parties) out[name] = (await this.blockchain.getContract(address)).balance;
        return out;
    }

    async balance(name: string): Promise<bigint> {
        return (await this.blockchain.getContract(this.address(name))).balance;
    }

    /**
     * Runs `action` and checks conservation over its traces: Σ balance changes of the parties =
     * − networkFees, exactly, and every transaction ran on a party. Returns the step's figures.
     */
    async step(label: string, action: () => Promise<SendMessageResult | SendMessageResult[] | void>): Promise<Step> {
        const before = await this.balances();
        if (!this.start) this.start = { ...before };
        const outcome = await action();
        const results = outcome ? (Array.isArray(outcome) ? outcome : [outcome]) : [];
        const txs = results.flatMap((r) => r.transactions);
        for (const tx of txs) {
            if (!this.byHash.has(hashKey(tx.address))) {
                throw new Error(`${label}: a transaction ran on an account outside the parties (${tx.address.toString(16)})`);
            }
        }
        const after = await this.balances();
        const delta: Record<string, bigint> = {};
        let sum = 0n;
        for (const name of this.parties.keys()) {
            delta[name] = after[name] - before[name];
            sum += delta[name];
        }
        const fees = networkFees(txs);
        if (sum !== -fees) {
            throw new Error(`${label}: money not conserved: the parties' balances changed by ${sum}, the fees were ${fees} (diff ${sum + fees})`);
        }
        this.totalFees += fees;
        const on = (name: string) => {
            const key = hashKey(this.address(name));
            return txs.filter((tx) => hashKey(tx.address) === key);
        };
        const step: Step = {
            label,
            txs,
            fees,
            delta,
            address: (name) => this.address(name),
            before,
            after,
            on,
            received: (to, from) => {
                const dest = this.address(to);
                const src = from ? this.address(from) : null;
                let total = 0n;
                for (const tx of txs) {
                    const info = tx.inMessage?.info;
                    if (info?.type !== 'internal' || info.bounced || !info.dest.equals(dest)) continue;
                    if (src && !info.src.equals(src)) continue;
                    total += info.value.coins;
                }
                return total;
            },
            storage: (name) => on(name).reduce((s, tx) => s + storageFeesOf(tx), 0n),
            feesOn: (name) => on(name).reduce((s, tx) => s + tx.totalFees.coins, 0n),
            onlyMoved: (...names) => {
                for (const name of this.parties.keys()) {
                    if (!names.includes(name) && delta[name] !== 0n) {
                        throw new Error(`${label}: ${name}'s balance moved by ${delta[name]}, it should not have`);
                    }
                }
            },
        };
        this.steps.push(step);
        return step;
    }

    /**
     * The whole story so far: Σ over the parties of (balance now − balance at the first step) =
     * − Σ fees of every step. Holds step by step, so this also catches a transfer made outside
     * a step (one that would not have been accounted).
     */
    async expectConservedSinceStart(): Promise<void> {
        if (!this.start) throw new Error('ledger: no step yet');
        const now = await this.balances();
        let sum = 0n;
        for (const name of this.parties.keys()) sum += now[name] - (this.start[name] ?? 0n);
        if (sum !== -this.totalFees) {
            throw new Error(`money not conserved over the story: balances changed by ${sum}, fees ${this.totalFees}`);
        }
    }

    /** Balance change of `name` since the first step. */
    async sinceStart(name: string): Promise<bigint> {
        if (!this.start) throw new Error('ledger: no step yet');
        return (await this.balance(name)) - (this.start[name] ?? 0n);
    }
}

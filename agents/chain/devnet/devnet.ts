import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Address, beginCell, Cell, external, loadTransaction, storeMessage, toNano, Transaction } from '@ton/core';
import { Blockchain, EmulationError, SandboxContract, snapshotFromSerializable, snapshotToSerializable, TreasuryContract } from '@ton/sandbox';
import { writeFileAtomic } from '../../store/atomic';
import { Journal } from '../../store/journal';
import { ChainRequestError, ExternalMessageRejectedError } from '../errors';
import { normalizedExternalHash, parseExternalBoc } from '../messages';
import { SandboxChain } from '../sandbox';
import { TxId } from '../types';

/**
 * The local devnet's chain: an @ton/sandbox blockchain whose time follows the wall clock and
 * whose whole state is on disk after every change, so it survives restarts and `kill -9`.
 *
 * Data directory:
 * - `blocks.journal`: one checksummed, fsynced record per change ("block"): the transactions it
 *   produced, in execution order (the history `getTransactions` serves), and the new state of
 *   every account they changed, with the chain's lt: the block is committed once this record is
 *   on disk;
 * - `state.json`: the sandbox snapshot (accounts, lt, time, libraries) after some block, and how
 *   many journal records it covers; replaced atomically (temp file + fsync + rename) at most once
 *   per `snapshotIntervalMs` while blocks come, and on `close()`;
 * - `network-config.boc`: the blockchain config, written once.
 *
 * A start loads state.json and replays the account states of the blocks after it, so a crash at
 * any point loses nothing that was committed. (Writing the whole snapshot after every block made
 * the devnet build a string of every account per block: its peak RSS and its time per block grew
 * with the chain.)
 */
export const DEVNET_STATE_FORMAT = 'cocoon-devnet-state';
export const DEVNET_STATE_VERSION = 1;
const FAUCET_SEED = 'cocoon-devnet-faucet';
const FAUCET_BALANCE = toNano('1000000000');

export class DevnetStateError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'DevnetStateError';
    }
}

export class FaucetRequestError extends ChainRequestError {
    constructor(message: string) {
        super(message, 400);
        this.name = 'FaucetRequestError';
    }
}

type SerializableSnapshot = ReturnType<typeof snapshotToSerializable>;

interface StateFile {
    format: typeof DEVNET_STATE_FORMAT;
    version: number;
    seqno: number;
    blocks: number;
    time: number;
    faucet: string;
    snapshot: SerializableSnapshot;
}

type SerializableContract = SerializableSnapshot['contracts'][number];

interface BlockRecord {
    seqno: number;
    time: number;
    txs: { account: string; boc: string }[];
    /** The chain's lt after the block (absent in blocks written before account states were journalled). */
    lt?: string;
    /** The new state of every account the block's transactions changed. */
    accounts?: SerializableContract[];
}

export interface DevnetOptions {
    dataDir: string;
    /** Largest faucet grant per request, nanoTON (default 10 000 TON). */
    faucetMax?: bigint;
    /** Write state.json at most this often while blocks come (default 5 000 ms; 0: after every block). */
    snapshotIntervalMs?: number;
}

export interface FeeEstimate {
    inFwdFee: bigint;
    storageFee: bigint;
    gasFee: bigint;
    fwdFee: bigint;
}

export class Devnet {
    private queue: Promise<unknown> = Promise.resolve();
    private closed = false;
    /** Set when a block could not be persisted: memory is then ahead of disk, so nothing more is served. */
    private failure: Error | undefined;
    /** Blocks covered by state.json on disk (the rest are replayed from the journal at start). */
    private snapshotBlocks: number;
    private snapshotTimer: NodeJS.Timeout | undefined;
    private snapshotIntervalMs = 5_000;
    /** Chain time of the last committed block. */
    private lastBlockTime = 0;

    private constructor(
        readonly dataDir: string,
        readonly chain: SandboxChain,
        private readonly journal: Journal,
        private readonly faucetWallet: SandboxContract<TreasuryContract>,
        private blocks: number,
        private seqnoValue: number,
        readonly faucetMax: bigint,
        /** True when this start found and dropped a block whose state a crash never saved. */
        readonly recoveredFromCrash: boolean,
    ) {
        this.snapshotBlocks = blocks;
    }

    static async open(options: DevnetOptions): Promise<Devnet> {
        const dataDir = resolve(options.dataDir);
        mkdirSync(dataDir, { recursive: true });
        const journal = Journal.open(join(dataDir, 'blocks.journal'));
        try {
            const statePath = join(dataDir, 'state.json');
            const configPath = join(dataDir, 'network-config.boc');
            const faucetMax = options.faucetMax ?? toNano('10000');
            if (!existsSync(statePath)) {
                // Nothing was ever committed (or creation was interrupted): start a new chain.
                if (journal.recordsAtOpen.length > 0) journal.truncateToRecords(0);
                const blockchain = await Blockchain.create();
                writeFileAtomic(configPath, blockchain.config.toBoc());
                const chain = new SandboxChain(blockchain, { clock: 'wall', drainSandboxTransactions: true });
                chain.tick();
                const faucet = await blockchain.treasury(FAUCET_SEED, { balance: FAUCET_BALANCE });
                const devnet = new Devnet(dataDir, chain, journal, faucet, 0, 0, faucetMax, false);
                devnet.snapshotIntervalMs = options.snapshotIntervalMs ?? devnet.snapshotIntervalMs;
                await devnet.commitBlock(true);
                devnet.writeSnapshot();
                return devnet;
            }
            const state = readState(statePath);
            const records = journal.recordsAtOpen;
            if (records.length < state.blocks) {
                throw new DevnetStateError(
                    `devnet data in ${dataDir} is inconsistent: state.json covers ${state.blocks} blocks but blocks.journal holds ${records.length}. ` +
                        'Delete the directory to start a fresh devnet.',
                );
            }
            // Blocks after the snapshot carry the accounts they changed: replay them onto it. A block
            // from before that format (no account states) cannot be replayed and is dropped, as before.
            const blocks = records.map((record) => JSON.parse(record.toString('utf8')) as BlockRecord);
            let usable = blocks.length;
            for (let i = state.blocks; i < blocks.length; i++) {
                if (blocks[i].accounts === undefined || blocks[i].lt === undefined) {
                    usable = i;
                    break;
                }
            }
            const recovered = usable < blocks.length;
            if (recovered) journal.truncateToRecords(usable);
            journal.releaseRecordsAtOpen();
            const contracts = new Map(state.snapshot.contracts.map((c) => [c.address, c]));
            let lt = state.snapshot.lt;
            let time = state.time;
            let seqno = state.seqno;
            for (const block of blocks.slice(state.blocks, usable)) {
                for (const account of block.accounts!) contracts.set(account.address, account);
                lt = block.lt!;
                time = block.time;
                seqno = block.seqno;
            }
            const config = Cell.fromBoc(readFileSync(configPath))[0];
            const blockchain = await Blockchain.create({ config });
            await blockchain.loadFrom(
                snapshotFromSerializable({ ...state.snapshot, contracts: [...contracts.values()], lt, networkConfig: config.toBoc().toString('base64'), transactions: [] }),
            );
            const chain = new SandboxChain(blockchain, { clock: 'wall', drainSandboxTransactions: true });
            for (const block of blocks.slice(0, usable)) {
                for (const { account, boc } of block.txs) {
                    chain.index.add(Address.parseRaw(account), loadTransaction(Cell.fromBase64(boc).beginParse()));
                }
            }
            chain.minimumTime = time;
            chain.tick();
            const faucet = await blockchain.treasury(FAUCET_SEED, { balance: FAUCET_BALANCE });
            if (!faucet.address.equals(Address.parse(state.faucet))) throw new DevnetStateError('devnet faucet address changed; the data directory is from another version');
            chain.takeNewTransactions();
            const devnet = new Devnet(dataDir, chain, journal, faucet, usable, seqno, faucetMax, recovered);
            devnet.snapshotBlocks = state.blocks;
            devnet.lastBlockTime = time;
            devnet.snapshotIntervalMs = options.snapshotIntervalMs ?? devnet.snapshotIntervalMs;
            // Fold the replayed blocks into state.json now, so the next start replays nothing.
            if (usable > state.blocks) devnet.writeSnapshot();
            return devnet;
        } catch (error) {
            journal.close();
            throw error;
        }
    }

    get seqno(): number {
        return this.seqnoValue;
    }

    get faucetAddress(): Address {
        return this.faucetWallet.address;
    }

    /** Runs `operation` alone (requests are served one at a time, like blocks), then persists what it changed. */
    exclusive<T>(operation: () => Promise<T>): Promise<T> {
        const run = this.queue.then(async () => {
            if (this.failure) throw new DevnetStateError(`devnet stopped serving after a failed write (${this.failure.message}); restart it`);
            if (this.closed) throw new DevnetStateError('devnet is shut down');
            this.chain.tick();
            try {
                return await operation();
            } finally {
                try {
                    await this.commitBlock(false);
                } catch (error) {
                    this.failure = error as Error;
                    throw error;
                }
            }
        });
        this.queue = run.catch(() => undefined);
        return run;
    }

    /** Broadcasts an external message; its whole cascade runs in this block. */
    sendBoc(boc: Buffer): Promise<{ hash: Buffer; normalizedHash: Buffer }> {
        return this.exclusive(async () => {
            const { normalizedHash } = await this.chain.sendExternal(boc);
            const message = parseExternalBoc(boc);
            return { hash: beginCell().store(storeMessage(message)).endCell().hash(), normalizedHash };
        });
    }

    /** Sends `amount` nanoTON from the faucet wallet to `address` (non-bounceable, so it funds undeployed wallets). */
    async faucet(address: Address, amount: bigint): Promise<{ amount: bigint; transaction: TxId }> {
        if (amount <= 0n) throw new FaucetRequestError('faucet amount must be positive (nanoTON)');
        if (amount > this.faucetMax) {
            throw new FaucetRequestError(`faucet grants at most ${this.faucetMax} nanoTON per request; asked for ${amount}`);
        }
        return this.exclusive(async () => {
            const result = await this.faucetWallet.send({ to: address, value: amount, bounce: false });
            const credit = result.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(address));
            if (!credit) throw new DevnetStateError('faucet transfer produced no transaction on the recipient');
            return { amount, transaction: { lt: credit.lt, hash: credit.hash() } };
        });
    }

    /** Emulates an external message on a copy of the state and reports its fees; nothing is kept. */
    estimateFee(args: { address: Address; body: Cell; initCode?: Cell | null; initData?: Cell | null; ignoreSignature: boolean }): Promise<FeeEstimate> {
        return this.exclusive(async () => {
            const blockchain = this.chain.blockchain;
            const snapshot = blockchain.snapshot();
            try {
                const init = args.initCode && args.initData ? { code: args.initCode, data: args.initData } : undefined;
                let result;
                try {
                    result = await blockchain.sendMessage(external({ to: args.address, init, body: args.body }), { ignoreChksig: args.ignoreSignature });
                } catch (error) {
                    if (error instanceof EmulationError) {
                        throw new ExternalMessageRejectedError(`cannot apply external message to current state: ${error.error}`, error.exitCode);
                    }
                    throw error;
                }
                return feesOf(result.transactions[0]);
            } finally {
                await blockchain.loadFrom(snapshot);
            }
        });
    }

    /** Set if persisting a block failed; the devnet then refuses every request until restarted. */
    get fatalError(): Error | undefined {
        return this.failure;
    }

    /** Waits for the request in progress and releases the data directory. */
    async close(): Promise<void> {
        await this.queue;
        this.closed = true;
        if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
        this.snapshotTimer = undefined;
        try {
            // A clean stop leaves state.json covering every block (nothing to replay at the next start).
            if (!this.failure && this.snapshotBlocks < this.blocks) this.writeSnapshot();
        } finally {
            this.journal.close();
        }
    }

    /** Blocks committed but not yet in state.json (replayed from blocks.journal after a crash). */
    get blocksSinceSnapshot(): number {
        return this.blocks - this.snapshotBlocks;
    }

    /** Commits the transactions of the operation just run as one block: its journal record is the commit point. */
    private async commitBlock(force: boolean): Promise<void> {
        const fresh = this.chain.takeNewTransactions();
        if (fresh.length === 0 && !force) return;
        const time = this.chain.tick();
        const seqno = this.seqnoValue + 1;
        const blockchain = this.chain.blockchain;
        const touched = [...new Set(fresh.map(({ account }) => account.toRawString()))];
        const contracts = await Promise.all(touched.map(async (raw) => (await blockchain.getContract(Address.parseRaw(raw))).snapshot()));
        const serialized = snapshotToSerializable({
            contracts,
            networkConfig: '',
            lt: blockchain.lt,
            verbosity: blockchain.verbosity,
            nextCreateWalletIndex: 0,
            autoDeployLibs: false,
            transactions: [],
        });
        const record: BlockRecord = {
            seqno,
            time,
            txs: fresh.map(({ account, tx }) => ({ account: account.toRawString(), boc: tx.raw.toBoc().toString('base64') })),
            lt: serialized.lt,
            accounts: serialized.contracts,
        };
        this.journal.append(Buffer.from(JSON.stringify(record)));
        this.blocks += 1;
        this.seqnoValue = seqno;
        this.lastBlockTime = time;
        this.scheduleSnapshot();
    }

    private scheduleSnapshot(): void {
        if (this.snapshotIntervalMs <= 0) {
            this.writeSnapshot();
            return;
        }
        if (this.snapshotTimer) return;
        this.snapshotTimer = setTimeout(() => {
            this.snapshotTimer = undefined;
            // Between two requests, never in the middle of one: the snapshot is of a whole block.
            this.queue = this.queue.then(() => {
                if (this.closed || this.failure || this.snapshotBlocks === this.blocks) return;
                try {
                    this.writeSnapshot();
                } catch (error) {
                    // The journal holds every block: a failed snapshot only means more to replay at the next start.
                    process.emitWarning(`devnet: could not write state.json (${(error as Error).message}); blocks.journal still holds every block`);
                }
            });
        }, this.snapshotIntervalMs);
        this.snapshotTimer.unref();
    }

    /** Replaces state.json with the whole state after the last committed block (atomic rename). */
    private writeSnapshot(): void {
        const snapshot = this.chain.blockchain.snapshot();
        const state: StateFile = {
            format: DEVNET_STATE_FORMAT,
            version: DEVNET_STATE_VERSION,
            seqno: this.seqnoValue,
            blocks: this.blocks,
            time: this.lastBlockTime,
            faucet: this.faucetWallet.address.toRawString(),
            snapshot: snapshotToSerializable({ ...snapshot, networkConfig: '', transactions: [] }),
        };
        writeFileAtomic(join(this.dataDir, 'state.json'), JSON.stringify(state));
        this.snapshotBlocks = this.blocks;
    }
}

function readState(path: string): StateFile {
    let state: StateFile;
    try {
        state = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    } catch (error) {
        throw new DevnetStateError(`${path} is unreadable (${(error as Error).message}); delete the data directory to start a fresh devnet`);
    }
    if (state.format !== DEVNET_STATE_FORMAT || state.version !== DEVNET_STATE_VERSION) {
        throw new DevnetStateError(`${path} is not devnet state version ${DEVNET_STATE_VERSION}; use a new data directory`);
    }
    return state;
}

function feesOf(tx: Transaction | undefined): FeeEstimate {
    if (!tx || tx.description.type !== 'generic') return { inFwdFee: 0n, storageFee: 0n, gasFee: 0n, fwdFee: 0n };
    const d = tx.description;
    const gasFee = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n;
    const storageFee = d.storagePhase?.storageFeesCollected ?? 0n;
    const actionFees = d.actionPhase?.totalActionFees ?? 0n;
    const fwdFee = d.actionPhase?.totalFwdFees ?? 0n;
    const inFwdFee = tx.totalFees.coins - gasFee - storageFee - actionFees;
    return { inFwdFee: inFwdFee > 0n ? inFwdFee : 0n, storageFee, gasFee, fwdFee };
}

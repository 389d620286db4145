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
 *   produced, in execution order (the history `getTransactions` serves);
 * - `state.json`: the sandbox snapshot (accounts, lt, time, libraries) after the last block, and
 *   how many journal records it covers; replaced atomically (temp file + fsync + rename);
 * - `network-config.boc`: the blockchain config, written once.
 *
 * A change appends its block first, then replaces state.json. A crash between the two leaves a
 * journal record whose state was never saved; the next start drops it, so history and state
 * always agree.
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

interface BlockRecord {
    seqno: number;
    time: number;
    txs: { account: string; boc: string }[];
}

export interface DevnetOptions {
    dataDir: string;
    /** Largest faucet grant per request, nanoTON (default 10 000 TON). */
    faucetMax?: bigint;
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
    ) {}

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
                devnet.commitBlock(true);
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
            const recovered = records.length > state.blocks;
            if (recovered) journal.truncateToRecords(state.blocks);
            const config = Cell.fromBoc(readFileSync(configPath))[0];
            const blockchain = await Blockchain.create({ config });
            await blockchain.loadFrom(snapshotFromSerializable({ ...state.snapshot, networkConfig: config.toBoc().toString('base64'), transactions: [] }));
            const chain = new SandboxChain(blockchain, { clock: 'wall', drainSandboxTransactions: true });
            for (const record of records.slice(0, state.blocks)) {
                const block = JSON.parse(record.toString('utf8')) as BlockRecord;
                for (const { account, boc } of block.txs) {
                    chain.index.add(Address.parseRaw(account), loadTransaction(Cell.fromBase64(boc).beginParse()));
                }
            }
            chain.minimumTime = state.time;
            chain.tick();
            const faucet = await blockchain.treasury(FAUCET_SEED, { balance: FAUCET_BALANCE });
            if (!faucet.address.equals(Address.parse(state.faucet))) throw new DevnetStateError('devnet faucet address changed; the data directory is from another version');
            chain.takeNewTransactions();
            return new Devnet(dataDir, chain, journal, faucet, state.blocks, state.seqno, faucetMax, recovered);
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
                    this.commitBlock(false);
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
        this.journal.close();
    }

    private commitBlock(force: boolean): void {
        const fresh = this.chain.takeNewTransactions();
        if (fresh.length === 0 && !force) return;
        const time = this.chain.tick();
        const seqno = this.seqnoValue + 1;
        const record: BlockRecord = {
            seqno,
            time,
            txs: fresh.map(({ account, tx }) => ({ account: account.toRawString(), boc: tx.raw.toBoc().toString('base64') })),
        };
        this.journal.append(Buffer.from(JSON.stringify(record)));
        const snapshot = this.chain.blockchain.snapshot();
        const state: StateFile = {
            format: DEVNET_STATE_FORMAT,
            version: DEVNET_STATE_VERSION,
            seqno,
            blocks: this.blocks + 1,
            time,
            faucet: this.faucetWallet.address.toRawString(),
            snapshot: snapshotToSerializable({ ...snapshot, networkConfig: '', transactions: [] }),
        };
        writeFileAtomic(join(this.dataDir, 'state.json'), JSON.stringify(state));
        this.blocks += 1;
        this.seqnoValue = seqno;
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

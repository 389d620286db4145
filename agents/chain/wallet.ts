import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { Address, beginCell, Cell, external, MessageRelaxed, SendMode, StateInit, storeMessage } from '@ton/core';
import { mnemonicToPrivateKey, mnemonicValidate } from '@ton/crypto';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { ed25519FromSeed, ed25519Sign } from '../core/ed25519';
import { Chain } from './types';

/**
 * The agents' gas wallets: a standard wallet contract (v4 or v5r1) whose key comes from a
 * mnemonic in a file or an environment variable. The words and the key are never logged:
 * errors name the source, not its content, and the key object redacts itself in JSON and inspect.
 */
export type WalletVersion = 'v4' | 'v5r1';

export class WalletConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'WalletConfigError';
    }
}

export interface MnemonicSource {
    /** Path of a file holding the 24 words (whitespace separated). */
    file?: string;
    /** Name of an environment variable holding the words (default COCOON_WALLET_MNEMONIC when no file is given). */
    envVar?: string;
}

export const DEFAULT_MNEMONIC_ENV = 'COCOON_WALLET_MNEMONIC';

export async function loadMnemonic(source: MnemonicSource, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
    let text: string;
    let where: string;
    if (source.file) {
        where = `mnemonic file ${source.file}`;
        try {
            text = readFileSync(source.file, 'utf8');
        } catch (error) {
            throw new WalletConfigError(`cannot read ${where}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        const mode = statSync(source.file).mode & 0o077;
        if (mode !== 0 && process.platform !== 'win32') {
            // Readable by others: still usable on a dev machine, but say so (without the words).
            process.emitWarning(`${where} is readable by other users; chmod 600 it`, { code: 'COCOON_MNEMONIC_PERMISSIONS' });
        }
    } else {
        const name = source.envVar ?? DEFAULT_MNEMONIC_ENV;
        where = `environment variable ${name}`;
        const value = env[name];
        if (!value) throw new WalletConfigError(`${where} is not set; put the wallet's 24 words there or pass a mnemonic file`);
        text = value;
    }
    const words = text.trim().split(/\s+/).filter(Boolean);
    if (words.length !== 24) throw new WalletConfigError(`${where} must hold 24 words, it holds ${words.length}`);
    if (!(await mnemonicValidate(words))) throw new WalletConfigError(`${where} is not a valid TON mnemonic (checksum failed); check the words`);
    return words;
}

/** Holds the wallet key; `sign` is the only way to use it. */
export class WalletKey {
    readonly #seed: Buffer;
    readonly publicKey: Buffer;

    constructor(seed: Buffer) {
        this.#seed = Buffer.from(seed.subarray(0, 32));
        this.publicKey = ed25519FromSeed(this.#seed).publicKey;
    }

    static async fromMnemonic(words: string[]): Promise<WalletKey> {
        const keyPair = await mnemonicToPrivateKey(words);
        return new WalletKey(keyPair.secretKey.subarray(0, 32));
    }

    sign(hash: Buffer): Buffer {
        return ed25519Sign(hash, this.#seed);
    }

    toJSON(): object {
        return { publicKey: this.publicKey.toString('hex') };
    }

    [inspect.custom](): string {
        return `WalletKey(publicKey=${this.publicKey.toString('hex')}, secret redacted)`;
    }
}

export interface WalletOptions {
    version?: WalletVersion;
    workchain?: number;
    /** v4 wallet id / v5r1 subwallet number (default: the standard 698983191 for v4, 0 for v5r1). */
    subwallet?: number;
    /** v5r1 only: network global id in the wallet id (-239 mainnet, -3 testnet; default -239). */
    networkGlobalId?: number;
}

export class Wallet {
    private constructor(
        readonly key: WalletKey,
        readonly version: WalletVersion,
        private readonly contract: WalletContractV4 | WalletContractV5R1,
    ) {}

    static fromKey(key: WalletKey, options: WalletOptions = {}): Wallet {
        const version = options.version ?? 'v4';
        const workchain = options.workchain ?? 0;
        if (version === 'v4') {
            return new Wallet(key, version, WalletContractV4.create({ workchain, publicKey: key.publicKey, walletId: options.subwallet }));
        }
        if (version === 'v5r1') {
            const contract = WalletContractV5R1.create({
                publicKey: key.publicKey,
                walletId: { networkGlobalId: options.networkGlobalId ?? -239, context: { workchain, subwalletNumber: options.subwallet ?? 0, walletVersion: 'v5r1' } },
            });
            return new Wallet(key, version, contract);
        }
        throw new WalletConfigError(`unknown wallet version "${version}" (v4 or v5r1)`);
    }

    static async fromMnemonic(words: string[], options: WalletOptions = {}): Promise<Wallet> {
        return Wallet.fromKey(await WalletKey.fromMnemonic(words), options);
    }

    static async load(source: MnemonicSource, options: WalletOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<Wallet> {
        return Wallet.fromMnemonic(await loadMnemonic(source, env), options);
    }

    get address(): Address {
        return this.contract.address;
    }

    get init(): StateInit {
        return this.contract.init;
    }

    /** The wallet's seqno; 0 while it is not deployed. */
    async getSeqno(chain: Chain): Promise<number> {
        const account = await chain.getAccount(this.address);
        if (account.status !== 'active') return 0;
        const result = await chain.runGetMethod(this.address, 'seqno');
        if (result.exitCode !== 0) throw new Error(`seqno get-method of wallet ${this.address.toString()} failed with exit code ${result.exitCode}`);
        return result.stack.readNumber();
    }

    /**
     * A signed external message, serialized. It can land at most once (seqno) and only until
     * `validUntil` (unix seconds); `deploy` attaches the StateInit for a wallet's first message.
     */
    async createTransfer(args: { seqno: number; validUntil: number; messages: MessageRelaxed[]; deploy: boolean; sendMode?: SendMode }): Promise<Buffer> {
        const sendMode = args.sendMode ?? SendMode.PAY_GAS_SEPARATELY + SendMode.IGNORE_ERRORS;
        const signer = async (cell: Cell) => this.key.sign(cell.hash());
        const body =
            this.contract instanceof WalletContractV4
                ? await this.contract.createTransfer({ seqno: args.seqno, messages: args.messages, sendMode, timeout: args.validUntil, signer })
                : await this.contract.createTransfer({ seqno: args.seqno, messages: args.messages, sendMode, timeout: args.validUntil, signer });
        const message = external({ to: this.address, init: args.deploy ? this.init : undefined, body });
        return beginCell().store(storeMessage(message)).endCell().toBoc();
    }

    toJSON(): object {
        return { address: this.address.toString(), version: this.version, publicKey: this.key.publicKey.toString('hex') };
    }

    [inspect.custom](): string {
        return `Wallet(${this.version} ${this.address.toString()})`;
    }
}

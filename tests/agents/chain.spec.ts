import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, internal, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { AccountNotActiveError, ExternalMessageRejectedError, TransactionNotFoundError } from '../../agents/chain/errors';
import { normalizedExternalHash } from '../../agents/chain/messages';
import { SandboxChain } from '../../agents/chain/sandbox';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Chain, txIdOf } from '../../agents/chain/types';
import { byInternalMessage, byNormalizedHash, TransactionWaitTimeoutError, waitForTransaction } from '../../agents/chain/wait';
import { Wallet } from '../../agents/chain/wallet';
import { faucet, startDevnet } from './helpers/devnet-process';

jest.setTimeout(120_000);

interface Harness {
    chain: Chain;
    fund(address: Address, amount: bigint): Promise<void>;
    close(): Promise<void>;
}

const implementations: [string, () => Promise<Harness>][] = [
    [
        'SandboxChain (in-process @ton/sandbox)',
        async () => {
            const chain = await SandboxChain.create();
            const funder = await chain.blockchain.treasury('funder');
            return { chain, fund: async (address, value) => void (await funder.send({ to: address, value, bounce: false })), close: async () => undefined };
        },
    ],
    [
        'ToncenterChain over the devnet (toncenter v2 HTTP, separate process)',
        async () => {
            const dataDir = mkdtempSync(join(tmpdir(), 'cocoon-chain-'));
            const devnet = await startDevnet({ dataDir });
            return {
                chain: new ToncenterChain({ endpoint: devnet.jsonRpc }),
                fund: (address, value) => faucet(devnet.url, address.toString(), value),
                close: async () => {
                    await devnet.stop();
                    rmSync(dataDir, { recursive: true, force: true });
                },
            };
        },
    ],
];

describe.each(implementations)('%s implements the Chain interface', (_name, setup) => {
    let h: Harness;
    let wallet: Wallet;
    let deployBoc: Buffer;
    beforeAll(async () => {
        h = await setup();
        wallet = await Wallet.fromMnemonic(await mnemonicNew(), { version: 'v5r1' });
    });
    afterAll(() => h.close());

    it('reports an unknown account as nonexistent and a funded undeployed one as uninit', async () => {
        expect((await h.chain.getAccount(wallet.address)).status).toBe('nonexist');
        await h.fund(wallet.address, toNano('10'));
        const account = await h.chain.getAccount(wallet.address);
        expect(account.status).toBe('uninit');
        expect(account.balance).toBeGreaterThan(toNano('9.99'));
        await expect(h.chain.runGetMethod(wallet.address, 'seqno')).rejects.toThrow(AccountNotActiveError);
        expect(await wallet.getSeqno(h.chain)).toBe(0);
    });

    it('deploys a wallet with an external message and runs its get-methods', async () => {
        const now = await h.chain.now();
        expect(Math.abs(now - Date.now() / 1000)).toBeLessThan(600);
        deployBoc = await wallet.createTransfer({
            seqno: 0,
            validUntil: now + 60,
            deploy: true,
            messages: [internal({ to: new Address(0, Buffer.alloc(32, 3)), value: toNano('1'), bounce: false, body: 'first' })],
        });
        const { normalizedHash } = await h.chain.sendExternal(deployBoc);
        const account = await h.chain.getAccount(wallet.address);
        expect(account.status).toBe('active');
        expect(account.code).not.toBeNull();
        expect(await wallet.getSeqno(h.chain)).toBe(1);
        const key = await h.chain.runGetMethod(wallet.address, 'get_public_key');
        expect(key.exitCode).toBe(0);
        expect(key.stack.readBigNumber()).toBe(BigInt('0x' + wallet.key.publicKey.toString('hex')));
        expect((await h.chain.runGetMethod(wallet.address, 'no_such_method')).exitCode).toBe(11);

        const [tx] = await h.chain.getTransactions(wallet.address, { limit: 1 });
        expect(normalizedExternalHash(tx.inMessage!).equals(normalizedHash)).toBe(true);
        expect(account.lastTransaction).toEqual(txIdOf(tx));
    });

    it('refuses the same signed bytes a second time (the seqno is spent) and moves no money', async () => {
        const before = (await h.chain.getAccount(wallet.address)).balance;
        await expect(h.chain.sendExternal(deployBoc)).rejects.toThrow(ExternalMessageRejectedError);
        expect((await h.chain.getAccount(wallet.address)).balance).toBe(before);
        await expect(h.chain.sendExternal(Buffer.from('garbage'))).rejects.toThrow(/BOC/);
    });

    it('pages an account history newest first, from an inclusive (lt, hash) cursor', async () => {
        for (let seqno = 1; seqno <= 3; seqno++) {
            const boc = await wallet.createTransfer({
                seqno,
                validUntil: (await h.chain.now()) + 60,
                deploy: false,
                messages: [internal({ to: new Address(0, Buffer.alloc(32, 3)), value: toNano('0.1'), bounce: false, body: `n${seqno}` })],
            });
            await h.chain.sendExternal(boc);
        }
        const all = await h.chain.getTransactions(wallet.address, { limit: 100 });
        expect(all.length).toBe(5); // funding, deploy, three transfers
        for (let i = 1; i < all.length; i++) expect(all[i - 1].lt > all[i].lt).toBe(true);
        const page = await h.chain.getTransactions(wallet.address, { limit: 2, from: txIdOf(all[2]) });
        expect(page.map((t) => t.lt)).toEqual([all[2].lt, all[3].lt]);
        await expect(h.chain.getTransactions(wallet.address, { limit: 2, from: { lt: all[2].lt, hash: Buffer.alloc(32) } })).rejects.toThrow(TransactionNotFoundError);
        await expect(h.chain.getTransactions(wallet.address, { limit: 101 })).rejects.toThrow(/1\.\.100/);
    });

    it('waits for the transaction a message caused, by normalized hash or by in-message', async () => {
        const seqno = await wallet.getSeqno(h.chain);
        const boc = await wallet.createTransfer({
            seqno,
            validUntil: (await h.chain.now()) + 60,
            deploy: false,
            messages: [internal({ to: new Address(0, Buffer.alloc(32, 3)), value: toNano('0.1'), bounce: false })],
        });
        const { normalizedHash } = await h.chain.sendExternal(boc);
        const tx = await waitForTransaction(h.chain, wallet.address, byNormalizedHash(normalizedHash), { timeoutMs: 10_000, pollIntervalMs: 100 });
        expect(tx.inMessage?.info.type).toBe('external-in');
        const [first] = (await h.chain.getTransactions(wallet.address, { limit: 100 })).slice(-1);
        // The oldest transaction is the funding transfer: an internal message, from the funder only.
        const funder = (first.inMessage!.info as { src: Address }).src;
        expect(byInternalMessage({ from: funder })(first)).toBe(true);
        expect(byInternalMessage({ from: new Address(0, Buffer.alloc(32, 9)) })(first)).toBe(false);
        expect(byInternalMessage({ from: funder })(tx)).toBe(false);
        await expect(
            waitForTransaction(h.chain, wallet.address, byNormalizedHash(Buffer.alloc(32)), { timeoutMs: 300, pollIntervalMs: 100 }),
        ).rejects.toThrow(TransactionWaitTimeoutError);
    });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { sealRequest } from '../../agents/core/envelope';
import { IdempotentSender } from '../../agents/chain/sender';
import { Wallet } from '../../agents/chain/wallet';
import { JournalStore } from '../../agents/store/store';
import { bytesToSnakeCell, ChannelManager, snakeCellToBytes } from '../../agents/client/channels';
import { CocoonClient } from '../../agents/client/client';
import { ChannelError, InsufficientDepositError } from '../../agents/client/errors';
import { ClientLedger, walletDerivedVoucherKeys } from '../../agents/client/ledger';
import { bufferToUint256, sha256 } from '../../agents/client/receipts';
import { Channel, CHANNEL_CLOSED, CHANNEL_CLOSING, CHANNEL_OPEN, eventsOf, JOB_COMMITTED, ONCHAIN_SEQ_BASE, OPEN_FEE, signReceipt, Worker } from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { MODEL_A, snapshotOf } from '../helpers/cocoon';
import { AttestedWorker, ClientNetwork, createClientNetwork, registerAttestedWorker } from './helpers';

jest.setTimeout(120_000);

describe('channels: the client opens, tops up, uses on-chain and closes them on the real contracts', () => {
    let net: ClientNetwork;
    let restore: () => Promise<void>;
    let worker: AttestedWorker;
    let words: string[];
    let dir: string;
    let store: JournalStore;
    let wallet: Wallet;
    let manager: ChannelManager;
    let ledger: ClientLedger;

    beforeAll(async () => {
        net = await createClientNetwork();
        worker = await registerAttestedWorker(net, await net.blockchain.treasury('gpu-owner'));
        words = await mnemonicNew();
        wallet = await Wallet.fromMnemonic(words);
        const funder = await net.blockchain.treasury('funder');
        await funder.send({ to: wallet.address, value: toNano('100'), bounce: false });
        restore = await snapshotOf(net.blockchain);
    });

    beforeEach(async () => {
        await restore();
        dir = mkdtempSync(join(tmpdir(), 'cocoon-client-channels-'));
        store = JournalStore.open(join(dir, 'client.journal'));
        ledger = new ClientLedger(store);
        manager = new ChannelManager({
            chain: net.chain,
            wallet,
            sender: new IdempotentSender({ chain: net.chain, wallet, store, pollIntervalMs: 5 }),
            root: net.root.address,
            ledger,
            voucherKeys: walletDerivedVoucherKeys(wallet.key),
            pollIntervalMs: 5,
        });
    });

    afterEach(() => {
        store.close();
        rmSync(dir, { recursive: true, force: true });
    });

    const attested = () => ({ address: worker.address, signingKey: worker.bundle.signingKey, encryptionKey: worker.bundle.encryptionKey });
    const balance = async (address: Address) => (await net.chain.getAccount(address)).balance;

    it('opens a channel: the deposit is held, the worker keys and prices are snapshotted, the voucher key is derived from the wallet', async () => {
        const before = await balance(wallet.address);
        const record = await manager.open(attested(), toNano('5'), net.params.channel.minChannelDeposit);
        const view = (await manager.read(record.address))!;
        expect(view.state.status).toBe(CHANNEL_OPEN);
        expect(view.state.deposit).toBe(toNano('5'));
        expect(view.state.worker.equals(worker.address)).toBe(true);
        expect(view.state.clientKey).toBe(publicKeyToInt(walletDerivedVoucherKeys(wallet.key).keyFor(record.address).publicKey));
        expect(record.prices.get(MODEL_A.toString(16).padStart(64, '0'))).toEqual({ prompt: 1000n, completion: 2000n });
        expect(record.signingKey.equals(worker.bundle.signingKey)).toBe(true);
        // The wallet paid the deposit, the open fee and gas (its own deployment included); nothing more.
        const spent = before - (await balance(wallet.address));
        expect(spent).toBeGreaterThan(toNano('5') + OPEN_FEE);
        expect(spent).toBeLessThan(toNano('5') + OPEN_FEE + toNano('0.1'));
        // Opening again adopts the open channel instead of sending a second deposit.
        const again = await manager.open(attested(), toNano('5'));
        expect(again.address.equals(record.address)).toBe(true);
        expect((await manager.read(record.address))!.state.deposit).toBe(toNano('5'));
        expect(ledger.channels()).toHaveLength(1);
    });

    it('refuses a deposit below minChannelDeposit before sending anything', async () => {
        const before = await balance(wallet.address);
        await expect(manager.open(attested(), toNano('0.5'), net.params.channel.minChannelDeposit)).rejects.toThrow(InsufficientDepositError);
        expect(await balance(wallet.address)).toBe(before);
        expect((await net.chain.getAccount(await manager.channelAddress(worker.address))).status).toBe('nonexist');
    });

    it('gets the whole deposit back when the worker refuses to open (it is unbonding)', async () => {
        const owner = worker.owner;
        const w = net.blockchain.openContract(Worker.fromAddress(worker.address));
        await w.send(owner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n });
        const before = await balance(wallet.address);
        await expect(manager.open(attested(), toNano('5'))).rejects.toThrow(/refused to open/);
        const channel = await manager.channelAddress(worker.address);
        const view = (await manager.read(channel))!;
        expect(view.state.status).toBe(CHANNEL_CLOSED);
        expect(view.state.deposit).toBe(0n);
        expect(await balance(channel)).toBe(0n);
        // The deposit came back in full: only part of the open fee (the handshake's gas) was spent.
        expect(before - (await balance(wallet.address))).toBeLessThan(OPEN_FEE);
        expect(ledger.channels()).toHaveLength(0);
    });

    it('tops up an open channel by exactly the amount; refuses a top-up of a closing channel before sending anything', async () => {
        const record = await manager.open(attested(), toNano('5'));
        const state = await manager.topUp(record.address, toNano('2'));
        expect(state.deposit).toBe(toNano('7'));
        await manager.requestClose(record.address);
        const before = await balance(wallet.address);
        await expect(manager.topUp(record.address, toNano('2'))).rejects.toThrow(ChannelError);
        expect(await balance(wallet.address)).toBe(before);
        expect((await manager.read(record.address))!.state.deposit).toBe(toNano('7'));
    });

    it('closes: request, refuses to finalize before the close delay, then refunds the free deposit to the wallet', async () => {
        const record = await manager.open(attested(), toNano('5'));
        const closing = await manager.requestClose(record.address);
        expect(closing.status).toBe(CHANNEL_CLOSING);
        expect(ledger.channel(record.address)?.status).toBe('closing');
        await expect(manager.finalizeClose(record.address)).rejects.toThrow(/can be finalized from/);
        net.blockchain.now = Number(closing.closeAt);
        const before = await balance(wallet.address);
        const closed = await manager.finalizeClose(record.address);
        expect(closed.status).toBe(CHANNEL_CLOSED);
        const refunded = (await balance(wallet.address)) - before;
        expect(refunded).toBeGreaterThan(toNano('5'));
        expect(refunded).toBeLessThan(toNano('5.1'));
        expect(await balance(record.address)).toBe(0n);
        expect(ledger.channel(record.address)?.status).toBe('closed');
    });

    it("reuses a channel's view for viewCacheMs, then serves it while it is read again in the background; past five times that, it waits for the chain", async () => {
        const record = await manager.open(attested(), toNano('5'), net.params.channel.minChannelDeposit);
        let reads = 0;
        const chain = new Proxy(net.chain, {
            get(target, name, receiver) {
                const value = Reflect.get(target, name, receiver);
                if (typeof value !== 'function') return value;
                if (name !== 'getAccount') return value.bind(target);
                return (...args: unknown[]) => {
                    reads++;
                    return value.apply(target, args);
                };
            },
        });
        const viewing = new ChannelManager({ chain, wallet, sender: new IdempotentSender({ chain, wallet, store, pollIntervalMs: 5 }), root: net.root.address, ledger, voucherKeys: walletDerivedVoucherKeys(wallet.key), viewCacheMs: 200 });
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
        const first = await viewing.readRecent(record.address);
        expect(first!.state.deposit).toBe(toNano('5'));
        expect(reads).toBe(1);
        expect(await viewing.readRecent(record.address)).toBe(first); // within viewCacheMs: no chain call
        expect(reads).toBe(1);
        // The deposit changes behind this manager's back (another manager tops up).
        await manager.topUp(record.address, toNano('1'));
        await sleep(250);
        // Aged: the old view answers at once, one read starts in the background (not one per caller)...
        const [a, b] = await Promise.all([viewing.readRecent(record.address), viewing.readRecent(record.address)]);
        expect(a).toBe(first);
        expect(b).toBe(first);
        expect(reads).toBe(2);
        await Promise.all((viewing as unknown as { rereading: Map<string, Promise<void>> }).rereading.values());
        // ...and its result is what the next call gets.
        expect((await viewing.readRecent(record.address))!.state.deposit).toBe(toNano('6'));
        expect(reads).toBe(2);
        // Older than five times viewCacheMs: the caller waits for a fresh read.
        await sleep(1100);
        expect((await viewing.readRecent(record.address))!.state.deposit).toBe(toNano('6'));
        expect(reads).toBe(3);
    });

    it('carries an on-chain payload as a snake of cells, byte for byte', () => {
        for (const size of [0, 1, 127, 128, 4000]) {
            const bytes = Buffer.alloc(size, 7).map((_, i) => i % 251);
            expect(snakeCellToBytes(bytesToSnakeCell(Buffer.from(bytes))).equals(Buffer.from(bytes))).toBe(true);
        }
    });

    describe('on-chain jobs', () => {
        let client: CocoonClient;
        beforeEach(async () => {
            client = await CocoonClient.create({ chain: net.chain, root: net.root.address, wallet, stateDir: join(dir, 'sdk'), pollIntervalMs: 5 });
        });
        afterEach(() => client.close());

        async function post(channel: Address, seq: bigint, maxPayment = toNano('0.5')) {
            const input = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }));
            const sealed = sealRequest(input, { recipientKey: worker.bundle.encryptionKey, context: { channel, seq } });
            const deadline = Number(net.blockchain.now) + 300;
            client.ledger.recordOnChainJob({
                channel: channel.toRawString(),
                seq,
                model: MODEL_A,
                inputHash: sha256(input),
                maxPayment,
                deadline,
                replySecretKey: sealed.replyKeyPair.secretKey,
                status: 'posted',
                postedAt: Number(net.blockchain.now),
            });
            await client.channels.postJob(channel, { seq, model: MODEL_A, maxPayment, inputHash: bufferToUint256(sha256(input)), deadline, input: bytesToSnakeCell(sealed.envelope) });
            return { input, sealed, deadline };
        }

        it('expires a job the worker never answered and collects the timeout compensation from its stake', async () => {
            const record = await client.channels.open(attested(), toNano('5'));
            const seq = ONCHAIN_SEQ_BASE;
            const { deadline } = await post(record.address, seq);
            expect((await client.channels.read(record.address))!.state.locked).toBe(toNano('0.5'));
            expect(await client.settleOnChainJobs()).toEqual({ finalized: [], expired: [] });
            net.blockchain.now = deadline + 1;
            const stakeBefore = (await net.blockchain.getContract(worker.address)).balance;
            const walletBefore = await balance(wallet.address);
            expect(await client.settleOnChainJobs()).toEqual({ finalized: [], expired: [seq] });
            const view = (await client.channels.read(record.address))!;
            expect(view.state.locked).toBe(0n);
            expect(view.state.openJobs).toBe(0n);
            // The worker's stake paid the client the timeout slash (1 TON in dev params).
            const received = (await balance(wallet.address)) - walletBefore;
            expect(received).toBeGreaterThan(net.params.timeoutSlash - toNano('0.05'));
            expect(stakeBefore - (await net.blockchain.getContract(worker.address)).balance).toBeGreaterThanOrEqual(net.params.timeoutSlash - toNano('0.02'));
            expect(client.ledger.onChainJob(record.address, seq)?.status).toBe('expired');
            expect(client.ledger.onChainJob(record.address, seq)?.replySecretKey.length).toBe(0);
        });

        it("finalizes a committed job after the challenge window: the worker's payee is paid tokens × snapshot prices", async () => {
            const record = await client.channels.open(attested(), toNano('5'));
            const seq = ONCHAIN_SEQ_BASE;
            const { input, sealed } = await post(record.address, seq);
            // The worker's enclave answers (any relay may submit its signed receipt).
            const opened = worker.enclave.openRequest(Buffer.from(sealed.envelope), { channel: record.address, seq });
            const output = Buffer.from(JSON.stringify({ content: 'hi', finish_reason: 'stop' }));
            const receipt = signReceipt(
                { channel: record.address, seq, model: MODEL_A, inputHash: bufferToUint256(sha256(input)), resultHash: bufferToUint256(sha256(output)), promptTokens: 10n, completionTokens: 3n },
                Buffer.alloc(32, 1),
            );
            const relay = await net.blockchain.treasury('relay');
            const commit = await net.blockchain.openContract(Channel.fromAddress(record.address)).send(
                relay.getSender(),
                { value: toNano('0.1') },
                {
                    $$type: 'CommitResult',
                    queryId: 0n,
                    seq,
                    receipt: receipt.cell,
                    signature: worker.enclave.sign(receipt.cell.hash()),
                    output: bytesToSnakeCell(worker.enclave.sealResponse(output, opened)),
                },
            );
            expect(commit.transactions.flatMap((t) => eventsOf(t)).some((e) => e.$$type === 'ResultCommitted')).toBe(true);
            expect((await client.channels.job(record.address, seq))?.status).toBe(JOB_COMMITTED);
            expect(await client.settleOnChainJobs()).toEqual({ finalized: [], expired: [] });
            net.blockchain.now = Number(net.blockchain.now) + Number(net.params.channel.challengeWindow);
            const payeeBefore = await balance(worker.owner.address);
            expect(await client.settleOnChainJobs()).toEqual({ finalized: [seq], expired: [] });
            const cost = 10n * 1000n + 3n * 2000n;
            const fee = (cost * net.params.channel.protocolFeeBps) / 10000n;
            const view = (await client.channels.read(record.address))!;
            expect(view.state.locked).toBe(0n);
            expect(view.state.openJobs).toBe(0n);
            expect((await balance(worker.owner.address)) - payeeBefore).toBeGreaterThanOrEqual(cost - fee);
            expect(client.ledger.onChainJob(record.address, seq)?.status).toBe('finalized');
        });

        it('refuses to post a job with a seq that is not the next on-chain seq, and nothing stays locked', async () => {
            const record = await client.channels.open(attested(), toNano('5'));
            const before = await balance(wallet.address);
            await expect(post(record.address, 5n)).rejects.toThrow(/exit code 407, ERR_WRONG_SEQ/);
            // The value bounced back: only gas was spent.
            expect(before - (await balance(wallet.address))).toBeLessThan(toNano('0.02'));
            const view = (await client.channels.read(record.address))!;
            expect(view.state.locked).toBe(0n);
            expect(view.state.nextSeq).toBe(ONCHAIN_SEQ_BASE);
        });
    });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, internal, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { readBodyHead } from '../../agents/chain/decoders';
import { IdempotencyConflictError, IdempotentSender, newQueryId, SendOutcomeUnknownError, SenderOptions } from '../../agents/chain/sender';
import { ToncenterChain } from '../../agents/chain/toncenter';
import { Wallet } from '../../agents/chain/wallet';
import { JournalStore } from '../../agents/store/store';
import { DevnetProcess, faucet, startDevnet } from './helpers/devnet-process';
import { FaultProxy } from './helpers/fault-proxy';

jest.setTimeout(120_000);

const TEST_OP = 0x51554559;

describe('idempotent sender: a send is applied once, whatever is lost on the way', () => {
    let dir: string;
    let devnet: DevnetProcess;
    let proxy: FaultProxy;
    let direct: ToncenterChain;
    let viaProxy: ToncenterChain;
    let wallet: Wallet;
    const recipient = new Address(0, Buffer.alloc(32, 0x77));
    let stores: JournalStore[] = [];

    const openStore = (name = 'sender.journal') => {
        const store = JournalStore.open(join(dir, name));
        stores.push(store);
        return store;
    };
    const senderOn = (store: JournalStore, chain = viaProxy, extra: Partial<SenderOptions> = {}) =>
        new IdempotentSender({
            chain,
            wallet,
            store,
            ttlSeconds: 4,
            expiryMarginSeconds: 1,
            pollIntervalMs: 100,
            rebroadcastIntervalMs: 400,
            timeoutMs: 30_000,
            retry: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 4 },
            ...extra,
        });
    const payment = (queryId: bigint, amount = toNano('0.5')) =>
        internal({ to: recipient, value: amount, bounce: false, body: beginCell().storeUint(TEST_OP, 32).storeUint(queryId, 64).endCell() });
    /** How many times the recipient received the payment with this query id. */
    const deliveries = async (queryId: bigint) =>
        (await direct.getTransactions(recipient, { limit: 100 })).filter((tx) => {
            const head = tx.inMessage ? readBodyHead(tx.inMessage.body) : undefined;
            return head?.op === TEST_OP && head.queryId === queryId;
        }).length;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-sender-'));
        devnet = await startDevnet({ dataDir: join(dir, 'devnet') });
        proxy = new FaultProxy(devnet.url);
        const proxyUrl = await proxy.start();
        direct = new ToncenterChain({ endpoint: devnet.jsonRpc });
        viaProxy = new ToncenterChain({ endpoint: `${proxyUrl}/jsonRPC`, timeoutMs: 2000 });
        const mnemonicFile = join(dir, 'wallet.mnemonic');
        writeFileSync(mnemonicFile, (await mnemonicNew()).join(' '), { mode: 0o600 });
        wallet = await Wallet.load({ file: mnemonicFile });
        await faucet(devnet.url, wallet.address.toString(), toNano('100'));
    });
    afterEach(() => {
        proxy.plan = () => undefined;
        for (const s of stores) s.close();
        stores = [];
    });
    afterAll(async () => {
        await proxy?.close();
        await devnet?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    it('deploys the wallet with the first send, and answers a repeated query id with the recorded outcome', async () => {
        const sender = senderOn(openStore());
        const first = await sender.send({ queryId: 1n, messages: [payment(1n)] });
        expect(first.succeeded).toBe(true);
        expect(first.seqno).toBe(0);
        expect(await wallet.getSeqno(direct)).toBe(1);
        const again = await sender.send({ queryId: 1n, messages: [payment(1n)] });
        expect(again.transaction).toEqual(first.transaction);
        expect(await deliveries(1n)).toBe(1);
        expect(await wallet.getSeqno(direct)).toBe(1);
    });

    it('makes fresh 64-bit query ids', () => {
        const ids = new Set(Array.from({ length: 1000 }, () => newQueryId()));
        expect(ids.size).toBe(1000);
        for (const id of ids) expect(id > 0n && id < 1n << 64n).toBe(true);
    });

    it('refuses a query id reused for different messages, and sends nothing', async () => {
        const sender = senderOn(openStore());
        const seqno = await wallet.getSeqno(direct);
        await expect(sender.send({ queryId: 1n, messages: [payment(1n, toNano('7'))] })).rejects.toThrow(IdempotencyConflictError);
        expect(await wallet.getSeqno(direct)).toBe(seqno);
        expect(await deliveries(1n)).toBe(1);
    });

    it('answer lost after the chain applied the send: it looks the transaction up and does not send again', async () => {
        proxy.plan = (r) => (r.method === 'sendBoc' ? { kind: 'lose-answer', status: 502 } : undefined);
        const before = proxy.forwarded('sendBoc').length;
        const outcome = await senderOn(openStore()).send({ queryId: 2n, messages: [payment(2n)] });
        expect(outcome.succeeded).toBe(true);
        expect(proxy.forwarded('sendBoc').length - before).toBe(1);
        expect(proxy.faultsInjected('lose-answer')).toBeGreaterThanOrEqual(1);
        expect(await deliveries(2n)).toBe(1);
    });

    it('request lost before the chain saw it: it rebroadcasts the very same bytes, which land once', async () => {
        let dropped = 0;
        proxy.plan = (r) => (r.method === 'sendBoc' && dropped++ === 0 ? { kind: 'error', status: 503 } : undefined);
        const start = proxy.log.length;
        const outcome = await senderOn(openStore()).send({ queryId: 3n, messages: [payment(3n)] });
        const attempts = proxy.log.slice(start).filter((e) => e.method === 'sendBoc');
        expect(attempts.length).toBeGreaterThanOrEqual(2);
        expect(attempts[0].forwarded).toBe(false);
        const bocs = new Set(attempts.map((e) => JSON.parse(e.body).params.boc));
        expect(bocs.size).toBe(1);
        expect(outcome.resigned).toBe(0);
        expect(await deliveries(3n)).toBe(1);
    });

    it('crash with a send in flight: a new sender on the same journal resumes it without a second transfer', async () => {
        proxy.plan = (r) => (r.method === 'sendBoc' ? { kind: 'error', status: 503 } : undefined);
        const store = openStore('crash.journal');
        const crashed = senderOn(store, viaProxy, { timeoutMs: 1500 });
        await expect(crashed.send({ queryId: 4n, messages: [payment(4n)] })).rejects.toThrow(SendOutcomeUnknownError);
        expect(crashed.status(4n)).toBe('pending');
        store.close();
        stores = stores.filter((s) => s !== store);

        proxy.plan = () => undefined;
        const restarted = senderOn(openStore('crash.journal'));
        const resumed = await restarted.resume();
        expect(resumed?.queryId).toBe(4n);
        expect(await deliveries(4n)).toBe(1);
        const sendsBefore = proxy.forwarded('sendBoc').length;
        const again = await restarted.send({ queryId: 4n, messages: [payment(4n)] });
        expect(again.transaction).toEqual(resumed!.transaction);
        expect(proxy.forwarded('sendBoc').length).toBe(sendsBefore);
        expect(await deliveries(4n)).toBe(1);
    });

    it('message expired without landing: re-signed for the same seqno only after its valid-until, lands once', async () => {
        const seqno = await wallet.getSeqno(direct);
        const blockedUntil = Date.now() + 6500;
        proxy.plan = (r) => (r.method === 'sendBoc' && Date.now() < blockedUntil ? { kind: 'error', status: 503 } : undefined);
        const outcome = await senderOn(openStore()).send({ queryId: 5n, messages: [payment(5n)] });
        expect(outcome.resigned).toBeGreaterThanOrEqual(1);
        expect(outcome.seqno).toBe(seqno);
        expect(await wallet.getSeqno(direct)).toBe(seqno + 1);
        expect(await deliveries(5n)).toBe(1);
    });

    it('seqno spent by another sender on the same wallet: re-signed for the next seqno, each send lands once', async () => {
        let blocked = true;
        proxy.plan = (r) => (r.method === 'sendBoc' && blocked ? { kind: 'error', status: 503 } : undefined);
        const sendsBefore = proxy.log.filter((e) => e.method === 'sendBoc').length;
        const a = senderOn(openStore('a.journal')).send({ queryId: 6n, messages: [payment(6n)] });
        while (proxy.log.filter((e) => e.method === 'sendBoc').length === sendsBefore) await new Promise((r) => setTimeout(r, 20));
        const b = await senderOn(openStore('b.journal'), direct).send({ queryId: 7n, messages: [payment(7n)] });
        blocked = false;
        const outcomeA = await a;
        expect(outcomeA.resigned).toBeGreaterThanOrEqual(1);
        expect(outcomeA.seqno).toBe(b.seqno + 1);
        expect(await deliveries(6n)).toBe(1);
        expect(await deliveries(7n)).toBe(1);
    });
});

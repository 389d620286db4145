import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, comment, external, internal, storeMessage, toNano } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { TonClient, WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { DevnetProcess, faucet, startDevnet } from './helpers/devnet-process';

jest.setTimeout(120_000);

async function rpc(url: string, body: unknown, path = '/jsonRPC'): Promise<{ status: number; json: any }> {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe('cocoon devnet: a sandbox chain served over the toncenter v2 API, as a separate process', () => {
    let dataDir: string;
    let devnet: DevnetProcess;
    const owner = keyPairFromSeed(Buffer.alloc(32, 1));
    const wallet = WalletContractV4.create({ workchain: 0, publicKey: owner.publicKey });
    const recipient = WalletContractV5R1.create({ publicKey: keyPairFromSeed(Buffer.alloc(32, 2)).publicKey });

    beforeAll(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'cocoon-devnet-'));
        devnet = await startDevnet({ dataDir });
    });
    afterAll(async () => {
        await devnet?.stop();
        rmSync(dataDir, { recursive: true, force: true });
    });

    it('funds a dev wallet from the faucet, deploys it, runs its get-methods and follows its transactions with TonClient', async () => {
        const client = new TonClient({ endpoint: devnet.jsonRpc });
        expect((await client.getContractState(wallet.address)).state).toBe('uninitialized');
        await faucet(devnet.url, wallet.address.toString(), toNano('50'));
        expect(await client.getBalance(wallet.address)).toBe(toNano('50'));

        const opened = client.open(wallet);
        expect(await opened.getSeqno()).toBe(0);
        // The first transfer deploys the wallet (TonClient attaches the StateInit).
        await opened.sendTransfer({ seqno: 0, secretKey: owner.secretKey, messages: [internal({ to: recipient.address, value: toNano('1'), bounce: false, body: 'hello devnet' })] });
        expect(await client.isContractDeployed(wallet.address)).toBe(true);
        expect(await opened.getSeqno()).toBe(1);
        const publicKey = await client.runMethod(wallet.address, 'get_public_key');
        expect(publicKey.stack.readBigNumber()).toBe(BigInt('0x' + owner.publicKey.toString('hex')));
        // An undeployed recipient pays a little storage on arrival.
        const received = await client.getBalance(recipient.address);
        expect(received).toBeGreaterThan(toNano('0.99'));
        expect(received).toBeLessThanOrEqual(toNano('1'));

        const txs = await client.getTransactions(recipient.address, { limit: 10 });
        expect(txs).toHaveLength(1);
        const inMsg = txs[0].inMessage!;
        expect(inMsg.info.src?.toString()).toBe(wallet.address.toString());
        expect(inMsg.body.beginParse().skip(32).loadStringTail()).toBe('hello devnet');

        const walletTxs = await client.getTransactions(wallet.address, { limit: 10 });
        expect(walletTxs.map((t) => t.inMessage?.info.type)).toEqual(['external-in', 'internal']);
        // (lt, hash) paging through TonClient's provider: the page starts at the cursor, inclusive.
        const provider = client.provider(wallet.address);
        const page = await provider.getTransactions(wallet.address, walletTxs[1].lt, walletTxs[1].hash(), 10);
        expect(page).toHaveLength(1);
        expect(page[0].hash().equals(walletTxs[1].hash())).toBe(true);
        const exclusive = await client.getTransactions(wallet.address, { limit: 10, lt: walletTxs[0].lt.toString(), hash: walletTxs[0].hash().toString('base64') });
        expect(exclusive.map((t) => t.lt)).toEqual([walletTxs[1].lt]);
    });

    it('follows the wall clock: account sync time and transaction times are now', async () => {
        const client = new TonClient({ endpoint: devnet.jsonRpc });
        const state = await client.getContractState(wallet.address);
        expect(Math.abs(state.timestampt - Date.now() / 1000)).toBeLessThan(5);
        const [latest] = await client.getTransactions(wallet.address, { limit: 1 });
        expect(Math.abs(latest.now - Date.now() / 1000)).toBeLessThan(60);
        const info = await client.getMasterchainInfo();
        expect(info.latestSeqno).toBeGreaterThan(1);
    });

    it('estimates the fee of an external message without applying it', async () => {
        const client = new TonClient({ endpoint: devnet.jsonRpc });
        const opened = client.open(wallet);
        const seqno = await opened.getSeqno();
        const transfer = opened.createTransfer({ seqno, secretKey: owner.secretKey, messages: [internal({ to: recipient.address, value: toNano('0.1') })] });
        const fee = await client.estimateExternalMessageFee(wallet.address, { body: transfer, initCode: null, initData: null, ignoreSignature: false });
        expect(fee.source_fees.gas_fee).toBeGreaterThan(0);
        expect(await opened.getSeqno()).toBe(seqno);
    });

    it('answers malformed requests with clear JSON errors', async () => {
        const cases: [unknown, number, RegExp][] = [
            ['{not json', 400, /not valid JSON/],
            [{ id: 7, jsonrpc: '2.0', method: 'noSuchMethod', params: {} }, 404, /unknown method "noSuchMethod"; this devnet serves .*getTransactions/],
            [{ id: 1, method: 'getAddressInformation', params: {} }, 400, /missing parameter "address"/],
            [{ id: 1, method: 'getAddressInformation', params: { address: 'nowhere' } }, 400, /is not a TON address/],
            [{ id: 1, method: 'sendBoc', params: { boc: 'AAAA' } }, 400, /not a base64 BOC/],
            [{ id: 1, method: 'getTransactions', params: { address: wallet.address.toString(), limit: 0 } }, 400, /"limit" must be 1\.\.100/],
            [{ id: 1, method: 'getTransactions', params: { address: wallet.address.toString(), lt: '5' } }, 400, /"lt" and "hash" go together/],
            [{ id: 1, method: 'getTransactions', params: { address: wallet.address.toString(), lt: '5', hash: Buffer.alloc(32).toString('hex') } }, 404, /no transaction/],
            [{ id: 1, method: 'runGetMethod', params: { address: recipient.address.toString(), method: 'seqno', stack: [] } }, 400, /not active/],
            [{ id: 1, method: 'runGetMethod', params: { address: wallet.address.toString(), method: 'seqno', stack: [['blob', 'x']] } }, 400, /unsupported stack entry type "blob"/],
            [{ id: 1, method: 'faucet', params: { address: wallet.address.toString(), amount: toNano('1000000').toString() } }, 400, /at most/],
            [[1, 2], 400, /must be an object/],
        ];
        for (const [body, status, message] of cases) {
            const { status: got, json } = await rpc(devnet.url, body);
            expect({ got, ok: json.ok }).toEqual({ got: status, ok: false });
            expect(json.code).toBe(status);
            expect(json.error).toMatch(message);
        }
        const { json } = await rpc(devnet.url, { id: 'abc', jsonrpc: '2.0', method: 'getMasterchainInfo', params: {} });
        expect(json).toMatchObject({ ok: true, id: 'abc', jsonrpc: '2.0' });
    });

    it('refuses an external message the contract does not accept, like a liteserver, and changes nothing', async () => {
        const client = new TonClient({ endpoint: devnet.jsonRpc });
        const balance = await client.getBalance(wallet.address);
        const stranger = keyPairFromSeed(Buffer.alloc(32, 9));
        const forged = client.open(wallet).createTransfer({ seqno: 1, secretKey: stranger.secretKey, messages: [internal({ to: recipient.address, value: toNano('5') })] });
        const boc = beginCell().store(storeMessage(external({ to: wallet.address, body: forged }))).endCell().toBoc().toString('base64');
        const { status, json } = await rpc(devnet.url, { id: 1, method: 'sendBoc', params: { boc } });
        expect(status).toBe(500);
        expect(json.error).toMatch(/cannot apply external message/);
        expect(await client.getBalance(wallet.address)).toBe(balance);
    });

    it('serves the REST forms too', async () => {
        const balance: any = await (await fetch(`${devnet.url}/api/v2/getAddressBalance?address=${wallet.address.toString()}`)).json();
        expect(balance.ok).toBe(true);
        expect(BigInt(balance.result)).toBeGreaterThan(0n);
        const state: any = await (await fetch(`${devnet.url}/api/v2/getAddressState?address=${recipient.address.toRawString()}`)).json();
        expect(state.result).toBe('uninitialized');
        const { json } = await rpc(devnet.url, { address: wallet.address.toString(), method: 'seqno', stack: [] }, '/api/v2/runGetMethod');
        expect(json.result.exit_code).toBe(0);
        expect(BigInt(json.result.stack[0][1])).toBeGreaterThanOrEqual(1n);
        const { json: sent } = await rpc(devnet.url, { boc: 'not base64 boc' }, '/api/v2/sendBocReturnHash');
        expect(sent.ok).toBe(false);
    });

    it('keeps balances, contracts and transactions across kill -9 and a graceful restart', async () => {
        let client = new TonClient({ endpoint: devnet.jsonRpc });
        const before = {
            walletBalance: await client.getBalance(wallet.address),
            recipientBalance: await client.getBalance(recipient.address),
            seqno: await client.open(wallet).getSeqno(),
            txs: (await client.getTransactions(wallet.address, { limit: 100 })).map((t) => t.hash().toString('hex')),
        };
        await devnet.kill9();
        devnet = await startDevnet({ dataDir, port: devnet.port });
        client = new TonClient({ endpoint: devnet.jsonRpc });
        expect(await client.getBalance(wallet.address)).toBe(before.walletBalance);
        expect(await client.getBalance(recipient.address)).toBe(before.recipientBalance);
        expect(await client.open(wallet).getSeqno()).toBe(before.seqno);
        expect((await client.getTransactions(wallet.address, { limit: 100 })).map((t) => t.hash().toString('hex'))).toEqual(before.txs);

        // The chain goes on from there, and a graceful restart keeps that too.
        await client.open(wallet).sendTransfer({ seqno: before.seqno, secretKey: owner.secretKey, messages: [internal({ to: recipient.address, value: toNano('2'), bounce: false, body: comment('after restart') })] });
        await waitFor(async () => ((await client.open(wallet).getSeqno()) === before.seqno + 1 ? true : undefined), 'the transfer');
        expect(await devnet.stop()).toBe(0);
        devnet = await startDevnet({ dataDir });
        client = new TonClient({ endpoint: devnet.jsonRpc });
        const credited = (await client.getBalance(recipient.address)) - before.recipientBalance;
        expect(credited).toBeGreaterThan(toNano('1.999'));
        expect(credited).toBeLessThanOrEqual(toNano('2'));
        expect(await client.open(wallet).getSeqno()).toBe(before.seqno + 1);
        const [last] = await client.getTransactions(recipient.address, { limit: 1 });
        expect(last.inMessage!.body.beginParse().skip(32).loadStringTail()).toBe('after restart');
    });

    it('loses no committed block to kill -9 while its state.json lags: the blocks after it are replayed from the journal', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-devnet-replay-'));
        // An hour between snapshots: after the first one, every block lives only in blocks.journal.
        let lagging = await startDevnet({ dataDir: dir, args: ['--snapshot-interval', '3600000'] });
        try {
            const stateAtStart = readFileSync(join(dir, 'state.json'), 'utf8');
            const target = WalletContractV5R1.create({ publicKey: keyPairFromSeed(Buffer.alloc(32, 9)).publicKey });
            for (let i = 0; i < 3; i++) await faucet(lagging.url, target.address.toString(), toNano('3'));
            let client = new TonClient({ endpoint: lagging.jsonRpc });
            const balance = await client.getBalance(target.address);
            expect(balance).toBe(toNano('9'));
            const txs = (await client.getTransactions(target.address, { limit: 10 })).map((t) => t.hash().toString('hex'));
            expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(stateAtStart);
            await lagging.kill9();
            lagging = await startDevnet({ dataDir: dir });
            client = new TonClient({ endpoint: lagging.jsonRpc });
            expect(await client.getBalance(target.address)).toBe(balance);
            expect((await client.getTransactions(target.address, { limit: 10 })).map((t) => t.hash().toString('hex'))).toEqual(txs);
            // The restart folded the replayed blocks into state.json.
            expect(readFileSync(join(dir, 'state.json'), 'utf8')).not.toBe(stateAtStart);
            // And the chain goes on from there.
            await faucet(lagging.url, target.address.toString(), toNano('1'));
            // (less a nanoTON or so of storage fee: time passes for the uninitialized account)
            expect(await client.getBalance(target.address)).toBeGreaterThan(balance + toNano('0.999'));
        } finally {
            await lagging.stop();
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('refuses a second devnet on the same data directory', async () => {
        await expect(startDevnet({ dataDir })).rejects.toThrow(/in use by process/);
    });
});

// The worker agent on-chain: the watcher follows its Worker and channels; a posted job is run,
// committed and finalized after the challenge window (time travel on the sandbox chain);
// vouchers are settled with the batch root of the receipts they pay, when worth it or when the
// channel closes; new enclave keys renew the attestation.
import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Address, Cell, toNano, Transaction } from '@ton/core';
import { readBodyHead } from '../../agents/chain/decoders';
import { Wallet } from '../../agents/chain/wallet';
import { openResponse, sealRequest } from '../../agents/core/envelope';
import { ReceiptBatch } from '../../agents/core/merkle';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { openOnChain } from '../../agents/worker/chain-access';
import { bytesToCell, cellToBytes } from '../../agents/worker/payload-cell';
import { SEALED_KEYS_FILE } from '../../agents/worker/sealed-keys';
import { CHANNEL_CLOSED, eventsOf, JOB_COMMITTED, ONCHAIN_SEQ_BASE, Worker } from '../../wrappers';
import { intToPublicKey, parseReceipt, verifySigned } from '../../wrappers/signed';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, TestClient, TINY_ANSWER, workerConfig } from './helpers';

jest.setTimeout(180_000);

const PROMPT = 1_000_000n;
const COMPLETION = 10_000_000n;
const OP_JOB_FINALIZED = 0xe0430009;
const OP_CHANNEL_SETTLED = 0xe0430005;
const OP_COMMIT_RESULT = 0x43000005;
const OP_SETTLE = 0x43000003;

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const started = Date.now();
    for (;;) {
        const value = await probe();
        if (value) return value;
        if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
    }
}

describe('worker agent on-chain', () => {
    let world: SandboxWorld;
    let wallet: Wallet;
    let dir: string;
    let agent: WorkerAgentHandle;

    beforeAll(async () => {
        world = await sandboxWorld();
        wallet = await fundedWallet(world.net, toNano('200'));
        dir = tempDir('worker-onchain');
        agent = await startAgent(world, workerConfig(world, dir, { prices: { prompt: PROMPT.toString(), completion: COMPLETION.toString() }, settlement: { minAmount: '0.5' } }), wallet);
    });
    afterAll(async () => {
        await agent?.stop();
        await world?.engine.close();
        removeDir(dir);
    });

    /** Transactions of `address` whose in-message has op `op`. */
    async function incoming(address: Address, op: number): Promise<Transaction[]> {
        return (await world.chain.getTransactions(address, { limit: 100 })).filter((tx) => tx.inMessage && readBodyHead(tx.inMessage.body).op === op);
    }

    async function postJob(client: TestClient, plaintext: Buffer, options: { input?: Cell; inputHash?: Buffer } = {}) {
        const state = await client.channel.getState();
        const seq = state.nextSeq;
        const sealed = sealRequest(plaintext, { recipientKey: agent.enclave.publicKeys.encryptionKey, context: { channel: client.address, seq } });
        const values = await client.channel.getOperationValues();
        await client.channel.send(
            client.treasury.getSender(),
            { value: values.postJob + toNano('0.2') },
            {
                $$type: 'PostJob',
                queryId: 7n,
                seq,
                model: world.model,
                maxPayment: toNano('1'),
                inputHash: BigInt('0x' + (options.inputHash ?? createHash('sha256').update(plaintext).digest()).toString('hex')),
                deadline: BigInt(Number(world.net.blockchain.now) + 600),
                input: options.input ?? bytesToCell(sealed.envelope),
            },
        );
        return { seq, sealed };
    }

    it('runs a posted job, commits its signed receipt with the sealed answer inline, and finalizes it after the challenge window', async () => {
        const client = await TestClient.open(world, agent, toNano('5'));
        const payload = { messages: [{ role: 'user', content: 'on chain' }], max_tokens: 6 };
        const plaintext = Buffer.from(JSON.stringify(payload));
        const { seq, sealed } = await postJob(client, plaintext);
        expect(seq).toBe(ONCHAIN_SEQ_BASE);

        const committed = await until('the commit', async () => {
            const job = await client.channel.getJob(seq);
            return job?.status === JOB_COMMITTED ? job : undefined;
        });
        const promptTokens = 18 + 'on chain'.length;
        expect(committed.payment).toBe(BigInt(promptTokens) * PROMPT + 6n * COMPLETION);
        expect(committed.tokens).toBe(BigInt(promptTokens + 6));

        // The commitment on-chain: ResultCommitted with the sealed answer inline, readable by the client only.
        const commits = await incoming(client.address, OP_COMMIT_RESULT);
        expect(commits).toHaveLength(1);
        const event = eventsOf(commits[0]).find((e) => e.$$type === 'ResultCommitted') as { output: Cell | null; resultHash: bigint };
        const answer = openResponse(cellToBytes(event.output!), {
            replySecretKey: sealed.replyKeyPair.secretKey,
            expectedSenderKey: agent.enclave.publicKeys.encryptionKey,
            expect: { channel: client.address, seq },
        });
        expect(JSON.parse(answer.toString())).toEqual({ content: TINY_ANSWER.slice(0, 6), finish_reason: 'length' });
        expect(event.resultHash).toBe(BigInt('0x' + createHash('sha256').update(answer).digest('hex')));

        // The same result over HTTP, with the receipt the channel checked.
        const res = await fetch(`${agent.url}/v1/results/${client.address.toString()}/${seq}`);
        const body = (await res.json()) as Record<string, string>;
        const cell = Cell.fromBoc(Buffer.from(body.receipt, 'base64'))[0];
        expect(verifySigned({ cell, signature: Buffer.from(body.signature, 'base64') }, agent.enclave.publicKeys.signingKey)).toBe(true);
        expect(parseReceipt(cell)).toMatchObject({ seq, inputHash: BigInt('0x' + createHash('sha256').update(plaintext).digest('hex')) });

        // Not before the window is over...
        await agent.onchain.runOnce();
        expect(await incoming(wallet.address, OP_JOB_FINALIZED)).toHaveLength(0);
        expect((await client.channel.getJob(seq))?.status).toBe(JOB_COMMITTED);
        // ...and once it is, the worker is paid exactly once.
        world.net.blockchain.now = Number(world.net.blockchain.now) + 601;
        await until('the finalization', async () => (await client.channel.getJob(seq)) === null);
        const payouts = await until('the payout', async () => {
            const found = await incoming(wallet.address, OP_JOB_FINALIZED);
            return found.length > 0 ? found : undefined;
        });
        expect(payouts).toHaveLength(1);
        const fee = (committed.payment * 100n) / 10_000n;
        const s = payouts[0].inMessage!.body.beginParse();
        s.skip(32 + 64);
        expect(s.loadUintBig(64)).toBe(committed.payment);
        expect(s.loadUintBig(64)).toBe(fee);
        const state = await client.channel.getState();
        expect(state.locked).toBe(0n);
        expect(state.openJobs).toBe(0n);
        await agent.onchain.runOnce();
        expect(await incoming(client.address, OP_COMMIT_RESULT)).toHaveLength(1);
        expect(await incoming(wallet.address, OP_JOB_FINALIZED)).toHaveLength(1);
        // Finalized and paid: the job left the journal's memory, and its seq can never be signed again.
        await until('the pruning', () => agent.journal.job(client.address, seq) === undefined);
        expect(agent.journal.isRetired(client.address, seq)).toBe(true);
        expect(agent.journal.openOnchainJobs().filter((j) => j.channel === client.address.toRawString())).toHaveLength(0);
    });

    it('commits an error answer with no tokens, rather than letting the job expire, when the posted input does not open', async () => {
        const client = await TestClient.open(world, agent, toNano('5'));
        const { seq } = await postJob(client, Buffer.from('{}'), { input: bytesToCell(Buffer.from('not an envelope at all')) });
        const job = await until('the commit', async () => {
            const j = await client.channel.getJob(seq);
            return j?.status === JOB_COMMITTED ? j : undefined;
        });
        expect(job.payment).toBe(0n);
        expect(job.tokens).toBe(0n);
        const record = agent.journal.job(client.address, seq)!;
        expect(record.onchain?.inputError).toBeUndefined(); // it opened as bytes...
        expect(record.state).toBe('signed'); // ...but not as an envelope: the receipt commits to an error answer
        expect(record.completionTokens).toBe(0);
    });

    it('settles the best voucher with the batch root of the receipts it pays, once the amount is worth it', async () => {
        const client = await TestClient.open(world, agent, toNano('5'));
        // One job: 0.02 + 0.03 TON, below settlement.minAmount (0.5 TON): nothing is settled.
        const first = await client.chat(1n, 'hi', 3);
        expect(first.status).toBe(200);
        await agent.onchain.runOnce();
        expect((await client.channel.getState()).settled).toBe(0n);
        expect(await incoming(client.address, OP_SETTLE)).toHaveLength(0);
        // Enough jobs to pass it.
        const receipts: Cell[] = [first.v!.cell];
        for (const seq of [2n, 3n, 4n]) {
            const r = await client.chat(seq, 'hi', 20);
            expect(r.status).toBe(200);
            receipts.push(r.v!.cell);
        }
        await until('the settlement', async () => (await client.channel.getState()).settled === client.owed);
        await until('the confirmed batch', () => agent.journal.batches(client.address.toRawString()).some((b) => b.state === 'confirmed'));
        const settles = await incoming(client.address, OP_SETTLE);
        expect(settles).toHaveLength(1);
        const payout = (await incoming(wallet.address, OP_CHANNEL_SETTLED)).filter((tx) => (tx.inMessage!.info.src as Address).toString() === client.address.toString());
        expect(payout).toHaveLength(1);
        const s = payout[0].inMessage!.body.beginParse();
        s.skip(32);
        expect(s.loadUintBig(64)).toBe(client.owed); // cumulative
        expect(s.loadUintBig(64)).toBe(client.owed); // amount
        s.skip(64); // fee
        expect(s.loadUint(32)).toBe(4); // count
        expect(s.loadUintBig(256)).toBe(new ReceiptBatch(receipts.map((c) => c.hash())).rootInt);
        const batches = agent.journal.batches(client.address.toRawString());
        expect(batches.map((b) => [b.state, b.count, b.final])).toEqual([['confirmed', 4, false]]);
        // Nothing more to settle: no second Settle.
        await agent.onchain.runOnce();
        expect(await incoming(client.address, OP_SETTLE)).toHaveLength(1);
        // The settled receipts left the journal's memory; their seqs are refused from now on, whatever the input.
        await until('the pruning', () => [1n, 2n, 3n, 4n].every((seq) => agent.journal.job(client.address, seq) === undefined));
        expect(agent.journal.retired(client.address).fast).toBe(4n);
        expect(agent.journal.batches(client.address.toRawString()).map((b) => b.state)).toEqual(['confirmed']);
        const replay = await client.chat(2n, 'another input', 3, { pay: false });
        expect(replay.status).toBe(409);
        expect(replay.body.error.code).toBe('seq_used');
        expect(replay.body.error.message).toMatch(/settled and pruned/);
        expect((await client.chat(5n, 'hi', 3)).status).toBe(200);
    });

    it('settles at once, closing the channel, when its client asks to close', async () => {
        const client = await TestClient.open(world, agent, toNano('5'));
        expect((await client.chat(1n, 'bye', 3)).status).toBe(200);
        expect((await client.channel.getState()).settled).toBe(0n);
        const before = await world.net.blockchain.getContract(client.treasury.address);
        const balanceBefore = before.balance;
        await client.channel.send(client.treasury.getSender(), { value: toNano('0.2') }, { $$type: 'RequestClose', queryId: 9n });
        await until('the final settlement', async () => (await client.channel.getState()).status === CHANNEL_CLOSED);
        await until('the confirmed batch', () => agent.journal.batches(client.address.toRawString()).some((b) => b.state === 'confirmed'));
        const settles = await incoming(client.address, OP_SETTLE);
        expect(settles).toHaveLength(1);
        const batches = agent.journal.batches(client.address.toRawString());
        expect(batches.map((b) => [b.state, b.final, b.cumulative])).toEqual([['confirmed', true, client.owed]]);
        // The client got back what it did not spend.
        const after = await world.net.blockchain.getContract(client.treasury.address);
        expect(after.balance - balanceBefore).toBeGreaterThan(toNano('4.8'));
    });

    it('renews its attestation on-chain when its enclave keys are new', async () => {
        const ownWallet = await fundedWallet(world.net);
        const ownDir = tempDir('worker-renew');
        const config = workerConfig(world, ownDir, { slot: 4 });
        const first = await startAgent(world, config, ownWallet);
        const firstKey = first.enclave.publicKeys.signingKey;
        await first.stop();
        unlinkSync(join(ownDir, SEALED_KEYS_FILE)); // the sealed keys are gone: the next start makes new ones
        const second = await startAgent(world, config, ownWallet);
        try {
            expect(second.registration.actions).toContain('renewed');
            expect(second.enclave.publicKeys.signingKey.equals(firstKey)).toBe(false);
            const info = await openOnChain(world.chain, Worker.fromAddress(second.worker)).getInfo();
            expect(intToPublicKey(info.attestation.claim.signingKey)).toEqual(second.enclave.publicKeys.signingKey);
            expect(intToPublicKey(info.attestation.previousSigningKey)).toEqual(firstKey);
            const served = (await (await fetch(`${second.url}/v1/attestation`)).json()) as { signingKey: string; quoteHash: string };
            expect(served.signingKey).toBe(second.enclave.publicKeys.signingKey.toString('hex'));
            expect(BigInt('0x' + served.quoteHash)).toBe(info.attestation.claim.quoteHash);
        } finally {
            await second.stop();
            removeDir(ownDir);
        }
    });

    it('leaves no listener behind on its stop signal while it polls, however long it runs', async () => {
        // The poll loop waits on the agent's lifetime signal between polls; a listener left per
        // pause would grow without bound in a worker that runs for months.
        const service = agent.onchain as unknown as { controller: AbortController; watcher: { pollOnce: (...a: unknown[]) => Promise<unknown> } };
        const original = service.watcher.pollOnce.bind(service.watcher);
        let polls = 0;
        service.watcher.pollOnce = (...a: unknown[]) => {
            polls++;
            return original(...a);
        };
        try {
            await until('20 polls', () => polls >= 20);
            expect(getEventListeners(service.controller.signal, 'abort').length).toBeLessThanOrEqual(1);
        } finally {
            service.watcher.pollOnce = original;
        }
    });
});

// Adversarial tests of the worker agent (docs/security.md, "Agents"): the real agent on a sandbox
// chain with the real contracts and the real tiny model, attacked over real HTTP on 127.0.0.1 by
// clients that dribble bytes, send broken or misdirected ciphertext, replay requests and forge
// vouchers. Each attack gets a named JSON error, signs nothing, moves no money, and the worker
// keeps serving honest clients.
import { randomBytes } from 'node:crypto';
import { toNano } from '@ton/core';
import { sealRequest } from '../../../agents/core/envelope';
import { x25519Generate } from '../../../agents/core/x25519';
import { WorkerAgentHandle } from '../../../agents/worker/agent';
import { Wallet } from '../../../agents/chain/wallet';
import { ed25519FromSeed } from '../../../agents/core/ed25519';
import { fundedWallet, promptTokensOf, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, TestClient, workerConfig } from '../../worker-agent/helpers';
import { dribble, rawJsonBody, rawRequest, rawStatus } from './helpers';

jest.setTimeout(120_000);

const REQUEST_TIMEOUT_MS = 1_500;
const HEADERS_TIMEOUT_MS = 800;

describe('worker agent under attack', () => {
    let world: SandboxWorld;
    let wallet: Wallet;
    let dir: string;
    let agent: WorkerAgentHandle;
    let client: TestClient;
    let other: TestClient;

    beforeAll(async () => {
        world = await sandboxWorld();
        wallet = await fundedWallet(world.net);
        dir = tempDir('sec-worker');
        agent = await startAgent(
            world,
            workerConfig(world, dir, { http: { port: 0, requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS }, limits: { maxConcurrentJobs: 2 } }),
            wallet,
        );
        client = await TestClient.open(world, agent, toNano('5'));
        other = await TestClient.open(world, agent, toNano('5'));
    });
    afterAll(async () => {
        await agent?.stop();
        await world?.engine.close();
        removeDir(dir);
    });

    const port = () => Number(new URL(agent.url).port);
    const signed = () => agent.metrics.receiptsSigned.get();
    const balance = async (address: import('@ton/core').Address) => (await world.net.blockchain.getContract(address)).balance;
    const expectError = async (res: Response, status: number, code: string, message?: RegExp) => {
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
        if (message) expect(body.error.message).toMatch(message);
    };
    const postJob = (fields: Record<string, unknown>) =>
        fetch(`${agent.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) });
    // Signed by the channel's client: these tests are about what the envelope holds, not who sent it.
    const jobFields = (c: TestClient, seq: bigint, envelope: Buffer) => ({ channel: c.address.toString(), seq: seq.toString(), model: world.modelHash, envelope: envelope.toString('base64'), auth: c.auth(seq, envelope) });
    const payload = (content: string) => ({ messages: [{ role: 'user', content }], max_tokens: 4 });
    const sealFor = (c: TestClient, seq: bigint, content: string, recipient: Buffer = Buffer.from(c.attestation.encryptionKey, 'hex')) =>
        sealRequest(Buffer.from(JSON.stringify(payload(content))), { recipientKey: recipient, context: { channel: c.address, seq } }).envelope;

    describe('slow clients (slowloris)', () => {
        it('times out headers dribbled byte by byte with 408 request_timeout and frees the connection, while others are served', async () => {
            const headers = `POST /v1/jobs HTTP/1.1\r\nhost: worker\r\ncontent-type: application/json\r\nx-padding: ${'a'.repeat(400)}\r\n\r\n`;
            const dribblers = Array.from({ length: 8 }, () => dribble(port(), headers, 50, REQUEST_TIMEOUT_MS + 4_000));
            // An honest client is served while eight connections hold half-sent headers.
            const honest = await client.chat(1n, 'served meanwhile', 2);
            expect(honest.status).toBe(200);
            expect(honest.v!.signatureValid).toBe(true);
            for (const outcome of await Promise.all(dribblers)) {
                expect(outcome.bytesSent).toBeLessThan(Buffer.byteLength(headers)); // it never got to finish
                expect(outcome.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
                if (outcome.response !== '') {
                    expect(rawStatus(outcome.response)).toBe(408);
                    expect(rawJsonBody(outcome.response).error.code).toBe('request_timeout');
                }
            }
            // At least one of them was told why (the others may be cut while writing).
            expect((await Promise.all(dribblers)).some((o) => /^HTTP\/1\.1 408 /.test(o.response))).toBe(true);
        });

        it('times out a job body dribbled byte by byte (408), journals nothing for it, and signs nothing', async () => {
            const sealed = sealRequest(Buffer.from(JSON.stringify(payload('slow body'))), {
                recipientKey: Buffer.from(client.attestation.encryptionKey, 'hex'),
                context: { channel: client.address, seq: 50n },
            });
            const body = JSON.stringify(jobFields(client, 50n, sealed.envelope));
            const head = `POST /v1/jobs HTTP/1.1\r\nhost: worker\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
            const before = signed();
            // The headers arrive at once, then the body one byte every 40 ms (it would take ~20 s).
            const outcome = await dribble(port(), body, 40, REQUEST_TIMEOUT_MS + 4_000, head).catch((e) => e as Error);
            expect(outcome).not.toBeInstanceOf(Error);
            const o = outcome as Exclude<typeof outcome, Error>;
            expect(o.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
            expect(o.bytesSent).toBeLessThan(Buffer.byteLength(body));
            expect(rawStatus(o.response)).toBe(408);
            expect(rawJsonBody(o.response).error.code).toBe('request_timeout');
            expect(agent.journal.job(client.address, 50n)).toBeUndefined();
            expect(signed()).toBe(before);
            expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
        });

        it('answers a header block over the limit with a JSON 431 and keeps serving', async () => {
            const response = await rawRequest(port(), `GET /healthz HTTP/1.1\r\nhost: worker\r\nx-big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
            expect(rawStatus(response)).toBe(431);
            expect(rawJsonBody(response).error.code).toBe('bad_request');
            expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
        });
    });

    describe('malformed and misdirected ciphertext', () => {
        it('refuses each broken envelope with 400 bad_request naming the fault, journals nothing, signs nothing, and the seq stays usable', async () => {
            const before = signed();
            const good = sealFor(client, 60n, 'intact');
            const flipped = Buffer.from(good);
            flipped[flipped.length - 5] ^= 0x01; // one bit of the ciphertext
            const cases: [string, Buffer, RegExp][] = [
                ['random bytes', randomBytes(good.length), /./],
                ['a flipped ciphertext bit', flipped, /authenticat|decrypt|open/i],
                ['a truncated envelope', good.subarray(0, 20), /./],
                ['an empty envelope', Buffer.alloc(0), /./],
                ['sealed to another key', sealFor(client, 60n, 'other key', Buffer.from(x25519Generate().publicKey)), /authenticat|decrypt|open/i],
            ];
            for (const [name, envelope, message] of cases) {
                const res = await postJob(jobFields(client, 60n, envelope));
                const body = (await res.json()) as { error: { code: string; message: string } };
                expect({ name, status: res.status, code: body.error.code }).toEqual({ name, status: 400, code: 'bad_request' });
                expect(body.error.message).toMatch(message);
            }
            expect(agent.journal.job(client.address, 60n)).toBeUndefined();
            expect(signed()).toBe(before);
            // The seq was not burnt by the refusals: the intact envelope runs.
            const res = await postJob(jobFields(client, 60n, good));
            expect(res.status).toBe(200);
            expect(signed()).toBe(before + 1);
            client.costs.set(60n, BigInt(((await res.json()) as { cost: string }).cost));
            await client.pay();
        });

        it('refuses an envelope sealed for another seq or another channel (400), so a captured request cannot be replayed elsewhere', async () => {
            const before = signed();
            const forSeq70 = sealFor(client, 70n, 'seq bound');
            await expectError(await postJob(jobFields(client, 71n, forSeq70)), 400, 'bad_request', /seq|context|replay/i);
            // The other channel's client's request, posted on this channel (it would charge this one).
            const othersRequest = sealFor(other, 70n, 'channel bound');
            await expectError(await postJob(jobFields(client, 70n, othersRequest)), 400, 'bad_request', /channel|context|replay/i);
            expect(agent.journal.job(client.address, 70n)).toBeUndefined();
            expect(agent.journal.job(client.address, 71n)).toBeUndefined();
            expect(agent.journal.books(other.address).served).toBe(0n);
            expect(signed()).toBe(before);
        });
    });

    describe("only the channel's client spends its credit (the request's auth)", () => {
        it('refuses a job not signed by the channel client key (403), or unsigned (400): nothing opened, journalled, served or signed', async () => {
            const before = signed();
            const servedBefore = agent.journal.books(client.address).served;
            const { ed25519FromSeed } = await import('../../../agents/core/ed25519');
            const stranger = ed25519FromSeed(Buffer.alloc(32, 0x5a));
            const envelope = sealFor(client, 190n, 'billed to someone else');
            await expectError(await postJob({ ...jobFields(client, 190n, envelope), auth: client.auth(190n, envelope, stranger) }), 403, 'unauthorized', /client's key/);
            const { auth: _auth, ...unsigned } = jobFields(client, 190n, envelope);
            await expectError(await postJob(unsigned), 400, 'bad_request', /auth/);
            await expectError(await postJob({ ...jobFields(client, 190n, envelope), auth: Buffer.alloc(10).toString('base64') }), 400, 'bad_request', /64 bytes/);
            expect(agent.journal.job(client.address, 190n)).toBeUndefined();
            expect(agent.journal.books(client.address).served).toBe(servedBefore);
            expect(signed()).toBe(before);
        });

        it("a captured request's auth does not carry over to another envelope or seq (403), and the seq stays usable", async () => {
            const before = signed();
            const genuine = sealFor(client, 191n, 'the real question');
            const captured = client.auth(191n, genuine);
            const forged = sealFor(client, 191n, 'a question the client never asked');
            await expectError(await postJob({ ...jobFields(client, 191n, forged), auth: captured }), 403, 'unauthorized');
            await expectError(await postJob({ ...jobFields(client, 192n, sealFor(client, 192n, 'x')), auth: captured }), 403, 'unauthorized');
            expect(signed()).toBe(before);
            const res = await postJob(jobFields(client, 191n, genuine));
            expect(res.status).toBe(200);
            expect(signed()).toBe(before + 1);
            client.costs.set(191n, BigInt(((await res.json()) as { cost: string }).cost));
            await client.pay();
        });
    });

    describe('replayed requests', () => {
        it('answers the same encrypted request sent again, sequentially or concurrently, with the one receipt: one signature, one charge', async () => {
            const sealed = sealRequest(Buffer.from(JSON.stringify(payload('replay me'))), {
                recipientKey: Buffer.from(client.attestation.encryptionKey, 'hex'),
                context: { channel: client.address, seq: 80n },
            });
            const servedBefore = agent.journal.books(client.address).served;
            const before = signed();
            const first = await client.post(80n, undefined, { resend: sealed });
            expect(first.res.status).toBe(200);
            const answer = (await first.res.json()) as Record<string, string>;
            const again = await Promise.all([1, 2, 3].map(() => client.post(80n, undefined, { resend: sealed })));
            for (const { res } of again) {
                expect(res.status).toBe(200);
                const body = (await res.json()) as Record<string, string>;
                expect(body.receipt).toBe(answer.receipt);
                expect(body.signature).toBe(answer.signature);
                expect(body.envelope).toBe(answer.envelope);
            }
            expect(signed()).toBe(before + 1);
            const cost = BigInt(answer.cost);
            expect(cost).toBeGreaterThan(0n);
            expect(agent.journal.books(client.address).served).toBe(servedBefore + cost);
            const v = client.verify(80n, payload('replay me'), answer, sealed.replyKeyPair.secretKey);
            expect(v.signatureValid && v.inputHashMatches && v.resultHashMatches).toBe(true);
            await client.pay();
        });

        it('runs a replay racing the first copy once: concurrent identical requests share one job and one receipt', async () => {
            const sealed = sealRequest(Buffer.from(JSON.stringify(payload('race me'))), {
                recipientKey: Buffer.from(client.attestation.encryptionKey, 'hex'),
                context: { channel: client.address, seq: 81n },
            });
            const before = signed();
            const servedBefore = agent.journal.books(client.address).served;
            const answers = await Promise.all([1, 2, 3, 4].map(() => client.post(81n, undefined, { resend: sealed }).then(async ({ res }) => ({ status: res.status, body: (await res.json()) as Record<string, string> }))));
            expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
            expect(new Set(answers.map((a) => a.body.receipt)).size).toBe(1);
            expect(signed()).toBe(before + 1);
            expect(agent.journal.books(client.address).served).toBe(servedBefore + BigInt(answers[0].body.cost));
            client.verify(81n, payload('race me'), answers[0].body, sealed.replyKeyPair.secretKey);
            await client.pay();
        });
    });

    describe('forged vouchers', () => {
        it('refuses vouchers the channel client did not sign for this channel and amount (400): nothing is held, no money moves', async () => {
            // One unpaid job, so the worker is owed something a forger would like to claim on-chain.
            const job = await client.chat(90n, 'unpaid', 2, { pay: false });
            expect(job.status).toBe(200);
            const held = agent.journal.books(client.address).voucher;
            expect(held?.cumulative).toBeLessThan(client.owed);
            const channelBalance = await balance(client.address);
            const workerBalance = await balance(agent.worker);
            const post = (cumulative: bigint, signature: Buffer) =>
                fetch(`${agent.url}/v1/vouchers`, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json' },
                    body: JSON.stringify({ channel: client.address.toString(), cumulative: cumulative.toString(), signature: signature.toString('base64') }),
                });
            const big = toNano('4');
            // Signed by a key that is not the channel's client key.
            expect((await client.voucher(big, { key: ed25519FromSeed(randomBytes(32)) })).status).toBe(400);
            // Signed by the client for the other channel, replayed on this one.
            expect((await client.voucher(big, { channel: other.address })).status).toBe(400);
            // A genuine signature of a small amount, sent with a bigger amount.
            const { signVoucher } = await import('../../../wrappers/signed');
            const small = signVoucher({ channel: client.address, cumulative: 1n }, client.key.seed);
            await expectError(await post(big, small.signature), 400, 'bad_request', /signature/);
            // Garbage and truncated signatures.
            await expectError(await post(big, randomBytes(64)), 400, 'bad_request', /signature/);
            await expectError(await post(big, randomBytes(63)), 400, 'bad_request', /64 bytes/);
            expect(agent.journal.books(client.address).voucher).toEqual(held);
            expect(agent.metrics.vouchers.get({ outcome: 'invalid' })).toBeGreaterThanOrEqual(4);
            // Several watcher passes later no settlement used a forged voucher: no money moved.
            await new Promise((r) => setTimeout(r, 500));
            expect(await balance(client.address)).toBe(channelBalance);
            expect(await balance(agent.worker)).toBe(workerBalance);
            // The honest client pays what it owes and the worker serves it again.
            await client.pay();
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(client.owed);
            expect((await client.chat(91n, 'after the forgeries', 2)).status).toBe(200);
        });
    });

    it('still serves honest clients of both channels after every attack above', async () => {
        const a = await other.chat(1n, 'the other client', 3);
        expect(a.status).toBe(200);
        expect(a.v!.signatureValid && a.v!.inputHashMatches).toBe(true);
        expect(a.v!.receipt.promptTokens).toBe(BigInt(promptTokensOf('the other client')));
        const health = (await (await fetch(`${agent.url}/healthz`)).json()) as { status: string };
        expect(health.status).toBe('ok');
    });
});

// The worker agent's HTTP API end to end (docs/worker-api.md): the real contracts on a sandbox
// chain, the real tiny model, real HTTP on 127.0.0.1, and a client that seals its requests with
// the real envelope and verifies every receipt with wrappers/signed.ts.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Address, Cell, toNano } from '@ton/core';
import { sealRequest } from '../../agents/core/envelope';
import { SimulatedVerifier } from '../../agents/enclave/simulated';
import { allowList, checkAttestationPolicy } from '../../agents/enclave/policy';
import { openOnChain } from '../../agents/worker/chain-access';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { Wallet } from '../../agents/chain/wallet';
import { Worker, WORKER_STATUS_ACTIVE, channelFor, TEE_SIMULATED } from '../../wrappers';
import { intToPublicKey, parseReceipt, verifySigned } from '../../wrappers/signed';
import {
    fundedWallet,
    promptTokensOf,
    readEvents,
    removeDir,
    sandboxWorld,
    SandboxWorld,
    startAgent,
    tempDir,
    TestClient,
    TINY_ANSWER,
    workerConfig,
} from './helpers';

jest.setTimeout(120_000);

// High prices, so that a 1 TON channel runs out after one long job.
const PROMPT = 1_000_000n; // 0.001 TON per prompt token
const COMPLETION = 10_000_000n; // 0.01 TON per completion token
const cost = (prompt: number, completion: number) => BigInt(prompt) * PROMPT + BigInt(completion) * COMPLETION;

describe('worker agent HTTP API', () => {
    let world: SandboxWorld;
    let wallet: Wallet;
    let dir: string;
    let agent: WorkerAgentHandle;
    let client: TestClient;

    beforeAll(async () => {
        world = await sandboxWorld();
        wallet = await fundedWallet(world.net);
        dir = tempDir('worker-http');
        agent = await startAgent(world, workerConfig(world, dir, { prices: { prompt: PROMPT.toString(), completion: COMPLETION.toString() } }), wallet);
        client = await TestClient.open(world, agent, toNano('5'));
    });
    afterAll(async () => {
        await agent?.stop();
        await world?.engine.close();
        removeDir(dir);
    });

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${agent.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const expectError = async (res: Response, status: number, code: string, message?: RegExp) => {
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe(code);
        expect(typeof body.error.message).toBe('string');
        if (message) expect(body.error.message).toMatch(message);
    };
    const signedCount = () => agent.metrics.receiptsSigned.get();

    describe('registration and attestation', () => {
        it('registers its Worker on-chain with the enclave keys, its endpoint and its prices', async () => {
            const info = await openOnChain(world.chain, Worker.fromAddress(agent.worker)).getInfo();
            expect(info.status).toBe(WORKER_STATUS_ACTIVE);
            expect(intToPublicKey(info.attestation.claim.signingKey)).toEqual(agent.enclave.publicKeys.signingKey);
            expect(intToPublicKey(info.attestation.claim.encryptionKey)).toEqual(agent.enclave.publicKeys.encryptionKey);
            expect(info.attestation.claim.teeType).toBe(TEE_SIMULATED);
            expect(info.endpoint).toBe(agent.url);
            const prices = await openOnChain(world.chain, Worker.fromAddress(agent.worker)).getPrices();
            expect(prices.get(world.model)).toMatchObject({ prompt: PROMPT, completion: COMPLETION });
            expect(info.stake).toBe(toNano('10'));
        });

        it("serves evidence that passes the verifier and Root's policy, binding its keys and its Worker address", async () => {
            const res = await fetch(`${agent.url}/v1/attestation`);
            expect(res.status).toBe(200);
            const a = (await res.json()) as Record<string, any>;
            expect(a).toMatchObject({ version: 1, teeType: 'simulated', slot: '0', limits: { maxPromptBytes: 8192, maxTokens: 64 } });
            expect(Address.parse(a.worker).equals(agent.worker)).toBe(true);
            expect(Address.parse(a.owner).equals(wallet.address)).toBe(true);
            expect(a.models).toEqual([{ name: 'tiny', hash: world.modelHash, promptPrice: PROMPT.toString(), completionPrice: COMPLETION.toString() }]);
            const now = Number(world.net.blockchain.now);
            const verified = await new SimulatedVerifier().verify(Buffer.from(a.evidence, 'base64'), now);
            const measurements = await world.net.root.getMeasurements();
            const approval = checkAttestationPolicy(
                verified,
                { worker: Address.parse(a.worker), signingKey: Buffer.from(a.signingKey, 'hex'), encryptionKey: Buffer.from(a.encryptionKey, 'hex'), issuedAt: a.issuedAt },
                { allowedMeasurements: allowList([...measurements].map(([m, t]) => ({ measurement: m, teeType: Number(t) === 2 ? 'simulated' : 'tdx' }))), allowSimulatedTee: true, attestationTtl: 30 * 24 * 3600 },
                now,
            );
            // The on-chain claim names exactly these keys and this quote.
            const info = await openOnChain(world.chain, Worker.fromAddress(agent.worker)).getInfo();
            expect(info.attestation.claim.quoteHash).toBe(BigInt('0x' + approval.quoteHash.toString('hex')));
            expect(info.attestation.claim.measurement).toBe(BigInt('0x' + approval.measurement.toString('hex')));
            expect(info.attestation.claim.signingKey).toBe(BigInt('0x' + a.signingKey));
        });
    });

    describe('POST /v1/jobs', () => {
        it('answers an encrypted job with a receipt signed by the attested key over the exact input and answer', async () => {
            const before = signedCount();
            const { status, body, v } = await client.chat(1n, 'hi', 5);
            expect(status).toBe(200);
            const r = { ...v!, body };
            expect(r.answer).toEqual({ content: TINY_ANSWER.slice(0, 5), finish_reason: 'length' });
            expect(r.signatureValid).toBe(true);
            expect(r.resultHashMatches).toBe(true);
            expect(r.inputHashMatches).toBe(true);
            expect(r.receipt.channel.equals(client.address)).toBe(true);
            expect(r.receipt.seq).toBe(1n);
            expect(r.receipt.model).toBe(world.model);
            expect(r.receipt.promptTokens).toBe(BigInt(promptTokensOf('hi')));
            expect(r.receipt.completionTokens).toBe(5n);
            expect(r.body).toMatchObject({ seq: '1', promptTokens: '20', completionTokens: '5', cost: cost(20, 5).toString() });
            expect(signedCount()).toBe(before + 1);
        });

        it('streams chunks sealed to the client for the same (channel, seq), then the receipt, then done', async () => {
            const payload = { messages: [{ role: 'user', content: 'stream me' }], max_tokens: 6 };
            const { res, sealed } = await client.post(2n, payload, { stream: true });
            expect(res.status).toBe(200);
            expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
            const events = await readEvents(res);
            const chunks = events.filter((e) => e.event === 'chunk');
            expect(events.map((e) => e.event).slice(-2)).toEqual(['receipt', 'done']);
            const { openResponse } = await import('../../agents/core/envelope');
            const text = chunks
                .map((c) => {
                    const plain = openResponse(Buffer.from(c.data.envelope as string, 'base64'), {
                        replySecretKey: sealed.replyKeyPair.secretKey,
                        expectedSenderKey: Buffer.from(client.attestation.encryptionKey, 'hex'),
                        expect: { channel: client.address, seq: 2n },
                    });
                    const piece = JSON.parse(plain.toString()) as { index: number; delta: string };
                    expect(piece.index).toBe(c.data.index);
                    return piece.delta;
                })
                .join('');
            expect(text).toBe(TINY_ANSWER.slice(0, 6));
            expect(chunks.map((c) => c.data.index)).toEqual(chunks.map((_, i) => i));
            const receipt = events.find((e) => e.event === 'receipt')!.data as Record<string, string>;
            const v = client.verify(2n, payload, receipt, sealed.replyKeyPair.secretKey);
            expect(v.answer.content).toBe(text);
            expect(v.signatureValid).toBe(true);
            await client.pay();
        });

        it('returns the journalled answer for a repeated (channel, seq) with the same input, signing nothing new', async () => {
            const payload = { messages: [{ role: 'user', content: 'repeat' }], max_tokens: 4 };
            const first = await client.post(3n, payload);
            const firstBody = (await first.res.json()) as Record<string, string>;
            client.verify(3n, payload, firstBody, first.sealed.replyKeyPair.secretKey);
            await client.pay();
            const signed = signedCount();
            const servedBefore = agent.journal.books(client.address).served;
            // Same input, new envelope (fresh ephemeral key): still the journalled bytes.
            const again = await client.post(3n, payload);
            expect(again.res.status).toBe(200);
            const againBody = (await again.res.json()) as Record<string, string>;
            expect(againBody).toEqual(firstBody);
            expect(signedCount()).toBe(signed);
            expect(agent.journal.books(client.address).served).toBe(servedBefore);
            // The answer stays readable with the first request's key.
            expect(client.verify(3n, payload, againBody, first.sealed.replyKeyPair.secretKey).signatureValid).toBe(true);
            // A streaming repeat gets the receipt event only.
            const streamed = await client.post(3n, payload, { stream: true });
            const events = await readEvents(streamed.res);
            expect(events.map((e) => e.event)).toEqual(['receipt', 'done']);
            expect(events[0].data).toEqual(firstBody);
        });

        it('refuses a different input for a used seq with 409 seq_used, and signs nothing', async () => {
            const signed = signedCount();
            const { res } = await client.post(3n, { messages: [{ role: 'user', content: 'something else' }], max_tokens: 4 });
            await expectError(res, 409, 'seq_used');
            expect(signedCount()).toBe(signed);
            const record = agent.journal.job(client.address, 3n)!;
            expect(record.state).toBe('signed');
        });

        it('refuses work beyond what the channel can pay with 402, and serves again after a top-up and a voucher', async () => {
            const poor = await TestClient.open(world, agent, toNano('1'));
            const long = (seq: bigint) => poor.chat(seq, 'hi', 64, { pay: false });
            const first = await long(1n);
            expect(first.status).toBe(200);
            const firstCost = cost(20, 64);
            expect(agent.journal.books(poor.address).served).toBe(firstCost);
            const signed = signedCount();
            // 0.66 TON served + up to 0.66 TON more > the 1 TON deposit.
            const refused = await long(2n);
            expect(refused.status).toBe(402);
            expect((refused.body as any).error.code).toBe('payment_required');
            expect((refused.body as any).error.message).toMatch(/top up/);
            expect(signedCount()).toBe(signed);
            expect(agent.journal.job(poor.address, 2n)).toBeUndefined();

            await poor.channel.send(poor.treasury.getSender(), { value: toNano('3') }, { $$type: 'TopUp', queryId: 2n });
            expect((await long(2n)).status).toBe(200);
            // Two jobs served and no voucher: the client owes more than one job's cost.
            const owes = await long(3n);
            expect(owes.status).toBe(402);
            expect((owes.body as any).error.message).toMatch(/voucher/);
            expect((await poor.voucher(2n * firstCost)).status).toBe(200);
            expect((await long(3n)).status).toBe(200);
        });

        it('refuses a job on a channel that does not exist (402) or belongs to another worker (400)', async () => {
            const stranger = await world.net.blockchain.treasury('stranger');
            const nowhere = (await channelFor(world.net.root.address, stranger.address, agent.worker)).address;
            const sealed = sealRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })), {
                recipientKey: agent.enclave.publicKeys.encryptionKey,
                context: { channel: nowhere, seq: 1n },
            });
            // Any signature: the channel is refused before it is checked (there is no client key to check it against).
            const body = (channel: Address, envelope = sealed.envelope) => ({ channel: channel.toString(), seq: '1', model: world.modelHash, envelope: envelope.toString('base64'), auth: Buffer.alloc(64, 1).toString('base64') });
            await expectError(await post('/v1/jobs', body(nowhere)), 402, 'payment_required', /no channel/);

            // A genuine channel of a second worker of the same Root.
            const other = await startAgent(world, workerConfig(world, tempDir('worker-other'), { slot: 1 }), wallet);
            try {
                const theirs = await TestClient.open(world, other, toNano('2'));
                const misrouted = sealRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })), {
                    recipientKey: agent.enclave.publicKeys.encryptionKey,
                    context: { channel: theirs.address, seq: 1n },
                });
                await expectError(await post('/v1/jobs', body(theirs.address, misrouted.envelope)), 400, 'bad_request', /not with this worker/);
            } finally {
                await other.stop();
            }
        });
    });

    describe('POST /v1/vouchers', () => {
        it('keeps the highest voucher: a higher one replaces it, a lower one is 409 voucher_stale, the same one is accepted again', async () => {
            const base = client.owed;
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(base);
            const up = (n: bigint) => (base + n).toString();
            expect(await client.voucher(base + 100_000n)).toEqual({ status: 200, body: { cumulative: up(100_000n) } });
            expect(await client.voucher(base + 200_000n)).toEqual({ status: 200, body: { cumulative: up(200_000n) } });
            const stale = await client.voucher(base + 150_000n);
            expect(stale.status).toBe(409);
            expect((stale.body as any).error.code).toBe('voucher_stale');
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(base + 200_000n);
            expect(await client.voucher(base + 200_000n)).toEqual({ status: 200, body: { cumulative: up(200_000n) } });
        });

        it("refuses a voucher not signed by the channel's client key, or signed for another channel (400)", async () => {
            const { ed25519FromSeed } = await import('../../agents/core/ed25519');
            const forged = await client.voucher(10n ** 12n, { key: ed25519FromSeed(Buffer.alloc(32, 9)) });
            expect(forged.status).toBe(400);
            expect((forged.body as any).error.message).toMatch(/signature/);
            const elsewhere = await client.voucher(10n ** 12n, { channel: new Address(0, Buffer.alloc(32, 1)) });
            expect(elsewhere.status).toBe(400);
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(client.owed + 200_000n);
        });
    });

    describe('a voucher sent along with a job (POST /v1/jobs `voucher`)', () => {
        const payload = (content: string) => ({ messages: [{ role: 'user', content }], max_tokens: 3 });

        it('is checked and kept before the job, and counts for its money check', async () => {
            const held = agent.journal.books(client.address).voucher!.cumulative;
            const { res, sealed } = await client.post(300n, payload('with a voucher'), { voucher: client.voucherField(held + 1_000n) });
            expect(res.status).toBe(200);
            client.verify(300n, payload('with a voucher'), (await res.json()) as Record<string, string>, sealed.replyKeyPair.secretKey);
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(held + 1_000n);
        });

        it('a lower voucher than the one held is ignored and the job still runs; the held one stays', async () => {
            const held = agent.journal.books(client.address).voucher!.cumulative;
            const { res } = await client.post(301n, payload('an old voucher'), { voucher: client.voucherField(held - 1n) });
            expect(res.status).toBe(200);
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(held);
        });

        it('a forged or malformed voucher refuses the job (400), signs nothing and keeps the held voucher', async () => {
            const held = agent.journal.books(client.address).voucher!.cumulative;
            const signed = signedCount();
            const { ed25519FromSeed } = await import('../../agents/core/ed25519');
            const forged = client.voucherField(held + 5_000n, ed25519FromSeed(Buffer.alloc(32, 7)));
            await expectError((await client.post(302n, payload('forged'), { voucher: forged })).res, 400, 'bad_request', /voucher's signature/);
            await expectError((await client.post(302n, payload('forged'), { voucher: { cumulative: 5 } })).res, 400, 'bad_request', /^voucher: cumulative must be/);
            await expectError((await client.post(302n, payload('forged'), { voucher: { ...forged, extra: 1 } })).res, 400, 'bad_request', /^voucher: unknown field "extra"/);
            await expectError((await client.post(302n, payload('forged'), { voucher: 'x' })).res, 400, 'bad_request', /^voucher: the body must be a JSON object/);
            expect(signedCount()).toBe(signed);
            expect(agent.journal.job(client.address, 302n)).toBeUndefined();
            expect(agent.journal.books(client.address).voucher?.cumulative).toBe(held);
        });
    });

    describe('GET /v1/results/:channel/:seq', () => {
        it('serves a signed result and answers 404 until a result exists', async () => {
            const res = await fetch(`${agent.url}/v1/results/${client.address.toString()}/1`);
            expect(res.status).toBe(200);
            const body = (await res.json()) as Record<string, string>;
            const cell = Cell.fromBoc(Buffer.from(body.receipt, 'base64'))[0];
            expect(parseReceipt(cell).seq).toBe(1n);
            expect(verifySigned({ cell, signature: Buffer.from(body.signature, 'base64') }, agent.enclave.publicKeys.signingKey)).toBe(true);
            await expectError(await fetch(`${agent.url}/v1/results/${client.address.toString()}/999`), 404, 'not_found');
            await expectError(await fetch(`${agent.url}/v1/results/not-an-address/1`), 400, 'bad_request');
            await expectError(await fetch(`${agent.url}/v1/results/${client.address.toString()}/-1`), 400, 'bad_request');
        });
    });

    describe('malformed and oversized requests get clear JSON errors at every endpoint', () => {
        const valid = () => {
            const sealed = sealRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'ok' }] })), {
                recipientKey: agent.enclave.publicKeys.encryptionKey,
                context: { channel: client.address, seq: 50n },
            });
            return { channel: client.address.toString(), seq: '50', model: world.modelHash, envelope: sealed.envelope.toString('base64'), auth: client.auth(50n, sealed.envelope) };
        };
        // The client itself sending broken envelopes: signed, so the envelope's own checks answer.
        const signedBy = (fields: { seq: string; envelope: string }) => ({ ...fields, auth: client.auth(BigInt(fields.seq), Buffer.from(fields.envelope, 'base64')) });

        it('POST /v1/jobs: bad JSON, wrong shapes and values, each naming what is wrong (400)', async () => {
            const signed = signedCount();
            await expectError(await post('/v1/jobs', '{"channel":'), 400, 'bad_request', /not valid JSON/);
            await expectError(await post('/v1/jobs', ''), 400, 'bad_request', /empty/);
            await expectError(await post('/v1/jobs', '[1,2]'), 400, 'bad_request', /JSON object/);
            await expectError(await post('/v1/jobs', { ...valid(), extra: 1 }), 400, 'bad_request', /unknown field "extra"/);
            await expectError(await post('/v1/jobs', { ...valid(), channel: 'nope' }), 400, 'bad_request', /channel/);
            await expectError(await post('/v1/jobs', { ...valid(), seq: 50 }), 400, 'bad_request', /seq must be/);
            await expectError(await post('/v1/jobs', { ...valid(), seq: '18446744073709551616' }), 400, 'bad_request', /seq/);
            await expectError(await post('/v1/jobs', { ...valid(), seq: '9223372036854775808' }), 400, 'bad_request', /on-chain job range/);
            await expectError(await post('/v1/jobs', { ...valid(), model: 'ab' }), 400, 'bad_request', /model/);
            await expectError(await post('/v1/jobs', { ...valid(), model: 'ab'.repeat(32) }), 400, 'bad_request', /serves model/);
            await expectError(await post('/v1/jobs', { ...valid(), envelope: '***' }), 400, 'bad_request', /base64/);
            await expectError(await post('/v1/jobs', { ...valid(), stream: 'yes' }), 400, 'bad_request', /stream/);
            const tampered = Buffer.from(valid().envelope, 'base64');
            tampered[tampered.length - 1] ^= 1;
            await expectError(await post('/v1/jobs', signedBy({ ...valid(), envelope: tampered.toString('base64') })), 400, 'bad_request', /does not decrypt/);
            await expectError(await post('/v1/jobs', signedBy({ ...valid(), envelope: tampered.subarray(0, 50).toString('base64') })), 400, 'bad_request', /truncated/);
            // An envelope sealed for seq 50 replayed as seq 51.
            await expectError(await post('/v1/jobs', signedBy({ ...valid(), seq: '51' })), 400, 'bad_request', /replay/);
            expect(signedCount()).toBe(signed);
        });

        it('POST /v1/jobs: requests the model cannot take are refused before anything is journalled', async () => {
            const job = (seq: bigint, payload: unknown) => client.post(seq, payload).then((r) => r.res);
            await expectError(await job(60n, { messages: [] }), 400, 'bad_request', /messages/);
            await expectError(await job(61n, { messages: [{ role: 'user', content: 'x' }], max_tokens: 65 }), 400, 'bad_request', /above this worker's limit/);
            await expectError(await job(62n, { messages: [{ role: 'user', content: 'x' }], temperature: 1 }), 400, 'bad_request', /unknown field "temperature"/);
            await expectError(await job(63n, { messages: [{ role: 'user', content: 'x'.repeat(9000) }] }), 413, 'too_large', /maxPromptBytes/);
            // Within maxPromptBytes, but 618 tokens for the tiny model's context of 512.
            await expectError(await job(64n, { messages: [{ role: 'user', content: 'x'.repeat(600) }] }), 400, 'bad_request', /the prompt is 618 tokens, over the model's context of 511 tokens/);
            for (const seq of [60n, 61n, 62n, 63n, 64n]) expect(agent.journal.job(client.address, seq)).toBeUndefined();
        });

        it('POST /v1/jobs: a body over http.maxBodyBytes is 413, whether declared or streamed, and the connection is closed', async () => {
            const huge = 'x'.repeat(1024 * 1024 + 10);
            await expectError(await post('/v1/jobs', huge), 413, 'too_large', /at most 1048576/);
            // Chunked (no Content-Length): refused once the limit is crossed.
            const status = await new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
                const url = new URL(`${agent.url}/v1/jobs`);
                const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
                    let body = '';
                    res.on('data', (c) => (body += c));
                    res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
                });
                req.on('error', reject);
                for (let i = 0; i < 20; i++) req.write('y'.repeat(64 * 1024));
                req.end();
            });
            expect(status.status).toBe(413);
            expect(JSON.parse(status.body).error.code).toBe('too_large');
            expect(status.connection).toBe('close');
        });

        it('POST /v1/vouchers: bad JSON, missing or malformed fields (400) and oversized bodies (413)', async () => {
            await expectError(await post('/v1/vouchers', 'nope'), 400, 'bad_request', /not valid JSON/);
            await expectError(await post('/v1/vouchers', { channel: client.address.toString(), cumulative: '1' }), 400, 'bad_request', /signature/);
            await expectError(await post('/v1/vouchers', { channel: client.address.toString(), cumulative: 'one', signature: 'AA==' }), 400, 'bad_request', /cumulative/);
            await expectError(await post('/v1/vouchers', { channel: client.address.toString(), cumulative: '1', signature: 'AAAA' }), 400, 'bad_request', /64 bytes/);
            await expectError(await post('/v1/vouchers', { channel: client.address.toString(), cumulative: '1', signature: 'A'.repeat(5000) }), 413, 'too_large');
        });

        it('GET endpoints refuse a body; wrong methods get 405 with Allow; unknown paths 404', async () => {
            for (const path of ['/v1/attestation', '/healthz', '/metrics', `/v1/results/${client.address.toString()}/1`]) {
                const res = await fetch(`${agent.url}${path}`, { method: 'POST', body: '{}' });
                await expectError(res, 405, 'method_not_allowed');
                expect(res.headers.get('allow')).toBe('GET');
                const withBody = await new Promise<number>((resolve, reject) => {
                    const url = new URL(`${agent.url}${path}`);
                    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers: { 'content-length': '2' } }, (r) => {
                        r.resume();
                        resolve(r.statusCode!);
                    });
                    req.on('error', reject);
                    req.end('{}');
                });
                expect(withBody).toBe(400);
            }
            for (const path of ['/v1/jobs', '/v1/vouchers']) {
                const res = await fetch(`${agent.url}${path}`);
                await expectError(res, 405, 'method_not_allowed');
                expect(res.headers.get('allow')).toBe('POST');
            }
            await expectError(await fetch(`${agent.url}/v1/nothing`), 404, 'not_found');
        });

        it('answers malformed HTTP with a JSON 400 and keeps serving', async () => {
            const raw = await new Promise<string>((resolve, reject) => {
                const url = new URL(agent.url);
                const socket = connect(Number(url.port), url.hostname, () => socket.write('GARBAGE \u0001 HTTP/9\r\n\r\n'));
                let data = '';
                socket.on('data', (c) => (data += c));
                socket.on('end', () => resolve(data));
                socket.on('error', reject);
            });
            expect(raw).toMatch(/^HTTP\/1.1 400/);
            expect(raw).toMatch(/"code":"bad_request"/);
            expect((await fetch(`${agent.url}/healthz`)).status).toBe(200);
        });
    });

    describe('health and metrics', () => {
        it('reports health with the queue and the chain', async () => {
            const res = await fetch(`${agent.url}/healthz`);
            const body = (await res.json()) as Record<string, any>;
            expect(body).toMatchObject({ status: 'ok', workerStatus: 'active', queue: { inFlight: 0, queued: 0, maxConcurrent: 1, maxQueued: 4 }, chain: { kind: 'sandbox' } });
            expect(Address.parse(body.worker).equals(agent.worker)).toBe(true);
        });

        it('exposes Prometheus metrics that count what happened', async () => {
            const res = await fetch(`${agent.url}/metrics`);
            expect(res.headers.get('content-type')).toMatch(/text\/plain; version=0.0.4/);
            const text = await res.text();
            expect(text).toMatch(/# TYPE cocoon_worker_receipts_signed_total counter/);
            const signed = Number(/^cocoon_worker_receipts_signed_total (\d+)$/m.exec(text)![1]);
            expect(signed).toBe(signedCount());
            expect(signed).toBeGreaterThanOrEqual(5);
            expect(text).toMatch(/cocoon_worker_jobs_total\{outcome="repeat",path="fast"\} [1-9]/);
            expect(text).toMatch(/cocoon_worker_http_requests_total\{route="jobs",status="402"\} [1-9]/);
            // One lower voucher sent on its own (409) and one sent along with a job (ignored).
            expect(text).toMatch(/cocoon_worker_vouchers_total\{outcome="stale"\} 2/);
            expect(text).toMatch(/^cocoon_worker_draining 0$/m);
        });
    });
});

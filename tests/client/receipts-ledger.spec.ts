import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell } from '@ton/core';
import { ed25519Generate } from '../../agents/core/ed25519';
import { sealRequest } from '../../agents/core/envelope';
import { SimulatedEnclave } from '../../agents/enclave/simulated';
import { JournalStore } from '../../agents/store/store';
import { VerifiedWorker } from '../../agents/client/attestation';
import { LedgerError, ReceiptRejectedError } from '../../agents/client/errors';
import { ChannelRecord, ClientLedger, walletDerivedVoucherKeys } from '../../agents/client/ledger';
import { bufferToUint256, jobCost, sha256, verifyJobAnswer } from '../../agents/client/receipts';
import { DEFAULT_SELECTION, rankWorkers } from '../../agents/client/selection';
import { SseParser } from '../../agents/client/worker-api';
import { WalletKey } from '../../agents/chain/wallet';
import { parseVoucher, signReceipt, verifyCell, voucherCell } from '../../wrappers';

const channel = new Address(0, Buffer.alloc(32, 0xc1));
const MODEL = 0xabcdefn;
const prices = { prompt: 1000n, completion: 2000n };

describe('receipts are checked before anything is owed', () => {
    const enclave = new SimulatedEnclave();
    const keys = enclave.publicKeys;

    function job(seq = 1n, tamper: { receiptSeed?: Buffer; model?: bigint; tokens?: { prompt: bigint; completion: bigint }; cost?: string; otherOutput?: boolean } = {}) {
        const input = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 }));
        const sealed = sealRequest(input, { recipientKey: keys.encryptionKey, context: { channel, seq } });
        const opened = enclave.openRequest(sealed.envelope, { channel, seq });
        const output = Buffer.from(JSON.stringify({ content: 'hi there', finish_reason: 'stop' }));
        const delivered = tamper.otherOutput ? Buffer.from(JSON.stringify({ content: 'something else', finish_reason: 'stop' })) : output;
        const tokens = tamper.tokens ?? { prompt: 12n, completion: 5n };
        const fields = {
            channel,
            seq,
            model: tamper.model ?? MODEL,
            inputHash: bufferToUint256(sha256(opened.payload)),
            resultHash: bufferToUint256(sha256(output)),
            promptTokens: tokens.prompt,
            completionTokens: tokens.completion,
        };
        const cell = signReceipt(fields, Buffer.alloc(32)).cell;
        const signature = tamper.receiptSeed ? signReceipt(fields, tamper.receiptSeed).signature : enclave.sign(cell.hash());
        const answer = {
            seq: seq.toString(),
            envelope: enclave.sealResponse(delivered, opened).toString('base64'),
            receipt: cell.toBoc().toString('base64'),
            signature: signature.toString('base64'),
            promptTokens: tokens.prompt.toString(),
            completionTokens: tokens.completion.toString(),
            cost: tamper.cost ?? jobCost(prices, tokens.prompt, tokens.completion).toString(),
        };
        const expected = { channel, seq, model: MODEL, input, signingKey: keys.signingKey, encryptionKey: keys.encryptionKey, replySecretKey: sealed.replyKeyPair.secretKey, prices, maxTokens: 16 };
        return { answer, expected };
    }

    it('accepts an answer whose receipt matches the input, output, tokens and price', () => {
        const { answer, expected } = job();
        const verified = verifyJobAnswer(answer, expected);
        expect(verified.output).toEqual({ content: 'hi there', finish_reason: 'stop' });
        expect(verified.cost).toBe(12n * 1000n + 5n * 2000n);
        expect(verifyCell(verified.receiptCell, verified.signature, keys.signingKey)).toBe(true);
    });

    const reason = (fn: () => unknown): string => {
        try {
            fn();
        } catch (error) {
            expect(error).toBeInstanceOf(ReceiptRejectedError);
            return (error as ReceiptRejectedError).reason;
        }
        throw new Error('expected a ReceiptRejectedError');
    };

    it('refuses a receipt signed by another key than the attested one', () => {
        const { answer, expected } = job(1n, { receiptSeed: ed25519Generate().seed });
        expect(reason(() => verifyJobAnswer(answer, expected))).toBe('signature');
    });

    it('refuses a receipt for another seq, channel or model', () => {
        const { answer, expected } = job(2n);
        expect(reason(() => verifyJobAnswer(answer, { ...expected, seq: 3n }))).toBe('seq');
        expect(reason(() => verifyJobAnswer(answer, { ...expected, channel: new Address(0, Buffer.alloc(32, 7)) }))).toBe('channel');
        const other = job(2n, { model: 999n });
        expect(reason(() => verifyJobAnswer(other.answer, other.expected))).toBe('model');
    });

    it('refuses a receipt over another input, or an output other than the one delivered', () => {
        const { answer, expected } = job();
        expect(reason(() => verifyJobAnswer(answer, { ...expected, input: Buffer.from('{"messages":[]}') }))).toBe('input-hash');
        const swapped = job(1n, { otherOutput: true });
        expect(reason(() => verifyJobAnswer(swapped.answer, swapped.expected))).toBe('result-hash');
    });

    it('refuses a cost that is not tokens × snapshot prices, more tokens than asked, or more than allowed', () => {
        const overcharged = job(1n, { cost: '999999' });
        expect(reason(() => verifyJobAnswer(overcharged.answer, overcharged.expected))).toBe('cost');
        const long = job(1n, { tokens: { prompt: 1n, completion: 17n } });
        expect(reason(() => verifyJobAnswer(long.answer, long.expected))).toBe('tokens');
        const { answer, expected } = job();
        expect(reason(() => verifyJobAnswer(answer, { ...expected, maxCost: 1000n }))).toBe('cost');
        expect(reason(() => verifyJobAnswer({ ...answer, completionTokens: '4' }, expected))).toBe('tokens');
    });

    it('refuses an answer sealed by another enclave or tampered in transit', () => {
        const { answer, expected } = job();
        expect(reason(() => verifyJobAnswer(answer, { ...expected, encryptionKey: new SimulatedEnclave().publicKeys.encryptionKey }))).toBe('envelope-wrong-sender');
        const bytes = Buffer.from(answer.envelope, 'base64');
        bytes[bytes.length - 1] ^= 1;
        expect(reason(() => verifyJobAnswer({ ...answer, envelope: bytes.toString('base64') }, expected))).toBe('envelope-authentication');
        expect(reason(() => verifyJobAnswer({ ...answer, receipt: 'AAAA' }, expected))).toBe('malformed');
    });
});

describe('the client ledger: seqs and vouchers survive restarts and never go backwards', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const walletKey = new WalletKey(Buffer.alloc(32, 5));
    const voucherKeys = walletDerivedVoucherKeys(walletKey);

    function record(): ChannelRecord {
        return {
            address: channel,
            root: new Address(0, Buffer.alloc(32, 1)),
            worker: new Address(0, Buffer.alloc(32, 2)),
            status: 'open',
            signingKey: Buffer.alloc(32, 3),
            encryptionKey: Buffer.alloc(32, 4),
            prices: new Map([[MODEL.toString(16).padStart(64, '0'), prices]]),
            voucherKey: voucherKeys.keyFor(channel).publicKey,
            nextSeq: 1n,
            owed: 0n,
            deliveredCumulative: 0n,
            openedAt: 1,
        };
    }

    const receipt = (seq: bigint, cost: bigint) => ({ seq, cell: beginCell().storeUint(seq, 64).endCell().toBoc(), signature: Buffer.alloc(64), cost });

    it('derives the same voucher key for a channel from the same wallet, and different keys for different channels', () => {
        const again = walletDerivedVoucherKeys(new WalletKey(Buffer.alloc(32, 5)));
        expect(again.keyFor(channel).publicKey.equals(voucherKeys.keyFor(channel).publicKey)).toBe(true);
        expect(voucherKeys.keyFor(new Address(0, Buffer.alloc(32, 9))).publicKey.equals(voucherKeys.keyFor(channel).publicKey)).toBe(false);
        expect(walletDerivedVoucherKeys(new WalletKey(Buffer.alloc(32, 6))).keyFor(channel).publicKey.equals(voucherKeys.keyFor(channel).publicKey)).toBe(false);
    });

    it('never hands out a seq twice, across a restart, and lifts the counter to the chain when asked', () => {
        const store = JournalStore.open(join(dir, 'c.journal'));
        const ledger = new ClientLedger(store);
        ledger.saveChannel(record());
        expect([ledger.allocateSeq(channel), ledger.allocateSeq(channel)]).toEqual([1n, 2n]);
        store.close();
        const reopened = new ClientLedger(JournalStore.open(join(dir, 'c.journal')));
        expect(reopened.allocateSeq(channel)).toBe(3n);
        expect(reopened.allocateSeq(channel, 10n)).toBe(10n);
        expect(reopened.allocateSeq(channel)).toBe(11n);
        // Re-saving the channel (a re-open) never moves the counter back.
        reopened.saveChannel(record());
        expect(reopened.allocateSeq(channel)).toBe(12n);
    });

    it('signs cumulative vouchers over several receipts, persisted before they leave, never lower after a restart', () => {
        const store = JournalStore.open(join(dir, 'c.journal'));
        const ledger = new ClientLedger(store);
        ledger.saveChannel(record());
        const key = voucherKeys.keyFor(channel);
        const v1 = ledger.recordReceiptAndSignVoucher(channel, receipt(1n, 100n), key);
        const v2 = ledger.recordReceiptAndSignVoucher(channel, receipt(2n, 50n), key);
        expect([v1.cumulative, v2.cumulative]).toEqual([100n, 150n]);
        const cell = voucherCell({ channel, cumulative: 150n });
        expect(verifyCell(cell, v2.signature, key.publicKey)).toBe(true);
        expect(parseVoucher(cell).cumulative).toBe(150n);
        store.close();

        const reopened = new ClientLedger(JournalStore.open(join(dir, 'c.journal')));
        expect(reopened.lastVoucher(channel)?.cumulative).toBe(150n);
        const v3 = reopened.recordReceiptAndSignVoucher(channel, receipt(3n, 0n), key);
        expect(v3).toEqual(v2);
        expect(reopened.recordReceiptAndSignVoucher(channel, receipt(4n, 25n), key).cumulative).toBe(175n);
        expect(reopened.receipts(channel).map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n]);
    });

    it('refuses to sign past the deposit, or with a key the channel was not opened with', () => {
        const ledger = new ClientLedger(JournalStore.open(join(dir, 'c.journal')));
        ledger.saveChannel(record());
        const key = voucherKeys.keyFor(channel);
        expect(() => ledger.recordReceiptAndSignVoucher(channel, receipt(1n, 200n), key, 150n)).toThrow(LedgerError);
        expect(ledger.channel(channel)?.owed).toBe(0n);
        expect(() => ledger.recordReceiptAndSignVoucher(channel, receipt(1n, 1n), ed25519Generate())).toThrow(/not the key channel/);
        expect(() => ledger.allocateSeq(new Address(0, Buffer.alloc(32, 0xee)))).toThrow(/open it first/);
    });
});

describe('worker selection by price, reputation and latency', () => {
    const model = MODEL.toString(16).padStart(64, '0');
    function worker(n: number, price: bigint, latencyMs: number, stats: Partial<Record<'jobsCompleted' | 'jobsExpired' | 'disputesLost' | 'slashCount', bigint>> = {}): VerifiedWorker {
        return {
            address: new Address(0, Buffer.alloc(32, n)),
            models: new Map([[model, { name: 'm', prompt: price, completion: price }]]),
            latencyMs,
            record: { stats: { $$type: 'WorkerStats', jobsCompleted: 0n, jobsExpired: 0n, disputesLost: 0n, slashCount: 0n, totalSlashed: 0n, tokensServed: 0n, earned: 0n, ...stats } },
        } as unknown as VerifiedWorker;
    }

    it('prefers the cheaper worker when reputation and latency are equal', () => {
        const ranked = rankWorkers([worker(1, 20n, 10), worker(2, 10n, 10)], model);
        expect(ranked.map((r) => r.worker.address.hash[0])).toEqual([2, 1]);
    });

    it('prefers a slightly dearer worker with a clean record over one whose jobs expire', () => {
        const ranked = rankWorkers([worker(1, 10n, 10, { jobsCompleted: 5n, jobsExpired: 5n }), worker(2, 11n, 10, { jobsCompleted: 10n })], model);
        expect(ranked[0].worker.address.hash[0]).toBe(2);
        expect(ranked[1].failureShare).toBeCloseTo(5 / 11);
    });

    it('counts measured latency, leaves out workers without the model or above the price cap', () => {
        const ranked = rankWorkers([worker(1, 10n, 2000), worker(2, 10n, 20)], model);
        expect(ranked[0].worker.address.hash[0]).toBe(2);
        expect(rankWorkers([worker(1, 10n, 1)], 'ff'.repeat(32))).toEqual([]);
        expect(rankWorkers([worker(1, 10n, 1), worker(2, 1000n, 1)], model, { ...DEFAULT_SELECTION, maxJobPrice: 10n * 400n })).toHaveLength(1);
    });
});

describe('server-sent events parsing', () => {
    it('splits events across arbitrary chunk boundaries, with CRLF and comments', () => {
        const parser = new SseParser();
        const text = ': hello\r\nevent: chunk\r\ndata: {"index":0}\r\n\r\nevent: receipt\ndata: {"a":\ndata: 1}\n\nevent: done\ndata:\n\n';
        const events = [];
        for (const ch of text) events.push(...parser.push(ch));
        expect(events).toEqual([
            { event: 'chunk', data: '{"index":0}' },
            { event: 'receipt', data: '{"a":\n1}' },
            { event: 'done', data: '' },
        ]);
    });
});

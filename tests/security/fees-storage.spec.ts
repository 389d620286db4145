// Fees, gas and storage under attack: the flows under a fee configuration ten times today's
// (gas and forward prices), worst-case gas at the bounds (maxOpenJobs open jobs for a verdict,
// the largest inline input and output), years of storage rent (time travel), and a stranger's
// attempts to grow any contract's storage.
import { Address, beginCell, Cell, toNano } from '@ton/core';
import '@ton/test-utils';
import { loadConfig, updateConfig, SendMessageResult } from '@ton/sandbox';
import * as W from '../../wrappers';
import { auditVerdictBody, signReceipt } from '../../wrappers/signed';
import { createNetwork, devParams, registerWorker, snapshotOf } from '../helpers/cocoon';
import { commitResult, expectBooksCovered, gasOn, openedChannel, postJob, receiptFor, sentTo, settle, voucher } from '../helpers/channel';
import { bodies, contractsOf, createSecurityNet, expectBooks, feesOfTxs, partiesOf, SecurityNet, sendFrom, sumOf } from './fixture';
import { Tally } from './record';

const tally = new Tally('fees-storage');
let s: SecurityNet;
let restore: () => Promise<void>;

beforeAll(async () => {
    s = await createSecurityNet();
    restore = await snapshotOf(s.blockchain);
}, 120_000);
beforeEach(async () => restore());
afterAll(() => tally.write());

/** Runs `act` and checks exact value conservation over the fixture's parties, and the books. */
async function conserved(act: () => Promise<SendMessageResult>): Promise<SendMessageResult> {
    const parties = partiesOf(s);
    const before = await sumOf(s.blockchain, parties);
    const result = await act();
    expect(before - (await sumOf(s.blockchain, parties))).toBe(feesOfTxs(result.transactions));
    await expectBooks(s);
    tally.add('invariantChecks', 2);
    return result;
}

function succeeded(result: SendMessageResult, opcode: number): boolean {
    return result.transactions.some((tx) => {
        const body = tx.inMessage?.body?.beginParse();
        if (!body || body.remainingBits < 32 || body.loadUint(32) !== opcode) return false;
        return tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success;
    });
}

/** Multiplies the basechain gas prices and forward prices by `k`. */
function scaleFees(k: bigint): void {
    const config = loadConfig(s.blockchain.config);
    const gas = config[21].anon0;
    const scaledGas = gas.kind === 'GasLimitsPrices_gas_flat_pfx' && gas.other.kind === 'GasLimitsPrices_gas_prices_ext'
        ? { ...gas, flat_gas_price: gas.flat_gas_price * k, other: { ...gas.other, gas_price: gas.other.gas_price * k } }
        : (() => { throw new Error(`unexpected gas prices layout ${gas.kind}`); })();
    const fwd = config[25].anon0;
    const scaledFwd = { ...fwd, lump_price: fwd.lump_price * k, bit_price: fwd.bit_price * k, _cell_price: fwd._cell_price * k };
    s.blockchain.setConfig(updateConfig(s.blockchain.config, { kind: 'ConfigParam_config_gas_prices', anon0: scaledGas }, { kind: 'ConfigParam_config_fwd_prices', anon0: scaledFwd }));
}

describe('a fee configuration ten times today\'s (gas x10, forward x10)', () => {
    it('operationValues follows the new prices, and the whole channel life works at them', async () => {
        const old = await s.channel.channel.getOperationValues();
        scaleFees(10n);
        const now = await s.channel.channel.getOperationValues();
        expect(now.postJob).toBeGreaterThan(old.postJob * 5n);
        const c = s.channel.channel;
        const v = voucher(c.address, toNano('1'), s.channel.clientKey);
        expect(succeeded(await conserved(() => c.send(s.workerA.owner.getSender(), { value: now.settle }, { $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false })), 0x43000003)).toBe(true);
        const r = signReceipt(receiptFor(s.channel, s.jobSeq), s.workerA.keys.signing.seed);
        expect(succeeded(await conserved(() => c.send(s.stranger.getSender(), { value: now.commitResult }, { $$type: 'CommitResult', queryId: 0n, seq: s.jobSeq, receipt: r.cell, signature: r.signature, output: null })), 0x43000005)).toBe(true);
        const state = await c.getState();
        expect(succeeded(await conserved(() => c.send(s.client.getSender(), { value: now.postJob }, { $$type: 'PostJob', queryId: 0n, seq: state.nextSeq, model: receiptFor(s.channel, 0n).model, maxPayment: toNano('0.5'), inputHash: 1n, deadline: BigInt(s.blockchain.now!) + 300n, input: null })), 0x43000004)).toBe(true);
        s.blockchain.now = s.blockchain.now! + 3600;
        expect(succeeded(await conserved(() => c.send(s.stranger.getSender(), { value: now.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: s.jobSeq })), 0x43000006)).toBe(true);
        expect(succeeded(await conserved(() => c.send(s.stranger.getSender(), { value: now.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: state.nextSeq })), 0x43000007)).toBe(true);
        expect(succeeded(await conserved(() => c.send(s.client.getSender(), { value: now.requestClose }, { $$type: 'RequestClose', queryId: 0n })), 0x43000009)).toBe(true);
        s.blockchain.now = s.blockchain.now! + 3601;
        expect(succeeded(await conserved(() => c.send(s.stranger.getSender(), { value: now.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n })), 0x4300000a)).toBe(true);
        expect((await s.blockchain.getContract(c.address)).balance).toBe(0n);
        tally.add('feeScenarios');
    });

    it('agents that still send yesterday\'s values are refused or served, never lose money', async () => {
        const old = await s.channel.channel.getOperationValues();
        scaleFees(10n);
        const c = s.channel.channel;
        const v = voucher(c.address, toNano('1'), s.channel.clientKey);
        const state = await c.getState();
        const sends: [string, () => Promise<SendMessageResult>][] = [
            ['Settle', () => c.send(s.workerA.owner.getSender(), { value: old.settle }, { $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false })],
            ['PostJob', () => c.send(s.client.getSender(), { value: old.postJob }, { $$type: 'PostJob', queryId: 0n, seq: state.nextSeq, model: receiptFor(s.channel, 0n).model, maxPayment: toNano('0.5'), inputHash: 1n, deadline: BigInt(s.blockchain.now!) + 300n, input: null })],
            ['TopUp', () => c.send(s.stranger.getSender(), { value: old.topUp }, { $$type: 'TopUp', queryId: 0n })],
            ['RequestClose', () => c.send(s.client.getSender(), { value: old.requestClose }, { $$type: 'RequestClose', queryId: 0n })],
            ['SyncParams', () => s.workerA.worker.send(s.stranger.getSender(), { value: toNano('0.05') }, { $$type: 'SyncParams', queryId: 0n })],
            ['AddStake', () => s.workerA.worker.send(s.workerA.owner.getSender(), { value: toNano('1.02') }, { $$type: 'AddStake', queryId: 0n, amount: toNano('1') })],
        ];
        for (const [name, send] of sends) {
            const result = await conserved(send);
            tally.note(`fees x10, yesterday's value: ${name} ${result.transactions.some((t) => t.description.type === 'generic' && t.description.aborted) ? 'refused (bounced)' : 'served'}`);
            tally.add('feeScenarios');
        }
    });
});

/** The largest inline payload: MAX_PAYLOAD_CELLS cells in a chain, each full. */
function largestPayload(): Cell {
    let payload: Cell | null = null;
    for (let i = 0; i < Number(W.MAX_PAYLOAD_CELLS); i++) {
        const b = beginCell();
        for (let j = 0; j < 15; j++) b.storeUint(0xabcdef0123456789n + BigInt(i * 16 + j), 64);
        b.storeUint(0, 1023 - 15 * 64);
        if (payload) b.storeRef(payload);
        payload = b.endCell();
    }
    return payload!;
}

// Each job receiver keeps a fixed gas budget from the value (docs/gas.md); what it uses above it
// would be paid by the channel's unbooked rest. At the bounds (MAX_OPEN_JOBS open jobs, the largest
// inline payload) every one must stay within GAS_MARGIN of what it keeps.
const GAS_MARGIN = 0.9;

/** Compute gas of the `nth` transaction on `address` in the trace. */
function nthGasOn(result: SendMessageResult, address: Address, nth: number): bigint {
    const tx = result.transactions.filter((t) => t.inMessage?.info.dest instanceof Address && t.inMessage.info.dest.equals(address))[nth];
    if (!tx || tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') throw new Error('nthGasOn: no compute phase');
    return tx.description.computePhase.gasUsed;
}

describe('gas at the bounds', () => {
    it(`at maxOpenJobs = MAX_OPEN_JOBS open jobs and with the largest inline input and output, every job receiver uses at most ${GAS_MARGIN * 100}% of the gas it keeps, and the books stay covered`, async () => {
        const net = await createNetwork({ params: devParams({ channel: { maxOpenJobs: W.MAX_OPEN_JOBS } }) });
        const worker = await registerWorker(net, await net.blockchain.treasury('bound owner', { balance: toNano('1000') }), { stake: toNano('100') });
        const client = await net.blockchain.treasury('bound client', { balance: toNano('1000') });
        const opened = await openedChannel(net, client, worker, { deposit: toNano('100') });
        const c = opened.channel;
        const values = await c.getOperationValues();
        const max = Number(W.MAX_OPEN_JOBS);
        const payload = largestPayload();
        const payloadCells = W.MAX_PAYLOAD_CELLS;
        const gas: Record<string, [bigint, bigint]> = {};
        const open = async () => Number((await c.getState()).openJobs);
        // Each receiver is measured with as many open jobs as the sequence allows (noted).
        const measured = async (name: string, result: SendMessageResult, kept: bigint, nth = 0) => {
            gas[`${name} @${await open()}`] = [nthGasOn(result, c.address, nth), kept];
        };
        const seqs: bigint[] = [];
        for (let i = 0; i < max - 1; i++) seqs.push((await postJob(net, opened, { maxPayment: 1000n })).seq);
        const lastPost = await postJob(net, opened, { maxPayment: 1000n, input: payload, extra: toNano('0.05') });
        seqs.push(lastPost.seq);
        await measured('PostJob (largest input)', lastPost.result, W.POST_JOB_GAS + W.PAYLOAD_CELL_GAS * payloadCells);
        expect(await open()).toBe(max);
        await expectBooksCovered(net, c);
        const [first, second] = seqs;
        const last = seqs[max - 1];
        const beforeLast = seqs[max - 2];
        await commitResult(opened, client, first);
        await commitResult(opened, client, beforeLast);
        await measured('CommitResult (largest output)', await commitResult(opened, client, last, { output: payload, value: values.commitResult + toNano('0.05') }), W.COMMIT_GAS + W.PAYLOAD_CELL_GAS * payloadCells);
        await expectBooksCovered(net, c);
        const dispute = (seq: bigint) => c.send(client.getSender(), { value: values.dispute + net.params.channel.disputeBond }, { $$type: 'Dispute', queryId: 0n, seq });
        await measured('Dispute', await dispute(beforeLast), W.DISPUTE_GAS);
        await measured('Dispute', await dispute(last), W.DISPUTE_GAS);
        const verdictOn = async (seq: bigint, kind: bigint) => {
            const v = auditVerdictBody({ kind, target: c.address, subject: W.jobSubject(c.address, seq), evidenceHash: 0n, expiry: BigInt(net.blockchain.now!) + 600n }, net.auditors.slice(0, 1));
            const result = await net.root.send(client.getSender(), { value: toNano('0.3') }, { $$type: 'AuditVerdict', queryId: 0n, verdict: v.verdict, signatures: v.signatures });
            expect(await c.getJob(seq)).toBeNull();
            return result;
        };
        // The verdicts name the last jobs of a full dictionary: one lookup, whatever the count.
        const right = await verdictOn(beforeLast, 4n);
        gas[`JobVerdict (WorkerRight) @${max}`] = [nthGasOn(right, c.address, 0), W.VERDICT_GAS];
        await expectBooksCovered(net, c);
        net.blockchain.now = net.blockchain.now! + 601;
        // Back to max open jobs before each of the expiry, the finalization and the fault verdict.
        await postJob(net, opened, { maxPayment: 1000n });
        gas[`FinalizeJob @${await open()}`] = [gasOn(await c.send(client.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: first }), c.address), W.FINALIZE_JOB_GAS];
        await postJob(net, opened, { maxPayment: 1000n });
        gas[`ExpireJob @${await open()}`] = [gasOn(await c.send(client.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: second }), c.address), W.EXPIRE_JOB_GAS];
        await postJob(net, opened, { maxPayment: 1000n });
        expect(await open()).toBe(max);
        const fault = await verdictOn(last, 3n);
        gas[`JobVerdict (WorkerFault) @${max}`] = [nthGasOn(fault, c.address, 0), W.VERDICT_GAS];
        await expectBooksCovered(net, c);
        const lines = Object.entries(gas).map(([name, [used, kept]]) => `${name} ${used} (keeps ${kept})`);
        tally.note(`gas at maxOpenJobs=${max}, ${payloadCells}-cell payloads: ${lines.join(', ')}`);
        for (const [name, [used, kept]] of Object.entries(gas)) {
            expect({ name, used: Number(used) }).toEqual({ name, used: expect.any(Number) });
            if (Number(used) > GAS_MARGIN * Number(kept)) throw new Error(`${name} used ${used} gas at the bounds, above ${GAS_MARGIN * 100}% of the ${kept} it keeps`);
        }
        tally.add('gasBoundsChecked', Object.keys(gas).length);
    }, 120_000);
});

describe('storage', () => {
    const YEAR = 365 * 24 * 3600;

    it('after an idle year every contract still covers what it owes; after five none is frozen and the next message restores a Worker\'s reserve', async () => {
        s.blockchain.now = s.blockchain.now! + YEAR;
        // A stranger's gas-only pokes make each contract pay its rent now.
        await sendFrom(s.blockchain, s.stranger.address, s.root.address, bodies(s).empty(), toNano('0.01'));
        for (const w of [s.workerA, s.workerB]) await w.worker.send(s.stranger.getSender(), { value: toNano('0.05') }, { $$type: 'SyncParams', queryId: 0n });
        for (const c of [s.otherChannel, s.channelB]) await c.channel.send(s.stranger.getSender(), { value: toNano('0.05') }, { $$type: 'TopUp', queryId: 0n });
        await expectBooks(s);
        tally.add('invariantChecks');
        s.blockchain.now = s.blockchain.now! + 4 * YEAR;
        for (const w of [s.workerA, s.workerB]) {
            const result = await w.worker.send(w.owner.getSender(), { value: toNano('1') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://again', capacity: 1n });
            expect(succeeded(result, 0x57000011)).toBe(true);
            const balance = (await s.blockchain.getContract(w.worker.address)).balance;
            expect(balance).toBeGreaterThanOrEqual((await w.worker.getStake()) + toNano('0.1') - toNano('0.001'));
            expect((await s.blockchain.getContract(w.worker.address)).accountState?.type).toBe('active');
        }
        for (const c of [s.otherChannel, s.channelB]) {
            const before = await c.channel.getState();
            const result = await c.channel.send(s.stranger.getSender(), { value: toNano('0.1') }, { $$type: 'TopUp', queryId: 0n });
            expect(succeeded(result, 0x43000002)).toBe(true);
            const st = await c.channel.getState();
            const balance = (await s.blockchain.getContract(c.channel.address)).balance;
            // F3 (docs/security.md): the rent the unbooked rest could not pay is charged to the
            // client's free deposit by the next message; the books are covered again after it.
            const credited = st.deposit - before.deposit;
            tally.note(`after 5 idle years a Channel's TopUp of 0.1 TON credited ${credited} nanoton (the rest paid its gas and the rent); balance minus what it owes: ${balance - (st.deposit - st.settled + st.fees)} nanoton`);
            expect(balance).toBeGreaterThanOrEqual(st.deposit - st.settled + st.fees);
            expect(credited).toBeLessThan(toNano('0.1') - (await c.channel.getOperationValues()).topUp);
            expect(st.locked).toBe(before.locked);
            expect((await s.blockchain.getContract(c.channel.address)).accountState?.type).toBe('active');
        }
        expect((await s.blockchain.getContract(s.root.address)).accountState?.type).toBe('active');
        tally.add('invariantChecks', 5);
    });

    it('a Channel with nothing free, idle five years: the rent is charged to the client (a top-up that cannot cover it is refused), never to the worker\'s locked job money nor to Root\'s fees', async () => {
        const c = s.channel.channel;
        const values = await c.getOperationValues();
        // Settle some money (fees for Root), then lock everything free in one job and commit it
        // at its maxPayment: nothing of the deposit is the client's to spend.
        const v = voucher(c.address, toNano('1'), s.channel.clientKey);
        await c.send(s.workerA.owner.getSender(), { value: values.settle }, { $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final: false });
        const st0 = await c.getState();
        const { seq } = await postJob(s, s.channel, { maxPayment: st0.free });
        const r = signReceipt(receiptFor(s.channel, seq, { promptTokens: 10n ** 9n }), s.workerA.keys.signing.seed);
        await c.send(s.stranger.getSender(), { value: values.commitResult }, { $$type: 'CommitResult', queryId: 0n, seq, receipt: r.cell, signature: r.signature, output: null });
        const committed = await c.getState();
        expect(committed.free).toBe(0n);
        const job = (await c.getJob(seq))!;
        expect(job.payment).toBe(job.maxPayment);
        s.blockchain.now = s.blockchain.now! + 5 * YEAR;
        // A top-up smaller than the rent owed is refused: the rent may not come out of locked money.
        const small = await c.send(s.stranger.getSender(), { value: values.topUp + toNano('0.01') }, { $$type: 'TopUp', queryId: 0n });
        expect(small.transactions).toHaveTransaction({ to: c.address, success: false, exitCode: Number(W.ERR_LOW_VALUE) });
        expect(await c.getState()).toMatchObject({ locked: committed.locked, fees: committed.fees });
        // One that covers it: charged to the client's deposit, the books covered again, nothing
        // locked touched.
        const big = await c.send(s.stranger.getSender(), { value: toNano('1') }, { $$type: 'TopUp', queryId: 0n });
        expect(succeeded(big, 0x43000002)).toBe(true);
        const after = await c.getState();
        expect(after.locked).toBe(committed.locked);
        expect(after.fees).toBe(committed.fees);
        expect(after.free).toBeLessThan(toNano('1') - values.topUp);
        expect((await s.blockchain.getContract(c.address)).balance).toBeGreaterThanOrEqual(after.deposit - after.settled + after.fees);
        // The worker's payment is whole, and Root's fees still leave whole.
        const fin = await c.send(s.stranger.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq });
        expect(succeeded(fin, 0x43000006)).toBe(true);
        const fee = job.payment * (await c.getState()).protocolFeeBps / 10000n;
        expect(sentTo(fin, c.address, s.workerA.owner.address)).toBeGreaterThanOrEqual(job.payment - fee);
        const sweep = await c.send(s.stranger.getSender(), { value: values.sweepFees }, { $$type: 'SweepFees', queryId: 0n });
        // (Root itself, idle five years too, pays its own rent out of what it receives.)
        expect(sentTo(sweep, c.address, s.root.address)).toBeGreaterThanOrEqual(committed.fees + fee);
        await expectBooks(s);
        tally.add('invariantChecks', 4);
    });

    it('a stranger cannot grow any contract\'s storage through the receivers open to it', async () => {
        const used = async () => Promise.all(contractsOf(s).map(async (a) => {
            const st = (await s.blockchain.getContract(a)).account.account!.storageStats.used;
            return `${st.cells}/${st.bits}`;
        }));
        const before = await used();
        const b = bodies(s);
        const big = beginCell().storeUint(1, 1000).storeRef(beginCell().storeUint(2, 1000).endCell()).endCell();
        for (const to of contractsOf(s)) {
            for (const name of ['empty', 'ProtocolFee', 'SlashProceeds', 'RequestParams', 'SyncParams', 'TopUp', 'SweepFees', 'ReportEarnings', 'FinalizeClose']) {
                const body = b[name]();
                const oversized = beginCell().storeSlice(body.beginParse()).storeRef(big).endCell();
                await sendFrom(s.blockchain, s.stranger.address, to, oversized, toNano('0.5'));
                tally.add('storageProbes');
            }
        }
        // Only Root's feesReceived (a coins field) may widen with donations: at most 124 bits, no cell.
        const after = await used();
        after.forEach((u, i) => {
            const [cells, bits] = u.split('/').map(Number);
            const [cells0, bits0] = before[i].split('/').map(Number);
            expect(cells).toBe(cells0);
            expect(bits - bits0).toBeLessThanOrEqual(i === 0 ? 124 : 0);
        });
    });
});

describe('protocol fees below Root\'s gas', () => {
    it('a Channel\'s tiny fees, swept or sent at close, are counted by Root to the nanoTON (Root\'s gas travels on top)', async () => {
        const opened = s.channelB;
        const c = opened.channel;
        const owner = s.workerB.owner;
        const feesReceived = async () => (await s.root.getState()).feesReceived;
        // 0.05 TON settled at 1%: 0.0005 TON of fees, far below Root's gas (about 0.0027 TON).
        await settle(opened, owner, toNano('0.05'));
        const fees = (await c.getState()).fees;
        expect(fees).toBeGreaterThan(0n);
        expect(fees).toBeLessThan(toNano('0.001'));
        const before = await feesReceived();
        const values = await c.getOperationValues();
        const sweep = await conserved(() => c.send(s.stranger.getSender(), { value: values.sweepFees }, { $$type: 'SweepFees', queryId: 0n }));
        expect(sweep.transactions).toHaveTransaction({ from: c.address, to: s.root.address, success: true });
        expect((await feesReceived()) - before).toBe(fees);
        expect((await c.getState()).fees).toBe(0n);
        // The close path: another tiny settlement, closed by the payee's final Settle.
        const closing = await conserved(() => settle(opened, owner, toNano('0.08'), { final: true }));
        const [closed] = W.eventsOfType(W.eventsOfAll(closing.transactions), 'ChannelClosed');
        expect(closed.fees).toBeGreaterThan(0n);
        expect(closed.fees).toBeLessThan(toNano('0.001'));
        expect(closing.transactions).toHaveTransaction({ from: c.address, to: s.root.address, success: true });
        expect((await feesReceived()) - before).toBe(fees + closed.fees);
        tally.add('feeScenarios', 2);
    });
});

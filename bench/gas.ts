/**
 * Gas and fees of the protocol's operations on the real contracts in @ton/sandbox, the Settle
 * floor (bench/contracts/floor.tact) and the settlement batch table (1 … 1000 jobs per Settle).
 *
 * Generic on purpose: every operation is one or more traces, and every transaction of every trace
 * is reported (where it ran, compute gas, totalFees), so a change in how many messages an
 * operation causes (e.g. the PostJob → Worker round trip) shows up without touching this file.
 * Fees of a trace = the sum of totalFees of every transaction but the submitting wallet's own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Address, Cell, toNano, Transaction } from '@ton/core';
import { SendMessageResult } from '@ton/sandbox';
import { auditVerdictBody, jobSubject, signReceipt, VerdictKind } from '../wrappers';
import { ReceiptBatch } from '../agents/core/merkle';
import { ed25519FromSeed } from '../agents/core/ed25519';
import { publicKeyToInt, signVoucher } from '../wrappers/signed';
import { createNetwork, nowOf, registerWorker } from '../tests/helpers/cocoon';
import { commitResult, openedChannel, operationValuesOf, postJob, receiptFor, settle } from '../tests/helpers/channel';
import { loadFloor, REPO_ROOT } from './lib/floor';

export interface TxFigure {
    on: string;
    gas: number;
    fees: bigint;
    bounced: boolean;
    ok: boolean;
}

export interface OperationFigure {
    name: string;
    txs: TxFigure[];
    /** Compute gas over the trace, the submitting wallet excluded. */
    gas: number;
    fees: bigint;
    /** Snapshot ceilings (tests/gas-snapshot) of the transactions that have one, by label. */
    snapshot: Record<string, number>;
}

export interface BatchRow {
    jobs: number;
    settleGas: number;
    fees: bigint;
    perJob: bigint;
    /** Off-chain: signing the receipts and building the Merkle root, ms. */
    buildMs: number;
}

export interface GasReport {
    operations: OperationFigure[];
    jobPath: { fees: bigint; gas: number };
    settle: { channelGas: number; fees: bigint };
    floor: { gas: number; fees: bigint };
    batches: BatchRow[];
}

function computeGas(tx: Transaction): number {
    const d = tx.description;
    if (d.type !== 'generic' || d.computePhase.type !== 'vm') return 0;
    return Number(d.computePhase.gasUsed);
}

function succeeded(tx: Transaction): boolean {
    const d = tx.description;
    if (d.type !== 'generic') return true;
    if (d.aborted) return false;
    return d.computePhase.type !== 'vm' || d.computePhase.success;
}

const snapshots: Record<string, number> = Object.assign(
    {},
    ...['channel', 'root-worker'].map((g) => {
        const file = path.join(REPO_ROOT, 'tests', 'gas-snapshot', `${g}.json`);
        return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>) : {};
    }),
);

export async function measureGas(options: { batches: number[] }): Promise<GasReport> {
    const net = await createNetwork();
    const names = new Map<string, string>();
    const label = (a: Address, name: string) => names.set(a.toRawString(), name);
    const nameOf = (a: unknown) => (a instanceof Address ? names.get(a.toRawString()) ?? 'other' : 'external');
    const owner = await net.blockchain.treasury('owner');
    const client = await net.blockchain.treasury('client');
    const relayer = await net.blockchain.treasury('relayer');
    label(net.root.address, 'Root');
    label(owner.address, 'owner wallet');
    label(client.address, 'client wallet');
    label(relayer.address, 'relayer wallet');
    label(net.governance.address, 'governance wallet');

    const operations: OperationFigure[] = [];
    /** `snap`: for each contract, the snapshot keys of its transactions in this operation, in order. */
    const record = (name: string, snap: Record<string, string[]>, ...results: SendMessageResult[]): OperationFigure => {
        const txs: TxFigure[] = [];
        for (const result of results) {
            for (const tx of result.transactions.slice(1)) {
                const info = tx.inMessage?.info;
                const bounced = info?.type === 'internal' && info.bounced;
                txs.push({ on: nameOf(info?.dest) + (bounced ? ' (bounce)' : ''), gas: computeGas(tx), fees: tx.totalFees.coins, bounced, ok: succeeded(tx) });
            }
        }
        const snapshot: Record<string, number> = {};
        const seen: Record<string, number> = {};
        for (const t of txs) {
            const i = (seen[t.on] = (seen[t.on] ?? -1) + 1);
            const key = snap[t.on]?.[i];
            if (key !== undefined && snapshots[key] !== undefined) snapshot[`${t.on}#${i}`] = snapshots[key];
        }
        const figure = { name, txs, gas: txs.reduce((a, t) => a + t.gas, 0), fees: txs.reduce((a, t) => a + t.fees, 0n), snapshot };
        operations.push(figure);
        return figure;
    };

    const registered = await registerWorker(net, owner, { stake: toNano('20') });
    label(registered.worker.address, 'Worker');
    record('RegisterWorker', { Root: ['Root.RegisterWorker'], Worker: ['Worker.WorkerDeploy'] }, registered.result);
    const opened = await openedChannel(net, client, registered, { deposit: toNano('2000') });
    label(opened.channel.address, 'Channel');
    record('Open (channel deploy + worker handshake)', { Channel: ['Channel.Open', 'Channel.ChannelAccepted'], Worker: ['Worker.OpenChannel'] }, opened.result);
    const channel = opened.channel;
    const values = await operationValuesOf(channel);

    // Settle: the first voucher pays the payee (owner), later ones from a relayer.
    await settle(opened, owner, toNano('1'));
    const settleResult = await settle(opened, relayer, toNano('2'), { batchRoot: 1n, count: 1n });
    const settleFigure = record('Settle', { Channel: ['Channel.Settle'] }, settleResult);
    const channelSettle = settleFigure.txs.find((t) => t.on === 'Channel')!;

    const top = await channel.send(client.getSender(), { value: toNano('1') }, { $$type: 'TopUp', queryId: 0n });
    record('TopUp', { Channel: ['Channel.TopUp'] }, top);

    // The on-chain job path, every transaction of the three traces.
    const post = await postJob(net, opened);
    const commit = await commitResult(opened, relayer, post.seq);
    net.blockchain.now = Number(nowOf(net) + net.params.channel.challengeWindow);
    const finalize = await channel.send(relayer.getSender(), { value: values.finalizeJob }, { $$type: 'FinalizeJob', queryId: 0n, seq: post.seq });
    const p = record('PostJob', { Channel: ['Channel.PostJob'] }, post.result);
    const c = record('CommitResult', { Channel: ['Channel.CommitResult'] }, commit);
    const f = record('FinalizeJob', { Channel: ['Channel.FinalizeJob'] }, finalize);
    const jobPath = { fees: p.fees + c.fees + f.fees, gas: p.gas + c.gas + f.gas };
    for (const r of [post.result, commit, finalize]) if (!r.transactions.slice(1).every(succeeded)) throw new Error('bench: on-chain job path failed');

    // Dispute and verdict, expiry.
    {
        const { seq } = await postJob(net, opened);
        await commitResult(opened, relayer, seq);
        const d = await channel.send(client.getSender(), { value: values.dispute + toNano('1') }, { $$type: 'Dispute', queryId: 0n, seq });
        record('Dispute', { Channel: ['Channel.Dispute'] }, d);
        const body = auditVerdictBody(
            { kind: VerdictKind.WorkerFault, target: channel.address, subject: jobSubject(channel.address, seq), evidenceHash: 1n, expiry: nowOf(net) + 3600n },
            [net.auditors[0]],
        );
        record('AuditVerdict (worker fault, k = 1)', { Channel: ['Channel.JobVerdict.fault'], Worker: ['Worker.FaultSlash'], Root: [undefined as unknown as string, 'Root.SlashProceeds'] }, await net.root.send(relayer.getSender(), { value: toNano('0.1') }, { $$type: 'AuditVerdict', queryId: 0n, ...body }));
        const late = await postJob(net, opened, { deadline: nowOf(net) + 10n });
        net.blockchain.now = Number(nowOf(net) + 11n);
        record('ExpireJob', { Channel: ['Channel.ExpireJob'], Worker: ['Worker.JobExpired'] }, await channel.send(client.getSender(), { value: values.expireJob }, { $$type: 'ExpireJob', queryId: 0n, seq: late.seq }));
    }
    record('ReportEarnings', { Channel: ['Channel.ReportEarnings'], Worker: ['Worker.Settled'] }, await channel.send(relayer.getSender(), { value: values.reportEarnings }, { $$type: 'ReportEarnings', queryId: 0n }));
    record('SweepFees', { Channel: ['Channel.SweepFees'], Root: ['Root.ProtocolFee'] }, await channel.send(relayer.getSender(), { value: values.sweepFees }, { $$type: 'SweepFees', queryId: 0n }));

    // Batches: N real receipts (signed by the enclave key), their Merkle root in one Settle.
    const batches: BatchRow[] = [];
    let cumulative = toNano('10');
    let seq = 1n;
    for (const n of options.batches) {
        const t0 = performance.now();
        const hashes: Buffer[] = [];
        for (let i = 0; i < n; i++) hashes.push(signReceipt(receiptFor(opened, seq++), registered.keys.signing.seed).cell.hash());
        const batch = new ReceiptBatch(hashes);
        const buildMs = performance.now() - t0;
        cumulative += BigInt(n) * 1_000_000n;
        const result = await settle(opened, relayer, cumulative, { batchRoot: batch.rootInt, count: BigInt(n) });
        if (!result.transactions.slice(1).every(succeeded)) throw new Error(`bench: Settle of ${n} jobs failed`);
        const settled = (await channel.getState()).settled;
        if (settled !== cumulative) throw new Error(`bench: Settle of ${n} jobs did not settle (${settled} != ${cumulative})`);
        const fees = result.transactions.slice(1).reduce((a, tx) => a + tx.totalFees.coins, 0n);
        const gas = computeGas(result.transactions.find((tx) => nameOf(tx.inMessage?.info.dest) === 'Channel')!);
        batches.push({ jobs: n, settleGas: gas, fees, perJob: fees / BigInt(n), buildMs });
    }

    // Closing.
    record('RequestClose', { Channel: ['Channel.RequestClose'] }, await channel.send(client.getSender(), { value: values.requestClose }, { $$type: 'RequestClose', queryId: 0n }));
    net.blockchain.now = Number(nowOf(net) + net.params.channel.clientCloseDelay);
    record('FinalizeClose', { Channel: ['Channel.FinalizeClose'], Worker: ['Worker.Settled'], Root: ['Root.ProtocolFee'] }, await channel.send(relayer.getSender(), { value: values.finalizeClose }, { $$type: 'FinalizeClose', queryId: 0n }));
    {
        const other = await net.blockchain.treasury('final-client');
        label(other.address, 'client wallet');
        const ch = await openedChannel(net, other, registered, { deposit: toNano('5') });
        label(ch.channel.address, 'Channel');
        await settle(ch, owner, toNano('1'));
        record('Settle (final, by the payee)', { Channel: ['Channel.Settle.final'], Worker: ['Worker.Settled'], Root: ['Root.ProtocolFee'] }, await settle(ch, owner, toNano('2'), { final: true }));
    }
    // Worker owner operations.
    record('RequestUnbond', { Worker: ['Worker.RequestUnbond'] }, await registered.worker.send(owner.getSender(), { value: toNano('0.05') }, { $$type: 'RequestUnbond', queryId: 0n }));
    net.blockchain.now = Number((await registered.worker.getInfo()).unbondAt);
    record('Withdraw', { Worker: ['Worker.Withdraw'] }, await registered.worker.send(owner.getSender(), { value: toNano('0.05') }, { $$type: 'Withdraw', queryId: 0n }));

    // The floor: same voucher, same message, the least contract that pays it.
    const Floor = await loadFloor();
    const payee = await net.blockchain.treasury('floor-payee');
    const key = ed25519FromSeed(Buffer.alloc(32, 7));
    const floor = net.blockchain.openContract(await Floor.fromInit(publicKeyToInt(key.publicKey), payee.address, 0n));
    label(floor.address, 'Floor');
    label(payee.address, 'payee wallet');
    await floor.send(relayer.getSender(), { value: toNano('10') }, null);
    const sendFloor = async (amount: bigint) => {
        const v = signVoucher({ channel: floor.address, cumulative: amount }, key.seed);
        return floor.send(relayer.getSender(), { value: toNano('0.01') }, { $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 1n, count: 1n, final: false }) as Promise<SendMessageResult>;
    };
    await sendFloor(toNano('1'));
    const floorResult = await sendFloor(toNano('2'));
    if ((await floor.getSettled()) !== toNano('2')) throw new Error('bench: the floor contract did not settle');
    const floorFigure = record('Floor.Settle (bench floor)', {}, floorResult);
    const floorTx = floorFigure.txs.find((t) => t.on === 'Floor')!;
    if (!floorTx.ok || floorFigure.txs.length !== 2) throw new Error(`bench: floor trace unexpected: ${JSON.stringify(floorFigure.txs.map((t) => t.on))}`);

    return {
        operations,
        jobPath,
        settle: { channelGas: channelSettle.gas, fees: settleFigure.fees },
        floor: { gas: floorTx.gas, fees: floorFigure.fees },
        batches,
    };
}

export const ton = (nano: bigint, digits = 6) => (Number(nano) / 1e9).toFixed(digits);

if (require.main === module) {
    measureGas({ batches: [1, 10, 100, 1000] }).then(
        (r) => console.log(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)),
        (e) => {
            console.error(e);
            process.exit(1);
        },
    );
}

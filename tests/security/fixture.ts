// The security suite's network: Root with its allow-lists, two registered workers (A, B), an
// open Channel client -> A with one posted on-chain job, a second Channel client2 -> A (the
// "other channel") and one client -> B. Also a well-formed body for every message any contract
// receives, so the unauthorised-sender matrix and the fuzzer can send each one from anyone.
import { Blockchain, internal, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Builder, Cell, toNano } from '@ton/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as W from '../../wrappers';
import { auditVerdictBody, publicKeyToInt, signReceipt, signVoucher } from '../../wrappers/signed';
import { ed25519FromSeed } from '../../agents/core/ed25519';
import { claimOf, createNetwork, MODEL_A, Network, newEnclaveKeys, priceList, registerWorker, RegisteredWorker } from '../helpers/cocoon';
import { OpenedChannel, openedChannel, postJob } from '../helpers/channel';

export type ContractName = 'Root' | 'Worker' | 'Channel';

/** Receiver names of a contract from its ABI (`empty` for the plain-transfer receiver). */
export function abiReceivers(contract: ContractName): string[] {
    const abi = JSON.parse(readFileSync(join(__dirname, '..', '..', 'build', 'Cocoon', `Cocoon_${contract}.abi`), 'utf8')) as {
        receivers: { receiver: string; message: { kind: string; type?: string; text?: string } }[];
    };
    return abi.receivers.map((r) => {
        if (r.receiver !== 'internal') throw new Error(`unexpected ${r.receiver} receiver in ${contract}: add it to the security matrix`);
        if (r.message.kind === 'typed') return r.message.type!;
        if (r.message.kind === 'empty') return 'empty';
        return `${r.message.kind}:${r.message.text ?? ''}`;
    });
}

export interface SecurityNet extends Network {
    workerA: RegisteredWorker;
    workerB: RegisteredWorker;
    client: SandboxContract<TreasuryContract>;
    client2: SandboxContract<TreasuryContract>;
    stranger: SandboxContract<TreasuryContract>;
    channel: OpenedChannel;
    otherChannel: OpenedChannel;
    channelB: OpenedChannel;
    jobSeq: bigint;
}

export async function createSecurityNet(): Promise<SecurityNet> {
    const net = await createNetwork();
    const ownerA = await net.blockchain.treasury('owner A');
    const ownerB = await net.blockchain.treasury('owner B');
    const workerA = await registerWorker(net, ownerA);
    const workerB = await registerWorker(net, ownerB);
    const client = await net.blockchain.treasury('client');
    const client2 = await net.blockchain.treasury('client 2');
    const stranger = await net.blockchain.treasury('stranger');
    const channel = await openedChannel(net, client, workerA);
    const otherChannel = await openedChannel(net, client2, workerA);
    const channelB = await openedChannel(net, client, workerB);
    const { seq } = await postJob(net, channel);
    if ((await channel.channel.getState()).openJobs !== 1n) throw new Error('createSecurityNet: job not posted');
    return { ...net, workerA, workerB, client, client2, stranger, channel, otherChannel, channelB, jobSeq: seq };
}

export type Party = 'stranger' | 'client' | 'owner' | 'otherOwner' | 'governance' | 'root' | 'worker' | 'otherWorker' | 'channel' | 'otherChannel';
export const PARTIES: Party[] = ['stranger', 'client', 'owner', 'otherOwner', 'governance', 'root', 'worker', 'otherWorker', 'channel', 'otherChannel'];

export function addressOf(s: SecurityNet, party: Party): Address {
    switch (party) {
        case 'stranger': return s.stranger.address;
        case 'client': return s.client.address;
        case 'owner': return s.workerA.owner.address;
        case 'otherOwner': return s.workerB.owner.address;
        case 'governance': return s.governance.address;
        case 'root': return s.root.address;
        case 'worker': return s.workerA.worker.address;
        case 'otherWorker': return s.workerB.worker.address;
        case 'channel': return s.channel.channel.address;
        case 'otherChannel': return s.otherChannel.channel.address;
    }
}

export function targetOf(s: SecurityNet, contract: ContractName): Address {
    return contract === 'Root' ? s.root.address : contract === 'Worker' ? s.workerA.worker.address : s.channel.channel.address;
}

/** Sends `body` from any address (the sandbox fabricates the internal message). */
export function sendFrom(bc: Blockchain, from: Address, to: Address, body: Cell, value: bigint = toNano('2'), bounce = true): Promise<SendMessageResult> {
    return bc.sendMessage(internal({ from, to, value, body, bounce }));
}

function cell(store: (b: Builder) => void): Cell {
    return beginCell().store(store).endCell();
}

/** A well-formed body for each message type (`empty` = no body) aimed at the fixture's contracts. */
export function bodies(s: SecurityNet): Record<string, () => Cell> {
    const now = BigInt(s.blockchain.now ?? 0);
    const keys = newEnclaveKeys();
    const claim = claimOf(keys);
    const prices = priceList([[MODEL_A, 1n, 1n]]);
    const params = cell(W.storeParams(s.params));
    const client = s.client.address;
    const ch = s.channel.channel.address;
    const worker = s.workerA.worker.address;
    const verdictFields = { kind: 4n, target: ch, subject: W.jobSubject(ch, s.jobSeq), evidenceHash: 0n, expiry: now + 3600n };
    const verdict: W.Verdict = { $$type: 'Verdict', ...verdictFields };
    const receipt = signReceipt({ channel: ch, seq: s.jobSeq, model: MODEL_A, inputHash: 0x1234n, resultHash: 1n, promptTokens: 1n, completionTokens: 1n }, s.workerA.keys.signing.seed);
    const receipt2 = signReceipt({ channel: ch, seq: s.jobSeq, model: MODEL_A, inputHash: 0x1234n, resultHash: 2n, promptTokens: 1n, completionTokens: 1n }, s.workerA.keys.signing.seed);
    const voucher = signVoucher({ channel: ch, cumulative: toNano('1') }, s.channel.clientKey.seed);
    const audit = auditVerdictBody(verdictFields, s.auditors);
    const q = 7n;
    return {
        // ---- Root ----
        empty: () => Cell.EMPTY,
        ProtocolFee: () => cell(W.storeProtocolFee({ $$type: 'ProtocolFee', amount: toNano('0.01') })),
        RegisterWorker: () => cell(W.storeRegisterWorker({ $$type: 'RegisterWorker', queryId: q, slot: 9n, stake: s.params.minWorkerStake, claim, endpoint: 'https://x', capacity: 1n, prices })),
        AuditVerdict: () => cell(W.storeAuditVerdict({ $$type: 'AuditVerdict', queryId: q, verdict: audit.verdict, signatures: audit.signatures })),
        RequestParams: () => cell(W.storeRequestParams({ $$type: 'RequestParams', queryId: q, excessesTo: client })),
        CheckAttestation: () => cell(W.storeCheckAttestation({ $$type: 'CheckAttestation', queryId: q, owner: s.workerA.owner.address, slot: 0n, claim })),
        CheckPrices: () => cell(W.storeCheckPrices({ $$type: 'CheckPrices', queryId: q, owner: s.workerA.owner.address, slot: 0n, prices })),
        SlashProceeds: () => cell(W.storeSlashProceeds({ $$type: 'SlashProceeds', queryId: q })),
        SetParams: () => cell(W.storeSetParams({ $$type: 'SetParams', queryId: q, params: s.params })),
        AddMeasurement: () => cell(W.storeAddMeasurement({ $$type: 'AddMeasurement', queryId: q, measurement: 77n, teeType: 2n })),
        RemoveMeasurement: () => cell(W.storeRemoveMeasurement({ $$type: 'RemoveMeasurement', queryId: q, measurement: claim.measurement })),
        AddModel: () => cell(W.storeAddModel({ $$type: 'AddModel', queryId: q, model: 77n, flags: 0n })),
        RemoveModel: () => cell(W.storeRemoveModel({ $$type: 'RemoveModel', queryId: q, model: MODEL_A })),
        AddAuditor: () => cell(W.storeAddAuditor({ $$type: 'AddAuditor', queryId: q, key: 77n })),
        RemoveAuditor: () => cell(W.storeRemoveAuditor({ $$type: 'RemoveAuditor', queryId: q, key: publicKeyToInt(s.auditors[0].publicKey) })),
        SetQuorum: () => cell(W.storeSetQuorum({ $$type: 'SetQuorum', queryId: q, quorum: 2n })),
        ProposeOwner: () => cell(W.storeProposeOwner({ $$type: 'ProposeOwner', queryId: q, newOwner: s.stranger.address })),
        AcceptOwner: () => cell(W.storeAcceptOwner({ $$type: 'AcceptOwner', queryId: q })),
        Pause: () => cell(W.storePause({ $$type: 'Pause', queryId: q })),
        Unpause: () => cell(W.storeUnpause({ $$type: 'Unpause', queryId: q })),
        WithdrawFees: () => cell(W.storeWithdrawFees({ $$type: 'WithdrawFees', queryId: q, amount: toNano('0.1'), to: s.stranger.address })),
        // ---- Worker ----
        Settled: () => cell(W.storeSettled({ $$type: 'Settled', queryId: q, amount: toNano('100'), jobs: 100n, tokens: 100n, client })),
        OpenChannel: () => cell(W.storeOpenChannel({ $$type: 'OpenChannel', queryId: q, client })),
        JobExpired: () => cell(W.storeJobExpired({ $$type: 'JobExpired', queryId: q, seq: s.jobSeq, client, postedAt: now })),
        FaultSlash: () => cell(W.storeFaultSlash({ $$type: 'FaultSlash', queryId: q, seq: s.jobSeq, client, reporter: s.stranger.address })),
        WorkerDeploy: () => cell(W.storeWorkerDeploy({ $$type: 'WorkerDeploy', queryId: q, stake: toNano('1000'), claim, endpoint: 'x', capacity: 1n, prices, params, paramsVersion: 1n, paused: false })),
        AttestationVerdict: () => cell(W.storeAttestationVerdict({ $$type: 'AttestationVerdict', queryId: q, verdict: { ...verdict, kind: 2n, target: worker, subject: s.workerA.keys.quoteHash }, excessesTo: s.stranger.address })),
        ParamsUpdate: () => cell(W.storeParamsUpdate({ $$type: 'ParamsUpdate', queryId: q, params, paramsVersion: 99n, paused: true, excessesTo: s.stranger.address })),
        AttestationChecked: () => cell(W.storeAttestationChecked({ $$type: 'AttestationChecked', queryId: q, claim, params, paramsVersion: 99n, paused: false })),
        PricesChecked: () => cell(W.storePricesChecked({ $$type: 'PricesChecked', queryId: q, prices })),
        AddStake: () => cell(W.storeAddStake({ $$type: 'AddStake', queryId: q, amount: toNano('0.5') })),
        SetEndpoint: () => cell(W.storeSetEndpoint({ $$type: 'SetEndpoint', queryId: q, endpoint: 'https://evil', capacity: 1n })),
        SetPrices: () => cell(W.storeSetPrices({ $$type: 'SetPrices', queryId: q, prices })),
        RenewAttestation: () => cell(W.storeRenewAttestation({ $$type: 'RenewAttestation', queryId: q, claim })),
        RequestUnbond: () => cell(W.storeRequestUnbond({ $$type: 'RequestUnbond', queryId: q })),
        Withdraw: () => cell(W.storeWithdraw({ $$type: 'Withdraw', queryId: q })),
        SyncParams: () => cell(W.storeSyncParams({ $$type: 'SyncParams', queryId: q })),
        ProveEquivocation: () => cell(W.storeProveEquivocation({ $$type: 'ProveEquivocation', queryId: q, first: receipt.cell, firstSignature: receipt.signature, second: receipt2.cell, secondSignature: receipt2.signature })),
        // ---- Channel ----
        Settle: () => cell(W.storeSettle({ $$type: 'Settle', queryId: q, voucher: voucher.cell, signature: voucher.signature, batchRoot: 0n, count: 1n, final: false })),
        CommitResult: () => cell(W.storeCommitResult({ $$type: 'CommitResult', queryId: q, seq: s.jobSeq, receipt: receipt.cell, signature: receipt.signature, output: null })),
        PostJob: () => cell(W.storePostJob({ $$type: 'PostJob', queryId: q, seq: s.jobSeq + 1n, model: MODEL_A, maxPayment: toNano('0.1'), inputHash: 1n, deadline: now + 600n, input: null })),
        FinalizeJob: () => cell(W.storeFinalizeJob({ $$type: 'FinalizeJob', queryId: q, seq: s.jobSeq })),
        Dispute: () => cell(W.storeDispute({ $$type: 'Dispute', queryId: q, seq: s.jobSeq })),
        ExpireJob: () => cell(W.storeExpireJob({ $$type: 'ExpireJob', queryId: q, seq: s.jobSeq })),
        JobVerdict: () => cell(W.storeJobVerdict({ $$type: 'JobVerdict', queryId: q, verdict, reporter: s.stranger.address })),
        Open: () => cell(W.storeOpen({ $$type: 'Open', queryId: q, clientKey: 77n })),
        ChannelAccepted: () => cell(W.storeChannelAccepted({ $$type: 'ChannelAccepted', queryId: q, signingKey: 77n, encryptionKey: 77n, payee: s.stranger.address, params: s.params.channel, prices })),
        TopUp: () => cell(W.storeTopUp({ $$type: 'TopUp', queryId: q })),
        RequestClose: () => cell(W.storeRequestClose({ $$type: 'RequestClose', queryId: q })),
        FinalizeClose: () => cell(W.storeFinalizeClose({ $$type: 'FinalizeClose', queryId: q })),
        SweepFees: () => cell(W.storeSweepFees({ $$type: 'SweepFees', queryId: q })),
        ReportEarnings: () => cell(W.storeReportEarnings({ $$type: 'ReportEarnings', queryId: q })),
    };
}

/** The data cell's hash of an account (its whole persistent state), or null if not active. */
export async function dataHash(bc: Blockchain, address: Address): Promise<string | null> {
    const state = (await bc.getContract(address)).account.account?.storage.state;
    if (state?.type !== 'active' || !state.state.data) return null;
    return state.state.data.hash().toString('hex');
}

export async function balances(bc: Blockchain, addresses: Address[]): Promise<bigint[]> {
    return Promise.all(addresses.map(async (a) => (await bc.getContract(a)).balance));
}

export function contractsOf(s: SecurityNet): Address[] {
    return [s.root.address, s.workerA.worker.address, s.workerB.worker.address, s.channel.channel.address, s.otherChannel.channel.address, s.channelB.channel.address];
}

export { ed25519FromSeed };

/** Every party of the fixture whose balance value conservation sums over. */
export function partiesOf(s: SecurityNet): Address[] {
    return [...contractsOf(s), s.governance.address, s.client.address, s.client2.address, s.stranger.address, s.workerA.owner.address, s.workerB.owner.address];
}

export async function sumOf(bc: Blockchain, addresses: Address[]): Promise<bigint> {
    return (await balances(bc, addresses)).reduce((a, b) => a + b, 0n);
}

/** Fees of transactions: total fees plus the forward fees of the internal messages they sent. */
export function feesOfTxs(txs: { totalFees: { coins: bigint }; outMessages: { values(): Iterable<{ info: { type: string; forwardFee?: bigint } }> } }[]): bigint {
    let sum = 0n;
    for (const tx of txs) {
        sum += tx.totalFees.coins;
        for (const m of tx.outMessages.values()) if (m.info.type === 'internal') sum += m.info.forwardFee ?? 0n;
    }
    return sum;
}

/** The channels' books cover what they owe and every worker's balance covers its stake. */
export async function expectBooks(s: SecurityNet): Promise<void> {
    for (const c of [s.channel, s.otherChannel, s.channelB]) {
        const st = await c.channel.getState();
        expect((await s.blockchain.getContract(c.channel.address)).balance).toBeGreaterThanOrEqual(st.deposit - st.settled + st.fees);
        expect(st.deposit).toBeGreaterThanOrEqual(st.settled + st.locked);
    }
    for (const w of [s.workerA, s.workerB]) {
        if ((await s.blockchain.getContract(w.worker.address)).accountState?.type !== 'active') continue;
        expect((await s.blockchain.getContract(w.worker.address)).balance).toBeGreaterThanOrEqual(await w.worker.getStake());
    }
}

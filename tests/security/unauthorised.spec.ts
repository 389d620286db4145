// The unauthorised-sender matrix: every receiver of Root, Worker and Channel (read from the ABI
// in build/Cocoon, so a new receiver fails this spec until it is listed here), sent by every
// wrong party. A restricted receiver refuses with its documented exit code; the target's data
// is unchanged, its balance not lower, no contract's balance moves and nothing but the bounce is
// sent. A receiver open to anyone is listed with the check that guards it, and a stranger's
// forged input is refused with that check's code.
import { Address, beginCell, toNano } from "@ton/core";
import { Blockchain } from '@ton/sandbox';
import * as W from '../../wrappers';
import { signReceipt, signVoucher, auditVerdictBody } from '../../wrappers/signed';
import { ed25519FromSeed } from '../../agents/core/ed25519';
import { expectRefused } from '../helpers/assertions';
import { snapshotOf } from '../helpers/cocoon';
import { MODEL_A } from '../helpers/cocoon';
import { abiReceivers, addressOf, balances, bodies, ContractName, contractsOf, createSecurityNet, dataHash, PARTIES, Party, SecurityNet, sendFrom, targetOf } from './fixture';
import { Tally } from './record';

type Row =
    | { kind: 'restricted'; allowed: Party[]; code: bigint }
    | { kind: 'open'; guard: string };

const governance = (): Row => ({ kind: 'restricted', allowed: ['governance'], code: W.ERR_NOT_OWNER });
const fromRoot = (): Row => ({ kind: 'restricted', allowed: ['root'], code: W.ERR_NOT_ROOT });
const fromOwner = (): Row => ({ kind: 'restricted', allowed: ['owner'], code: W.ERR_NOT_OWNER });
const fromChannel = (): Row => ({ kind: 'restricted', allowed: ['channel'], code: W.ERR_NOT_CHANNEL });
const fromClient = (): Row => ({ kind: 'restricted', allowed: ['client'], code: W.ERR_NOT_CLIENT });

const MATRIX: Record<ContractName, Record<string, Row>> = {
    Root: {
        empty: { kind: 'open', guard: 'a plain transfer is a donation to the treasury' },
        ProtocolFee: { kind: 'open', guard: 'the whole value stays in the treasury, amount <= value is counted (ERR_BAD_AMOUNT); nothing leaves' },
        SlashProceeds: { kind: 'open', guard: 'the whole value is credited to the treasury; nothing leaves' },
        RegisterWorker: { kind: 'open', guard: 'deploys Worker(root, sender, slot): the sender only ever registers its own worker; stake >= minWorkerStake' },
        AuditVerdict: { kind: 'open', guard: 'quorum of enabled auditors\' signatures (ERR_UNKNOWN_AUDITOR, ERR_BAD_SIGNATURE)' },
        RequestParams: { kind: 'open', guard: 'read-only: answers the sender with the public params' },
        CheckAttestation: { kind: 'restricted', allowed: ['worker'], code: W.ERR_NOT_WORKER },
        CheckPrices: { kind: 'restricted', allowed: ['worker'], code: W.ERR_NOT_WORKER },
        SetParams: governance(),
        AddMeasurement: governance(),
        RemoveMeasurement: governance(),
        AddModel: governance(),
        RemoveModel: governance(),
        AddAuditor: governance(),
        RemoveAuditor: governance(),
        SetQuorum: governance(),
        ProposeOwner: governance(),
        // No owner is pending in the fixture: nobody may accept.
        AcceptOwner: { kind: 'restricted', allowed: [], code: W.ERR_NOT_PENDING_OWNER },
        Pause: governance(),
        Unpause: governance(),
        WithdrawFees: governance(),
    },
    Worker: {
        Settled: fromChannel(),
        OpenChannel: fromChannel(),
        JobExpired: fromChannel(),
        FaultSlash: fromChannel(),
        WorkerDeploy: fromRoot(),
        AttestationVerdict: fromRoot(),
        ParamsUpdate: fromRoot(),
        AttestationChecked: fromRoot(),
        PricesChecked: fromRoot(),
        AddStake: fromOwner(),
        SetEndpoint: fromOwner(),
        SetPrices: fromOwner(),
        RenewAttestation: fromOwner(),
        RequestUnbond: fromOwner(),
        Withdraw: fromOwner(),
        SyncParams: { kind: 'open', guard: 'asks Root for the public params; Root answers the Worker' },
        ProveEquivocation: { kind: 'open', guard: 'two receipts signed by the worker\'s enclave key (ERR_BAD_SIGNATURE)' },
    },
    Channel: {
        Settle: { kind: 'open', guard: 'a voucher signed by the client\'s key (ERR_BAD_SIGNATURE); final only from the payee (ERR_NOT_PAYEE)' },
        CommitResult: { kind: 'open', guard: 'a receipt signed by the worker\'s enclave key (ERR_BAD_SIGNATURE)' },
        PostJob: fromClient(),
        FinalizeJob: { kind: 'open', guard: 'job state and challenge window (ERR_JOB_STATE, ERR_WINDOW_NOT_OVER); pays only the payee' },
        Dispute: fromClient(),
        ExpireJob: { kind: 'open', guard: 'the job\'s deadline (ERR_DEADLINE_NOT_PASSED)' },
        JobVerdict: fromRoot(),
        Open: fromClient(),
        ChannelAccepted: { kind: 'restricted', allowed: ['worker'], code: W.ERR_NOT_CHANNEL_WORKER },
        TopUp: { kind: 'open', guard: 'credits the client\'s deposit; refused unless Open' },
        RequestClose: fromClient(),
        FinalizeClose: { kind: 'open', guard: 'Closing and closeAt passed (ERR_CHANNEL_STATE, ERR_CLOSE_NOT_DUE); refunds only the client' },
        SweepFees: { kind: 'open', guard: 'sends fees only to Root (ERR_NO_FEES when none)' },
        ReportEarnings: { kind: 'open', guard: 'gas-only report to the Worker (ERR_NOTHING_TO_REPORT when none)' },
    },
};

const tally = new Tally('unauthorised');
let s: SecurityNet;
let restore: () => Promise<void>;
let body: ReturnType<typeof bodies>;

beforeAll(async () => {
    s = await createSecurityNet();
    body = bodies(s);
    restore = await snapshotOf(s.blockchain);
});
afterAll(() => tally.write());

const CONTRACT_PARTIES: Party[] = ['root', 'worker', 'otherWorker', 'channel', 'otherChannel'];

/**
 * Sends `body` as `party`. A message fabricated "from" a contract is sent non-bounceable: its
 * bounce would run that contract's bounce handler for a message it never sent, which is an
 * artifact of the fabrication; without a bounce, the refused value stays with the target.
 */
function sendAs(party: Party, to: Address, msg: ReturnType<ReturnType<typeof bodies>[string]>, value = toNano('2')) {
    return sendFrom(s.blockchain, addressOf(s, party), to, msg, value, !CONTRACT_PARTIES.includes(party));
}

/** Sends and checks a refusal: code, data unchanged, no balance of any contract lower. */
async function expectCleanRefusal(bc: Blockchain, from: Party | 'forged', contract: ContractName, message: string, send: () => ReturnType<typeof sendFrom>, code: bigint): Promise<void> {
    const target = targetOf(s, contract);
    const contracts = contractsOf(s);
    const hashBefore = await dataHash(bc, target);
    const before = await balances(bc, contracts);
    const result = await send();
    try {
        expectRefused(result, target, Number(code));
    } catch (e) {
        throw new Error(`${contract}.${message} from ${from}: ${(e as Error).message}`);
    }
    expect(await dataHash(bc, target)).toBe(hashBefore);
    const after = await balances(bc, contracts);
    contracts.forEach((a, i) => {
        if (a.equals(target)) expect(after[i]).toBeGreaterThanOrEqual(before[i]);
        else expect(after[i]).toBe(before[i]);
    });
    tally.add('refusalsChecked');
}

describe('unauthorised-sender matrix', () => {
    beforeEach(async () => restore());

    for (const contract of ['Root', 'Worker', 'Channel'] as ContractName[]) {
        it(`${contract}: every receiver in the ABI is in the matrix, and nothing else is`, () => {
            const receivers = abiReceivers(contract);
            expect(receivers.length).toBeGreaterThan(10);
            expect(receivers.filter((r) => !(r in MATRIX[contract]))).toEqual([]);
            expect(Object.keys(MATRIX[contract]).filter((r) => !receivers.includes(r))).toEqual([]);
            for (const r of receivers) expect(body).toHaveProperty(r);
            tally.add('receivers', receivers.length);
        });

        it(`${contract}: every restricted receiver refuses every wrong party with its exit code, moving nothing`, async () => {
            for (const [message, row] of Object.entries(MATRIX[contract])) {
                if (row.kind !== 'restricted') continue;
                for (const party of PARTIES) {
                    if (row.allowed.includes(party)) continue;
                    await expectCleanRefusal(s.blockchain, party, contract, message, () => sendAs(party, targetOf(s, contract), body[message]()), row.code);
                    tally.add('matrixCells');
                }
            }
        });
    }
});

describe('receivers open to anyone: a stranger gets nothing it should not', () => {
    beforeEach(async () => restore());
    const bc = () => s.blockchain;
    const stranger = () => s.stranger.address;
    const forgedKey = ed25519FromSeed(Buffer.alloc(32, 0x5a));

    it('Channel.Settle with a voucher the client did not sign: ERR_BAD_SIGNATURE; final from a non-payee: ERR_NOT_PAYEE', async () => {
        const ch = s.channel.channel.address;
        const forged = signVoucher({ channel: ch, cumulative: toNano('5') }, forgedKey.seed);
        const settle = (v: typeof forged, final: boolean) =>
            beginCell().store(W.storeSettle({ $$type: 'Settle', queryId: 0n, voucher: v.cell, signature: v.signature, batchRoot: 0n, count: 1n, final })).endCell();
        await expectCleanRefusal(bc(), 'forged', 'Channel', 'Settle', () => sendFrom(bc(), stranger(), ch, settle(forged, false)), W.ERR_BAD_SIGNATURE);
        const real = signVoucher({ channel: ch, cumulative: 0n }, s.channel.clientKey.seed);
        for (const party of PARTIES.filter((p) => p !== 'owner')) {
            await expectCleanRefusal(bc(), party, 'Channel', 'Settle(final)', () => sendAs(party, ch, settle(real, true), toNano('1')), W.ERR_NOT_PAYEE);
        }
    });

    it('Channel.CommitResult with a receipt the worker did not sign: ERR_BAD_SIGNATURE', async () => {
        const ch = s.channel.channel.address;
        const forged = signReceipt({ channel: ch, seq: s.jobSeq, model: MODEL_A, inputHash: 0x1234n, resultHash: 1n, promptTokens: 10n ** 6n, completionTokens: 10n ** 6n }, forgedKey.seed);
        const msg = beginCell().store(W.storeCommitResult({ $$type: 'CommitResult', queryId: 0n, seq: s.jobSeq, receipt: forged.cell, signature: forged.signature, output: null })).endCell();
        await expectCleanRefusal(bc(), 'forged', 'Channel', 'CommitResult', () => sendFrom(bc(), stranger(), ch, msg), W.ERR_BAD_SIGNATURE);
    });

    it('Channel.FinalizeJob of an uncommitted job, ExpireJob before the deadline, FinalizeClose while Open, SweepFees and ReportEarnings with nothing owed: refused', async () => {
        const ch = s.channel.channel.address;
        await expectCleanRefusal(bc(), 'stranger', 'Channel', 'FinalizeJob', () => sendFrom(bc(), stranger(), ch, body.FinalizeJob()), W.ERR_JOB_STATE);
        await expectCleanRefusal(bc(), 'stranger', 'Channel', 'ExpireJob', () => sendFrom(bc(), stranger(), ch, body.ExpireJob()), W.ERR_DEADLINE_NOT_PASSED);
        await expectCleanRefusal(bc(), 'stranger', 'Channel', 'FinalizeClose', () => sendFrom(bc(), stranger(), ch, body.FinalizeClose()), W.ERR_CHANNEL_STATE);
        await expectCleanRefusal(bc(), 'stranger', 'Channel', 'SweepFees', () => sendFrom(bc(), stranger(), ch, body.SweepFees()), W.ERR_NO_FEES);
        await expectCleanRefusal(bc(), 'stranger', 'Channel', 'ReportEarnings', () => sendFrom(bc(), stranger(), ch, body.ReportEarnings()), W.ERR_NOTHING_TO_REPORT);
    });

    it('Channel.TopUp from a stranger only adds to the client\'s deposit', async () => {
        const before = await s.channel.channel.getState();
        const result = await sendFrom(bc(), stranger(), s.channel.channel.address, body.TopUp(), toNano('1'));
        const after = await s.channel.channel.getState();
        expect(after.deposit - before.deposit).toBeGreaterThan(0n);
        expect(after.deposit - before.deposit).toBeLessThan(toNano('1'));
        expect(after.settled).toBe(before.settled);
        expect(after.payee.equals(before.payee)).toBe(true);
        for (const tx of result.transactions) {
            for (const m of tx.outMessages.values()) expect(m.info.type).toBe('external-out'); // only the ToppedUp event
        }
        tally.add('openReceiverChecks');
    });

    it('Worker.ProveEquivocation with receipts the worker did not sign: ERR_BAD_SIGNATURE', async () => {
        const ch = s.channel.channel.address;
        const a = signReceipt({ channel: ch, seq: 1n, model: MODEL_A, inputHash: 1n, resultHash: 1n, promptTokens: 1n, completionTokens: 1n }, forgedKey.seed);
        const b = signReceipt({ channel: ch, seq: 1n, model: MODEL_A, inputHash: 1n, resultHash: 2n, promptTokens: 1n, completionTokens: 1n }, forgedKey.seed);
        const msg = beginCell().store(W.storeProveEquivocation({ $$type: 'ProveEquivocation', queryId: 0n, first: a.cell, firstSignature: a.signature, second: b.cell, secondSignature: b.signature })).endCell();
        await expectCleanRefusal(bc(), 'forged', 'Worker', 'ProveEquivocation', () => sendFrom(bc(), stranger(), s.workerA.worker.address, msg), W.ERR_BAD_SIGNATURE);
    });

    it('Root.AuditVerdict signed by a non-auditor: ERR_UNKNOWN_AUDITOR; RegisterWorker below the minimum stake: ERR_STAKE_TOO_LOW', async () => {
        const ch = s.channel.channel.address;
        const forged = auditVerdictBody({ kind: 3n, target: ch, subject: W.jobSubject(ch, s.jobSeq), evidenceHash: 0n, expiry: BigInt(s.blockchain.now!) + 60n }, [forgedKey]);
        const msg = beginCell().store(W.storeAuditVerdict({ $$type: 'AuditVerdict', queryId: 0n, verdict: forged.verdict, signatures: forged.signatures })).endCell();
        await expectCleanRefusal(bc(), 'forged', 'Root', 'AuditVerdict', () => sendFrom(bc(), stranger(), s.root.address, msg), W.ERR_UNKNOWN_AUDITOR);
        const low = beginCell().store(W.storeRegisterWorker({ ...W.loadRegisterWorker(body.RegisterWorker().beginParse()), stake: s.params.minWorkerStake - 1n })).endCell();
        await expectCleanRefusal(bc(), 'stranger', 'Root', 'RegisterWorker', () => sendFrom(bc(), stranger(), s.root.address, low, toNano('20')), W.ERR_STAKE_TOO_LOW);
    });

    it('Root donations (plain, ProtocolFee, SlashProceeds) and RequestParams, Worker.SyncParams: no contract pays anything out', async () => {
        for (const [message, to] of [['empty', s.root.address], ['ProtocolFee', s.root.address], ['SlashProceeds', s.root.address], ['RequestParams', s.root.address], ['SyncParams', s.workerA.worker.address]] as const) {
            const contracts = contractsOf(s);
            const before = await balances(bc(), contracts);
            const result = await sendFrom(bc(), stranger(), to, body[message](), toNano('1'));
            const after = await balances(bc(), contracts);
            contracts.forEach((_, i) => expect(after[i]).toBeGreaterThanOrEqual(before[i]));
            // Whatever left a contract went back to the stranger (an answer or the excess), never elsewhere.
            for (const tx of result.transactions) {
                for (const m of tx.outMessages.values()) {
                    if (m.info.type !== 'internal') continue;
                    const ok = m.info.dest.equals(stranger()) || contracts.some((c) => c.equals((m.info as { dest: Address }).dest));
                    expect(ok).toBe(true);
                }
            }
            tally.add('openReceiverChecks');
        }
    });
});

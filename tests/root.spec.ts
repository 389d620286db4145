// Root: registry, governance and treasury. One describe per receiver: the success path, then
// every refusal (each asserting its exit code and that no money moved except the bounce).
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, Dictionary, toNano } from '@ton/core';
import '@ton/test-utils';
import fc from 'fast-check';
import {
    auditVerdictBody,
    ERR_ALREADY_IN_LIST,
    ERR_AUDITOR_ORDER,
    ERR_BAD_AMOUNT,
    ERR_BAD_KEY,
    ERR_BAD_SIGNATURE,
    ERR_ENDPOINT_TOO_LONG,
    ERR_EXPIRED,
    ERR_FEES_EXCEED_AVAILABLE,
    ERR_LIST_FULL,
    ERR_LOW_VALUE,
    ERR_MEASUREMENT_NOT_ALLOWED,
    ERR_MODEL_NOT_ALLOWED,
    ERR_NOT_CONFIGURED,
    ERR_NOT_IN_LIST,
    ERR_NOT_OWNER,
    ERR_NOT_PENDING_OWNER,
    ERR_NOT_WORKER,
    ERR_PARAMS_APPROVALS,
    ERR_PARAMS_BPS,
    ERR_PARAMS_MAX_OPEN_JOBS,
    ERR_PARAMS_TIMEOUT_SLASH,
    ERR_PARAMS_UNBONDING_DELAY,
    ERR_PARAMS_ZERO,
    ERR_PAUSE_STATE,
    ERR_PAUSED,
    ERR_QUORUM,
    ERR_STAKE_TOO_LOW,
    ERR_SUBJECT_MISMATCH,
    ERR_TEE_NOT_ALLOWED,
    ERR_TOO_FEW_SIGNATURES,
    ERR_TOO_MANY_MODELS,
    ERR_TOO_MANY_SIGNATURES,
    ERR_UNKNOWN_AUDITOR,
    ERR_VERDICT_KIND,
    eventsOfAll,
    eventsOfType,
    loadJobVerdict,
    loadParamsUpdate,
    MAX_AUDITORS,
    MAX_MEASUREMENTS,
    MAX_MODELS,
    MAX_OPEN_JOBS,
    Params,
    publicKeyToInt,
    rawAuditorSignaturesCell,
    REGISTRATION_ALLOWANCE,
    Root,
    ROOT_STORAGE_RESERVE,
    rootFor,
    signCell,
    storeParams,
    TEE_SIMULATED,
    TEE_TDX,
    VerdictKind,
    verdictCell,
    WORKER_STATUS_ACTIVE,
    WORKER_STATUS_PENDING,
    workerFor,
} from '../wrappers';
import { ed25519FromSeed } from '../agents/core/ed25519';
import {
    auditorKeys,
    claimOf,
    createNetwork,
    devParams,
    GENESIS_TIME,
    MODEL_A,
    MODEL_B,
    Network,
    newEnclaveKeys,
    nowOf,
    priceList,
    registerWorker,
    REGISTRATION_EXTRA,
    SIMULATED_MEASUREMENT,
    snapshotOf,
    TDX_MEASUREMENT,
} from './helpers/cocoon';
import { balanceOf, expectNothingSentTo, expectRefused, receivedBy, txsOn } from './helpers/assertions';

const GOV_VALUE = toNano('0.05');

describe('Root', () => {
    let net: Network;
    let restore: () => Promise<void>;
    let root: SandboxContract<Root>;
    let gov: SandboxContract<TreasuryContract>;
    let stranger: SandboxContract<TreasuryContract>;
    let owner: SandboxContract<TreasuryContract>;

    beforeAll(async () => {
        net = await createNetwork({ auditors: 3 });
        root = net.root;
        gov = net.governance;
        stranger = await net.blockchain.treasury('stranger');
        owner = await net.blockchain.treasury('worker-owner');
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(async () => restore());

    const govSend = (body: Parameters<Root['send']>[3], value = GOV_VALUE) =>
        root.send(gov.getSender(), { value }, body);

    describe('deploy (StateInit + SetParams)', () => {
        it('deploys configured with params version 1 at an address that depends only on owner and instance', async () => {
            const state = await root.getState();
            expect(state.configured).toBe(true);
            expect(state.paramsVersion).toBe(1n);
            expect(state.owner.equals(gov.address)).toBe(true);
            expect(state.quorum).toBe(1n);
            expect(root.address.equals((await rootFor(gov.address, 0n)).address)).toBe(true);
            expect(root.address.equals((await rootFor(gov.address, 1n)).address)).toBe(false);
            expect(await root.getParams()).toEqual(net.params);
        });

        it('refuses to deploy with inconsistent params: the Root is left unconfigured', async () => {
            const blockchain = await Blockchain.create();
            const deployer = await blockchain.treasury('deployer');
            const bad = blockchain.openContract(await rootFor(deployer.address, 0n));
            const result = await bad.send(deployer.getSender(), { value: toNano('1') }, {
                $$type: 'SetParams',
                queryId: 0n,
                params: devParams({ unbondingDelay: 60n }),
            });
            expect(result.transactions).toHaveTransaction({ to: bad.address, success: false, exitCode: Number(ERR_PARAMS_UNBONDING_DELAY) });
            // the StateInit may stay, but with no params: it refuses every registration
            const account = (await blockchain.getContract(bad.address)).accountState;
            if (account?.type === 'active') expect((await bad.getState()).configured).toBe(false);
        });

        it('a Root deployed without params refuses registration until configured', async () => {
            const blockchain = await Blockchain.create();
            const deployer = await blockchain.treasury('deployer');
            const bare = blockchain.openContract(await rootFor(deployer.address, 7n));
            await bare.send(deployer.getSender(), { value: toNano('1') }, null);
            expect((await bare.getState()).configured).toBe(false);
            const w = await blockchain.treasury('w');
            const result = await bare.send(w.getSender(), { value: toNano('20') }, {
                $$type: 'RegisterWorker',
                queryId: 0n,
                slot: 0n,
                stake: toNano('10'),
                claim: claimOf(newEnclaveKeys()),
                endpoint: '',
                capacity: 1n,
                prices: Dictionary.empty(),
            });
            expectRefused(result, bare.address, Number(ERR_NOT_CONFIGURED));
        });
    });

    describe('SetParams', () => {
        it('replaces the params, bumps the version, emits ParamsChanged and returns the excess', async () => {
            const params = devParams({ minWorkerStake: toNano('20'), timeoutSlash: toNano('2') });
            const result = await govSend({ $$type: 'SetParams', queryId: 3n, params });
            expect(await root.getParams()).toEqual(params);
            expect(await root.getParamsVersion()).toBe(2n);
            const [event] = eventsOfType(eventsOfAll(result.transactions), 'ParamsChanged');
            expect(event.paramsVersion).toBe(2n);
            expect(event.params).toEqual(params);
            // the excess comes back: governance paid only fees
            const returned = receivedBy(result, gov.address, root.address);
            expect(returned).toBeGreaterThan(GOV_VALUE - toNano('0.02'));
        });

        it('refuses a sender other than the owner', async () => {
            const result = await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'SetParams', queryId: 0n, params: devParams({ minWorkerStake: 1n, timeoutSlash: 1n }) });
            expectRefused(result, root.address, Number(ERR_NOT_OWNER));
            expect(await root.getParams()).toEqual(net.params);
        });

        it('refuses too little value', async () => {
            const result = await govSend({ $$type: 'SetParams', queryId: 0n, params: devParams() }, toNano('0.01'));
            expectRefused(result, root.address, Number(ERR_LOW_VALUE));
        });

        it('refuses unbondingDelay <= maxJobDeadline + challengeWindow + disputeWindow (boundary: equal refused, +1 accepted)', async () => {
            const c = net.params.channel;
            const sum = c.maxJobDeadline + c.challengeWindow + c.disputeWindow;
            expectRefused(await govSend({ $$type: 'SetParams', queryId: 0n, params: devParams({ unbondingDelay: sum }) }), root.address, Number(ERR_PARAMS_UNBONDING_DELAY));
            expectRefused(
                await govSend({ $$type: 'SetParams', queryId: 0n, params: devParams({ channel: { disputeWindow: c.disputeWindow + 100_000n } }) }),
                root.address,
                Number(ERR_PARAMS_UNBONDING_DELAY),
            );
            const ok = await govSend({ $$type: 'SetParams', queryId: 0n, params: devParams({ unbondingDelay: sum + 1n }) });
            expect(ok.transactions).toHaveTransaction({ to: root.address, success: true });
            expect((await root.getParams()).unbondingDelay).toBe(sum + 1n);
        });

        it.each([
            ['protocolFeeBps above 5000', devParams({ channel: { protocolFeeBps: 5001n } }), ERR_PARAMS_BPS],
            ['equivocationSlashBps above 10000', devParams({ equivocationSlashBps: 10001n }), ERR_PARAMS_BPS],
            ['faultSlashBps above 10000', devParams({ faultSlashBps: 10001n }), ERR_PARAMS_BPS],
            ['reporterRewardBps above 10000', devParams({ reporterRewardBps: 10001n }), ERR_PARAMS_BPS],
            ['a zero challengeWindow', devParams({ channel: { challengeWindow: 0n } }), ERR_PARAMS_ZERO],
            ['a zero minWorkerStake', devParams({ minWorkerStake: 0n, timeoutSlash: 0n }), ERR_PARAMS_ZERO],
            ['a zero attestationTtl', devParams({ attestationTtl: 0n }), ERR_PARAMS_ZERO],
            ['a zero maxOpenJobs', devParams({ channel: { maxOpenJobs: 0n } }), ERR_PARAMS_ZERO],
            ['maxOpenJobs above MAX_OPEN_JOBS', devParams({ channel: { maxOpenJobs: MAX_OPEN_JOBS + 1n } }), ERR_PARAMS_MAX_OPEN_JOBS],
            ['a zero equivocationSlashBps', devParams({ equivocationSlashBps: 0n }), ERR_PARAMS_ZERO],
            ['attestationApprovals above 10', devParams({ attestationApprovals: 11n }), ERR_PARAMS_APPROVALS],
            ['timeoutSlash above minWorkerStake', devParams({ timeoutSlash: toNano('10') + 1n }), ERR_PARAMS_TIMEOUT_SLASH],
        ] as [string, Params, bigint][])('refuses %s', async (_name, params, code) => {
            expectRefused(await govSend({ $$type: 'SetParams', queryId: 0n, params }), root.address, Number(code));
            expect(await root.getParamsVersion()).toBe(1n);
        });
    });

    describe('AddMeasurement / RemoveMeasurement', () => {
        it('adds and removes a measurement with its TEE type, emitting events', async () => {
            const m = 0xabcn;
            const added = await govSend({ $$type: 'AddMeasurement', queryId: 0n, measurement: m, teeType: TEE_TDX });
            expect(await root.getMeasurementTeeType(m)).toBe(TEE_TDX);
            expect(eventsOfType(eventsOfAll(added.transactions), 'MeasurementAdded')[0]).toMatchObject({ measurement: m, teeType: TEE_TDX });
            const removed = await govSend({ $$type: 'RemoveMeasurement', queryId: 0n, measurement: m });
            expect(await root.getMeasurementTeeType(m)).toBe(0n);
            expect(eventsOfType(eventsOfAll(removed.transactions), 'MeasurementRemoved')).toHaveLength(1);
            expect((await root.getState()).measurementCount).toBe(2n);
        });

        it('refuses a duplicate, an unknown TEE type, a missing entry and a stranger', async () => {
            expectRefused(await govSend({ $$type: 'AddMeasurement', queryId: 0n, measurement: TDX_MEASUREMENT, teeType: TEE_TDX }), root.address, Number(ERR_ALREADY_IN_LIST));
            expectRefused(await govSend({ $$type: 'AddMeasurement', queryId: 0n, measurement: 5n, teeType: 3n }), root.address, Number(ERR_TEE_NOT_ALLOWED));
            expectRefused(await govSend({ $$type: 'RemoveMeasurement', queryId: 0n, measurement: 5n }), root.address, Number(ERR_NOT_IN_LIST));
            expectRefused(
                await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'AddMeasurement', queryId: 0n, measurement: 5n, teeType: TEE_TDX }),
                root.address,
                Number(ERR_NOT_OWNER),
            );
            expect((await root.getState()).measurementCount).toBe(2n);
        });

        it(`refuses to grow past ${MAX_MEASUREMENTS} measurements`, async () => {
            for (let i = 2n; i < MAX_MEASUREMENTS; i++) {
                await govSend({ $$type: 'AddMeasurement', queryId: 0n, measurement: 1000n + i, teeType: TEE_TDX });
            }
            expect((await root.getState()).measurementCount).toBe(MAX_MEASUREMENTS);
            expectRefused(await govSend({ $$type: 'AddMeasurement', queryId: 0n, measurement: 999n, teeType: TEE_TDX }), root.address, Number(ERR_LIST_FULL));
        });
    });

    describe('AddModel / RemoveModel', () => {
        it('adds and removes a model with its flags', async () => {
            await govSend({ $$type: 'AddModel', queryId: 0n, model: 42n, flags: 3n });
            expect(await root.getIsModelAllowed(42n)).toBe(true);
            expect((await root.getModels()).get(42n)).toBe(3);
            await govSend({ $$type: 'RemoveModel', queryId: 0n, model: 42n });
            expect(await root.getIsModelAllowed(42n)).toBe(false);
            expect((await root.getState()).modelCount).toBe(2n);
        });

        it('refuses a duplicate, a missing entry and a stranger', async () => {
            expectRefused(await govSend({ $$type: 'AddModel', queryId: 0n, model: MODEL_A, flags: 0n }), root.address, Number(ERR_ALREADY_IN_LIST));
            expectRefused(await govSend({ $$type: 'RemoveModel', queryId: 0n, model: 42n }), root.address, Number(ERR_NOT_IN_LIST));
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveModel', queryId: 0n, model: MODEL_A }), root.address, Number(ERR_NOT_OWNER));
            expect(await root.getIsModelAllowed(MODEL_A)).toBe(true);
        });

        it(`refuses to grow past ${MAX_MODELS} models`, async () => {
            for (let i = 2n; i < MAX_MODELS; i++) {
                await govSend({ $$type: 'AddModel', queryId: 0n, model: 5000n + i, flags: 0n });
            }
            expect((await root.getState()).modelCount).toBe(MAX_MODELS);
            expectRefused(await govSend({ $$type: 'AddModel', queryId: 0n, model: 4999n, flags: 0n }), root.address, Number(ERR_LIST_FULL));
        });
    });

    describe('AddAuditor / RemoveAuditor / SetQuorum', () => {
        it('adds and removes auditors; removal is allowed even below the quorum', async () => {
            await govSend({ $$type: 'SetQuorum', queryId: 0n, quorum: 3n });
            const key = publicKeyToInt(net.auditors[0].publicKey);
            const removed = await govSend({ $$type: 'RemoveAuditor', queryId: 0n, key });
            expect(eventsOfType(eventsOfAll(removed.transactions), 'AuditorRemoved')[0].key).toBe(key);
            expect(await root.getIsAuditor(key)).toBe(false);
            const state = await root.getState();
            expect(state.auditorCount).toBe(2n);
            expect(state.quorum).toBe(3n);
        });

        it('refuses a zero key, a duplicate, a missing auditor and a stranger', async () => {
            expectRefused(await govSend({ $$type: 'AddAuditor', queryId: 0n, key: 0n }), root.address, Number(ERR_BAD_KEY));
            expectRefused(await govSend({ $$type: 'AddAuditor', queryId: 0n, key: publicKeyToInt(net.auditors[1].publicKey) }), root.address, Number(ERR_ALREADY_IN_LIST));
            expectRefused(await govSend({ $$type: 'RemoveAuditor', queryId: 0n, key: 12345n }), root.address, Number(ERR_NOT_IN_LIST));
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'AddAuditor', queryId: 0n, key: 12345n }), root.address, Number(ERR_NOT_OWNER));
        });

        it(`refuses to grow past ${MAX_AUDITORS} auditors`, async () => {
            for (let i = 3n; i < MAX_AUDITORS; i++) {
                await govSend({ $$type: 'AddAuditor', queryId: 0n, key: 7000n + i });
            }
            expectRefused(await govSend({ $$type: 'AddAuditor', queryId: 0n, key: 6999n }), root.address, Number(ERR_LIST_FULL));
        });

        it('sets a quorum between 1 and the auditor count (and at most 10)', async () => {
            const result = await govSend({ $$type: 'SetQuorum', queryId: 0n, quorum: 2n });
            expect(eventsOfType(eventsOfAll(result.transactions), 'QuorumChanged')[0].quorum).toBe(2n);
            expectRefused(await govSend({ $$type: 'SetQuorum', queryId: 0n, quorum: 0n }), root.address, Number(ERR_QUORUM));
            expectRefused(await govSend({ $$type: 'SetQuorum', queryId: 0n, quorum: 4n }), root.address, Number(ERR_QUORUM));
            for (let i = 3n; i < 12n; i++) await govSend({ $$type: 'AddAuditor', queryId: 0n, key: 7000n + i });
            expectRefused(await govSend({ $$type: 'SetQuorum', queryId: 0n, quorum: 11n }), root.address, Number(ERR_QUORUM));
            expect((await root.getState()).quorum).toBe(2n);
        });
    });

    describe('every governance message', () => {
        const messages: [string, () => Parameters<Root['send']>[3]][] = [
            ['SetParams', () => ({ $$type: 'SetParams', queryId: 0n, params: devParams() })],
            ['AddMeasurement', () => ({ $$type: 'AddMeasurement', queryId: 0n, measurement: 5n, teeType: TEE_TDX })],
            ['RemoveMeasurement', () => ({ $$type: 'RemoveMeasurement', queryId: 0n, measurement: TDX_MEASUREMENT })],
            ['AddModel', () => ({ $$type: 'AddModel', queryId: 0n, model: 5n, flags: 0n })],
            ['RemoveModel', () => ({ $$type: 'RemoveModel', queryId: 0n, model: MODEL_B })],
            ['AddAuditor', () => ({ $$type: 'AddAuditor', queryId: 0n, key: 5n })],
            ['RemoveAuditor', () => ({ $$type: 'RemoveAuditor', queryId: 0n, key: publicKeyToInt(net.auditors[2].publicKey) })],
            ['SetQuorum', () => ({ $$type: 'SetQuorum', queryId: 0n, quorum: 2n })],
            ['ProposeOwner', () => ({ $$type: 'ProposeOwner', queryId: 0n, newOwner: stranger.address })],
            ['Pause', () => ({ $$type: 'Pause', queryId: 0n })],
            ['WithdrawFees', () => ({ $$type: 'WithdrawFees', queryId: 0n, amount: 1n, to: stranger.address })],
        ];

        it.each(messages)('%s: refused from a stranger (256) and below the minimum value (258), changing nothing', async (_name, body) => {
            const snapshot = async () => {
                const { owner: o, pendingOwner, ...rest } = await root.getState();
                return { ...rest, owner: o.toString(), pendingOwner: pendingOwner?.toString() ?? null, params: await root.getParams() };
            };
            const before = await snapshot();
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, body()), root.address, Number(ERR_NOT_OWNER));
            expectRefused(await root.send(gov.getSender(), { value: toNano('0.02') - 1n }, body()), root.address, Number(ERR_LOW_VALUE));
            expect(await snapshot()).toEqual(before);
        });

        it.each(messages)('%s: from the owner with enough value, succeeds and returns the unused value', async (_name, body) => {
            await root.send(stranger.getSender(), { value: toNano('1') }, { $$type: 'ProtocolFee', amount: toNano('1') });
            const result = await root.send(gov.getSender(), { value: GOV_VALUE }, body());
            expect(result.transactions).toHaveTransaction({ to: root.address, success: true });
            expect(receivedBy(result, gov.address, root.address)).toBeGreaterThan(0n);
            expect(eventsOfAll(result.transactions).length).toBeGreaterThan(0);
        });
    });

    describe('ProposeOwner / AcceptOwner (two-step ownership)', () => {
        it('transfers ownership only when the proposed owner accepts; the old owner loses its rights', async () => {
            const next = await net.blockchain.treasury('next-owner');
            const proposed = await govSend({ $$type: 'ProposeOwner', queryId: 0n, newOwner: next.address });
            expect(eventsOfType(eventsOfAll(proposed.transactions), 'OwnershipProposed')[0].newOwner.equals(next.address)).toBe(true);
            expect((await root.getOwner()).equals(gov.address)).toBe(true);
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'AcceptOwner', queryId: 0n }), root.address, Number(ERR_NOT_PENDING_OWNER));
            const accepted = await root.send(next.getSender(), { value: GOV_VALUE }, { $$type: 'AcceptOwner', queryId: 0n });
            const [event] = eventsOfType(eventsOfAll(accepted.transactions), 'OwnershipTransferred');
            expect(event.previousOwner.equals(gov.address) && event.newOwner.equals(next.address)).toBe(true);
            expect((await root.getState()).pendingOwner).toBeNull();
            expectRefused(await govSend({ $$type: 'Pause', queryId: 0n }), root.address, Number(ERR_NOT_OWNER));
            expectRefused(await root.send(next.getSender(), { value: GOV_VALUE }, { $$type: 'AcceptOwner', queryId: 0n }), root.address, Number(ERR_NOT_PENDING_OWNER));
        });

        it('a later proposal replaces an earlier one; only the owner may propose', async () => {
            const first = await net.blockchain.treasury('first');
            const second = await net.blockchain.treasury('second');
            await govSend({ $$type: 'ProposeOwner', queryId: 0n, newOwner: first.address });
            await govSend({ $$type: 'ProposeOwner', queryId: 0n, newOwner: second.address });
            expectRefused(await root.send(first.getSender(), { value: GOV_VALUE }, { $$type: 'AcceptOwner', queryId: 0n }), root.address, Number(ERR_NOT_PENDING_OWNER));
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'ProposeOwner', queryId: 0n, newOwner: stranger.address }), root.address, Number(ERR_NOT_OWNER));
            expect((await root.getState()).pendingOwner?.equals(second.address)).toBe(true);
        });
    });

    describe('Pause / Unpause', () => {
        it('while paused refuses registration but keeps verdicts, fees and withdrawals working', async () => {
            const paused = await govSend({ $$type: 'Pause', queryId: 0n });
            expect(eventsOfType(eventsOfAll(paused.transactions), 'RootPaused')).toHaveLength(1);
            expect(await root.getPaused()).toBe(true);
            expect(await root.getParamsVersion()).toBe(2n);
            const { result, worker } = await registerWorker(net, owner);
            expectRefused(result, root.address, Number(ERR_PAUSED));
            expect((await net.blockchain.getContract(worker.address)).accountState?.type).not.toBe('active');
            const fee = await root.send(stranger.getSender(), { value: toNano('3') }, { $$type: 'ProtocolFee', amount: toNano('3') });
            expect(fee.transactions).toHaveTransaction({ to: root.address, success: true });
            const withdraw = await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount: toNano('1'), to: gov.address });
            expect(withdraw.transactions).toHaveTransaction({ from: root.address, to: gov.address, value: toNano('1') });
            await govSend({ $$type: 'Unpause', queryId: 0n });
            expect(await root.getPaused()).toBe(false);
            expect((await registerWorker(net, owner)).result.transactions).toHaveTransaction({ from: root.address, deploy: true, success: true });
        });

        it('refuses pausing twice, unpausing when not paused, and strangers', async () => {
            expectRefused(await govSend({ $$type: 'Unpause', queryId: 0n }), root.address, Number(ERR_PAUSE_STATE));
            await govSend({ $$type: 'Pause', queryId: 0n });
            expectRefused(await govSend({ $$type: 'Pause', queryId: 0n }), root.address, Number(ERR_PAUSE_STATE));
            expectRefused(await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'Unpause', queryId: 0n }), root.address, Number(ERR_NOT_OWNER));
            expect(await root.getPaused()).toBe(true);
        });
    });

    describe('ProtocolFee / WithdrawFees (treasury)', () => {
        it('credits protocol fees to the treasury and sends nothing out', async () => {
            const result = await root.send(stranger.getSender(), { value: toNano('2') }, { $$type: 'ProtocolFee', amount: toNano('2') });
            const [event] = eventsOfType(eventsOfAll(result.transactions), 'TreasuryCredited');
            expect(event).toMatchObject({ amount: toNano('2'), source: 1n });
            expect(event.from.equals(stranger.address)).toBe(true);
            expect((await root.getState()).feesReceived).toBe(toNano('2'));
            expect(txsOn(result, root.address)[0].outMessagesCount).toBe(1); // the event only
        });

        it('withdraws exactly the amount to the named address and keeps the storage reserve', async () => {
            await root.send(stranger.getSender(), { value: toNano('5') }, { $$type: 'ProtocolFee', amount: toNano('5') });
            const available = await root.getWithdrawable();
            const before = await balanceOf(net.blockchain, root.address);
            expect(available).toBe(before - ROOT_STORAGE_RESERVE);
            expect(available).toBeGreaterThan(toNano('4.99')); // the fee paid for its own gas
            const to = await net.blockchain.treasury('treasury-destination');
            const result = await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount: available, to: to.address });
            expect(result.transactions).toHaveTransaction({ from: root.address, to: to.address, value: available });
            expect(eventsOfType(eventsOfAll(result.transactions), 'FeesWithdrawn')[0].amount).toBe(available);
            const after = await balanceOf(net.blockchain, root.address);
            expect(after).toBeGreaterThanOrEqual(ROOT_STORAGE_RESERVE);
            expect(after).toBeLessThan(ROOT_STORAGE_RESERVE + toNano('0.001'));
        });

        it('a withdrawal to an address that bounces comes back to the treasury', async () => {
            await root.send(stranger.getSender(), { value: toNano('3') }, { $$type: 'ProtocolFee', amount: toNano('3') });
            const before = await root.getWithdrawable();
            const nowhere = (await workerFor(root.address, stranger.address, 999n)).address; // never deployed
            const result = await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount: toNano('2'), to: nowhere });
            expect(result.transactions).toHaveTransaction({ from: root.address, to: nowhere, success: false });
            expect(result.transactions).toHaveTransaction({ from: nowhere, to: root.address, inMessageBounced: true });
            const after = await root.getWithdrawable();
            // back but for the forward and bounce fees
            expect(before - after).toBeLessThan(toNano('0.01'));
        });

        it('refuses more than is available (boundary: available + 1), zero, and a stranger', async () => {
            const available = await root.getWithdrawable();
            expectRefused(await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount: available + 1n, to: gov.address }), root.address, Number(ERR_FEES_EXCEED_AVAILABLE));
            expectRefused(await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount: 0n, to: gov.address }), root.address, Number(ERR_BAD_AMOUNT));
            expectRefused(
                await root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'WithdrawFees', queryId: 0n, amount: 1n, to: stranger.address }),
                root.address,
                Number(ERR_NOT_OWNER),
            );
        });

        it('invariant: no sequence of fees, withdrawals and months of rent lets a withdrawal eat the reserve', async () => {
            await fc.assert(
                fc.asyncProperty(
                    fc.array(
                        fc.oneof(
                            fc.record({ kind: fc.constant('fee' as const), amount: fc.bigInt(1n, toNano('5')) }),
                            fc.record({ kind: fc.constant('withdraw' as const), fraction: fc.integer({ min: 0, max: 120 }) }),
                            fc.record({ kind: fc.constant('wait' as const), days: fc.integer({ min: 1, max: 400 }) }),
                        ),
                        { minLength: 1, maxLength: 12 },
                    ),
                    async (steps) => {
                        await restore();
                        net.blockchain.now = GENESIS_TIME;
                        for (const step of steps) {
                            if (step.kind === 'fee') {
                                await root.send(stranger.getSender(), { value: step.amount }, { $$type: 'ProtocolFee', amount: step.amount });
                            } else if (step.kind === 'wait') {
                                net.blockchain.now = (net.blockchain.now ?? 0) + step.days * 86400;
                            } else {
                                const available = await root.getWithdrawable();
                                const amount = (available * BigInt(step.fraction)) / 100n;
                                const result = await govSend({ $$type: 'WithdrawFees', queryId: 0n, amount, to: gov.address });
                                const ok = txsOn(result, root.address)[0].description;
                                const succeeded = ok.type === 'generic' && ok.computePhase.type === 'vm' && ok.computePhase.success;
                                // a withdrawal succeeds exactly when 0 < amount <= available
                                expect(succeeded).toBe(amount > 0n && amount <= available);
                                if (succeeded) {
                                    expect(await balanceOf(net.blockchain, root.address)).toBeGreaterThanOrEqual(ROOT_STORAGE_RESERVE);
                                }
                            }
                        }
                    },
                ),
                { numRuns: 25, seed: 20261123 },
            );
        });
    });

    describe('RegisterWorker', () => {
        it('deploys Worker(root, owner, slot) with the stake and emits WorkerRegistered', async () => {
            const { result, worker } = await registerWorker(net, owner, { slot: 3n, stake: toNano('15') });
            expect(worker.address.equals(await root.getWorkerAddress(owner.address, 3n))).toBe(true);
            expect(result.transactions).toHaveTransaction({ from: root.address, to: worker.address, deploy: true, success: true, value: (v) => (v ?? 0n) >= toNano('15.1') });
            const [event] = eventsOfType(eventsOfAll(result.transactions), 'WorkerRegistered');
            expect(event.worker.equals(worker.address) && event.owner.equals(owner.address)).toBe(true);
            expect(event).toMatchObject({ slot: 3n, stake: toNano('15'), teeType: TEE_SIMULATED, measurement: SIMULATED_MEASUREMENT });
            expect((await root.getState()).workersRegistered).toBe(1n);
            // Root keeps nothing of the registration: its balance is unchanged but for rounding of fees
            expect(await worker.getStake()).toBe(toNano('15'));
        });

        it('gives one owner one Worker per slot', async () => {
            const a = await registerWorker(net, owner, { slot: 0n });
            const b = await registerWorker(net, owner, { slot: 1n });
            expect(a.worker.address.equals(b.worker.address)).toBe(false);
            expect(await a.worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
            expect(await b.worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        });

        it('accepts a TDX worker when simulated TEEs are not allowed, and refuses a simulated one', async () => {
            await govSend({ $$type: 'SetParams', queryId: 0n, params: devParams({ allowSimulatedTee: false }) });
            const keys = newEnclaveKeys();
            const tdx = await registerWorker(net, owner, { slot: 0n, claim: claimOf(keys, TEE_TDX, TDX_MEASUREMENT) });
            expect(await tdx.worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
            const sim = await registerWorker(net, owner, { slot: 1n });
            expectRefused(sim.result, root.address, Number(ERR_TEE_NOT_ALLOWED));
        });

        const refusals: [string, () => Promise<{ code: bigint; opts: Parameters<typeof registerWorker>[2] }>][] = [
            ['a stake below minWorkerStake', async () => ({ code: ERR_STAKE_TOO_LOW, opts: { stake: toNano('10') - 1n } })],
            ['a value below stake + REGISTRATION_ALLOWANCE', async () => ({ code: ERR_LOW_VALUE, opts: { value: toNano('10') + REGISTRATION_ALLOWANCE - 1n } })],
            ['a measurement not on the allow-list', async () => ({ code: ERR_MEASUREMENT_NOT_ALLOWED, opts: { claim: claimOf(newEnclaveKeys(), TEE_SIMULATED, 0x1234n) } })],
            ['a measurement allowed only for another TEE type', async () => ({ code: ERR_MEASUREMENT_NOT_ALLOWED, opts: { claim: claimOf(newEnclaveKeys(), TEE_TDX, SIMULATED_MEASUREMENT) } })],
            ['an unknown TEE type', async () => ({ code: ERR_TEE_NOT_ALLOWED, opts: { claim: claimOf(newEnclaveKeys(), 9n, SIMULATED_MEASUREMENT) } })],
            ['a priced model not on the allow-list', async () => ({ code: ERR_MODEL_NOT_ALLOWED, opts: { prices: priceList([[MODEL_A, 1n, 1n], [0x77n, 1n, 1n]]) } })],
            ['more than 16 priced models', async () => {
                for (let i = 0n; i < 15n; i++) await govSend({ $$type: 'AddModel', queryId: 0n, model: 100n + i, flags: 0n });
                const entries: [bigint, bigint, bigint][] = [[MODEL_A, 1n, 1n], [MODEL_B, 1n, 1n]];
                for (let i = 0n; i < 15n; i++) entries.push([100n + i, 1n, 1n]);
                return { code: ERR_TOO_MANY_MODELS, opts: { prices: priceList(entries) } };
            }],
            ['an endpoint longer than 127 bytes', async () => ({ code: ERR_ENDPOINT_TOO_LONG, opts: { endpoint: 'https://' + 'a'.repeat(120) } })],
            ['a zero signing key', async () => ({ code: ERR_BAD_KEY, opts: { claim: { ...claimOf(newEnclaveKeys()), signingKey: 0n } } })],
        ];
        it.each(refusals)('refuses %s, deploying nothing and returning the value', async (_name, make) => {
            const { code, opts } = await make();
            const { result, worker } = await registerWorker(net, owner, opts);
            expectRefused(result, root.address, Number(code));
            expect((await net.blockchain.getContract(worker.address)).accountState?.type).not.toBe('active');
            expect((await root.getState()).workersRegistered).toBe(0n);
        });

        it('accepts exactly 16 priced models and an endpoint of exactly 127 bytes', async () => {
            for (let i = 0n; i < 14n; i++) await govSend({ $$type: 'AddModel', queryId: 0n, model: 100n + i, flags: 0n });
            const entries: [bigint, bigint, bigint][] = [[MODEL_A, 1n, 1n], [MODEL_B, 1n, 1n]];
            for (let i = 0n; i < 14n; i++) entries.push([100n + i, 1n, 1n]);
            const { worker } = await registerWorker(net, owner, { prices: priceList(entries), endpoint: 'h'.repeat(127) });
            expect((await worker.getPrices()).size).toBe(16);
            expect((await worker.getInfo()).endpoint).toHaveLength(127);
        });

        it('a second registration of a taken slot changes nothing and refunds everything but fees', async () => {
            const first = await registerWorker(net, owner, { stake: toNano('10') });
            const before = await owner.getBalance();
            const again = await registerWorker(net, owner, { stake: toNano('50') });
            expect(eventsOfType(eventsOfAll(again.result.transactions), 'RegistrationRefused')).toHaveLength(1);
            expect(await first.worker.getStake()).toBe(toNano('10'));
            const spent = before - (await owner.getBalance());
            expect(spent).toBeGreaterThan(0n);
            // Gas and forwarding only: the StateInit carries the Worker's code, which embeds the
            // Channel's code (about 0.06 TON of forward fees for both, docs/gas.md).
            expect(spent).toBeLessThan(toNano('0.1'));
        });
    });

    describe('AuditVerdict', () => {
        let pendingNet: Network;
        let restorePending: () => Promise<void>;
        let pendingWorker: Awaited<ReturnType<typeof registerWorker>>;
        let relayer: SandboxContract<TreasuryContract>;

        beforeAll(async () => {
            pendingNet = await createNetwork({ auditors: 12, quorum: 2, params: devParams({ attestationApprovals: 2n }) });
            relayer = await pendingNet.blockchain.treasury('relayer');
            pendingWorker = await registerWorker(pendingNet, await pendingNet.blockchain.treasury('owner'));
            restorePending = await snapshotOf(pendingNet.blockchain);
        });
        beforeEach(async () => restorePending());

        const okVerdict = (overrides: Partial<{ kind: bigint; target: Address; subject: bigint; expiry: bigint }> = {}) => ({
            kind: VerdictKind.AttestationOk,
            target: pendingWorker.worker.address,
            subject: pendingWorker.keys.quoteHash,
            evidenceHash: 0xe1n,
            expiry: nowOf(pendingNet) + 600n,
            ...overrides,
        });
        const submit = (verdict: Cell, signatures: Cell, value = toNano('0.1')) =>
            pendingNet.root.send(relayer.getSender(), { value }, { $$type: 'AuditVerdict', queryId: 9n, verdict, signatures });

        it('forwards a verdict signed by the quorum to its target and emits VerdictForwarded', async () => {
            const body = auditVerdictBody(okVerdict(), pendingNet.auditors.slice(0, 2));
            const result = await submit(body.verdict, body.signatures);
            expect(result.transactions).toHaveTransaction({ from: pendingNet.root.address, to: pendingWorker.worker.address, success: true });
            expect(await pendingWorker.worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
            const [event] = eventsOfType(eventsOfAll(result.transactions), 'VerdictForwarded');
            expect(event).toMatchObject({ kind: VerdictKind.AttestationOk, signatures: 2n, subject: pendingWorker.keys.quoteHash });
            // the relayer gets its unused value back from the Worker
            expect(receivedBy(result, relayer.address, pendingWorker.worker.address)).toBeGreaterThan(toNano('0.05'));
        });

        it('refuses too few signatures (AttestationOk needs max(quorum, attestationApprovals))', async () => {
            await pendingNet.root.send(pendingNet.governance.getSender(), { value: GOV_VALUE }, { $$type: 'SetParams', queryId: 0n, params: devParams({ attestationApprovals: 3n }) });
            const two = auditVerdictBody(okVerdict(), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(two.verdict, two.signatures), pendingNet.root.address, Number(ERR_TOO_FEW_SIGNATURES));
            const one = auditVerdictBody(okVerdict({ kind: VerdictKind.AttestationBad }), pendingNet.auditors.slice(0, 1));
            expectRefused(await submit(one.verdict, one.signatures), pendingNet.root.address, Number(ERR_TOO_FEW_SIGNATURES));
            expect(await pendingWorker.worker.getStatus()).toBe(WORKER_STATUS_PENDING);
        });

        it('refuses a duplicate auditor and keys out of order', async () => {
            const verdict = verdictCell(okVerdict());
            const a = pendingNet.auditors[0];
            const sig = { publicKey: a.publicKey, signature: signCell(verdict, a.seed) };
            expectRefused(await submit(verdict, rawAuditorSignaturesCell([sig, sig])), pendingNet.root.address, Number(ERR_AUDITOR_ORDER));
            const signed = pendingNet.auditors.slice(0, 2).map((x) => ({ publicKey: x.publicKey, signature: signCell(verdict, x.seed) }));
            signed.sort((x, y) => (x.publicKey.toString('hex') < y.publicKey.toString('hex') ? 1 : -1));
            expectRefused(await submit(verdict, rawAuditorSignaturesCell(signed)), pendingNet.root.address, Number(ERR_AUDITOR_ORDER));
        });

        it('refuses a key that is not an enabled auditor, including a removed one', async () => {
            const outsider = ed25519FromSeed(Buffer.alloc(32, 200));
            const body = auditVerdictBody(okVerdict(), [pendingNet.auditors[0], outsider]);
            expectRefused(await submit(body.verdict, body.signatures), pendingNet.root.address, Number(ERR_UNKNOWN_AUDITOR));
            await pendingNet.root.send(pendingNet.governance.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveAuditor', queryId: 0n, key: publicKeyToInt(pendingNet.auditors[1].publicKey) });
            const removed = auditVerdictBody(okVerdict(), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(removed.verdict, removed.signatures), pendingNet.root.address, Number(ERR_UNKNOWN_AUDITOR));
        });

        it('refuses a bad signature and a verdict whose target was changed after signing', async () => {
            const verdict = verdictCell(okVerdict());
            const [a, b] = pendingNet.auditors;
            const forged = rawAuditorSignaturesCell(
                [
                    { publicKey: a.publicKey, signature: signCell(verdict, a.seed) },
                    { publicKey: b.publicKey, signature: signCell(verdict, a.seed) },
                ].sort((x, y) => (x.publicKey.toString('hex') < y.publicKey.toString('hex') ? -1 : 1)),
            );
            expectRefused(await submit(verdict, forged), pendingNet.root.address, Number(ERR_BAD_SIGNATURE));
            const signedFor = auditVerdictBody(okVerdict(), [a, b]);
            const retargeted = verdictCell(okVerdict({ target: relayer.address }));
            expectRefused(await submit(retargeted, signedFor.signatures), pendingNet.root.address, Number(ERR_BAD_SIGNATURE));
        });

        it('refuses an expired verdict (boundary: expiry == now refused, now + 1 accepted)', async () => {
            const now = nowOf(pendingNet);
            const expired = auditVerdictBody(okVerdict({ expiry: now }), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(expired.verdict, expired.signatures), pendingNet.root.address, Number(ERR_EXPIRED));
            const fresh = auditVerdictBody(okVerdict({ expiry: now + 1n }), pendingNet.auditors.slice(0, 2));
            expect((await submit(fresh.verdict, fresh.signatures)).transactions).toHaveTransaction({ from: pendingNet.root.address, success: true });
        });

        it('refuses an unknown kind, more than 10 signatures, a non-Verdict cell and too little value', async () => {
            const kind0 = auditVerdictBody(okVerdict({ kind: 0n }), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(kind0.verdict, kind0.signatures), pendingNet.root.address, Number(ERR_VERDICT_KIND));
            const kind5 = auditVerdictBody(okVerdict({ kind: 5n }), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(kind5.verdict, kind5.signatures), pendingNet.root.address, Number(ERR_VERDICT_KIND));
            const eleven = auditVerdictBody(okVerdict(), pendingNet.auditors.slice(0, 11));
            expectRefused(await submit(eleven.verdict, eleven.signatures), pendingNet.root.address, Number(ERR_TOO_MANY_SIGNATURES));
            const notVerdict = beginCell().storeUint(0x5e000001, 32).storeUint(0, 64).endCell();
            expectRefused(await submit(notVerdict, kind0.signatures), pendingNet.root.address, 129);
            const cheap = auditVerdictBody(okVerdict(), pendingNet.auditors.slice(0, 2));
            expectRefused(await submit(cheap.verdict, cheap.signatures, toNano('0.05') - 1n), pendingNet.root.address, Number(ERR_LOW_VALUE));
        });

        it('forwards WorkerFault/WorkerRight verdicts to the target Channel as JobVerdict with the reporter', async () => {
            const channel = await pendingNet.blockchain.treasury('stand-in-channel');
            for (const kind of [VerdictKind.WorkerFault, VerdictKind.WorkerRight]) {
                const fields = okVerdict({ kind, target: channel.address, subject: 0x5en });
                const body = auditVerdictBody(fields, pendingNet.auditors.slice(0, 2));
                const result = await submit(body.verdict, body.signatures);
                const tx = txsOn(result, channel.address)[0];
                const forwarded = loadJobVerdict(tx.inMessage!.body.beginParse());
                expect(forwarded.queryId).toBe(9n);
                expect(forwarded.reporter.equals(relayer.address)).toBe(true);
                expect(forwarded.verdict).toMatchObject({ kind, subject: fields.subject, evidenceHash: fields.evidenceHash, expiry: fields.expiry });
                expect(forwarded.verdict.target.equals(channel.address)).toBe(true);
            }
        });

        it('a verdict the target refuses bounces into the treasury and changes nothing else', async () => {
            const wrongSubject = auditVerdictBody(okVerdict({ subject: 0xbadn }), pendingNet.auditors.slice(0, 2));
            const before = await pendingNet.root.getState();
            const result = await submit(wrongSubject.verdict, wrongSubject.signatures);
            expect(result.transactions).toHaveTransaction({ from: pendingNet.root.address, to: pendingWorker.worker.address, success: false, exitCode: Number(ERR_SUBJECT_MISMATCH) });
            const [credit] = eventsOfType(eventsOfAll(result.transactions), 'TreasuryCredited');
            expect(credit.source).toBe(3n);
            expect(await pendingWorker.worker.getStatus()).toBe(WORKER_STATUS_PENDING);
            expect(await pendingNet.root.getState()).toMatchObject({ workersRegistered: before.workersRegistered, feesReceived: before.feesReceived });
            expectNothingSentTo(result, relayer.address);
        });
    });

    describe('RequestParams / CheckAttestation / CheckPrices', () => {
        it('answers anyone with ParamsUpdate holding the current params and pause flag', async () => {
            await govSend({ $$type: 'Pause', queryId: 0n });
            const result = await root.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'RequestParams', queryId: 4n, excessesTo: stranger.address });
            const answer = txsOn(result, stranger.address).find((t) => t.inMessage?.info.src?.toString() === root.address.toString())!;
            const update = loadParamsUpdate(answer.inMessage!.body.beginParse());
            expect(update).toMatchObject({ queryId: 4n, paramsVersion: 2n, paused: true });
            expect(update.params.equals(beginCell().store(storeParams(net.params)).endCell())).toBe(true);
        });

        it('refuses CheckAttestation and CheckPrices from anything but the named Worker', async () => {
            const keys = newEnclaveKeys();
            expectRefused(
                await root.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'CheckAttestation', queryId: 0n, owner: stranger.address, slot: 0n, claim: claimOf(keys) }),
                root.address,
                Number(ERR_NOT_WORKER),
            );
            expectRefused(
                await root.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'CheckPrices', queryId: 0n, owner: owner.address, slot: 0n, prices: priceList([]) }),
                root.address,
                Number(ERR_NOT_WORKER),
            );
        });
    });

    describe('bad input', () => {
        it('refuses an unknown opcode (130) and a truncated body (9)', async () => {
            const unknown = await stranger.send({ to: root.address, value: toNano('0.05'), body: beginCell().storeUint(0x52ffffff, 32).storeUint(0, 64).endCell() });
            expectRefused(unknown, root.address, 130);
            const truncated = await stranger.send({ to: root.address, value: toNano('0.05'), body: beginCell().storeUint(0x52000003, 32).storeUint(0, 64).endCell() });
            expectRefused(truncated, root.address, 9);
            expect((await root.getState()).measurementCount).toBe(2n);
        });

        it('a bounced WorkerDeploy (a worker that failed to run) is recorded and uncounted', async () => {
            await registerWorker(net, owner);
            const original = beginCell().storeUint(0x57000001, 32).storeUint(5n, 64).storeCoins(toNano('10')).endCell();
            const worker = await workerFor(root.address, owner.address, 0n);
            const result = await net.blockchain.sendMessage({
                info: {
                    type: 'internal',
                    src: worker.address,
                    dest: root.address,
                    value: { coins: toNano('10') },
                    bounce: false,
                    bounced: true,
                    ihrDisabled: true,
                    ihrFee: 0n,
                    forwardFee: 0n,
                    createdAt: 0,
                    createdLt: 0n,
                },
                body: beginCell().storeUint(0xffffffff, 32).storeSlice(original.beginParse()).endCell(),
            });
            const [credit] = eventsOfType(eventsOfAll(result.transactions), 'TreasuryCredited');
            expect(credit).toMatchObject({ source: 3n, amount: toNano('10') });
            expect((await root.getState()).workersRegistered).toBe(0n);
        });
    });

    describe('getters', () => {
        it('expose the allow-lists and the worker address rule', async () => {
            expect((await root.getMeasurements()).get(SIMULATED_MEASUREMENT)).toBe(Number(TEE_SIMULATED));
            expect((await root.getAuditors()).keys().length).toBe(3);
            expect(await root.getIsAuditor(publicKeyToInt(auditorKeys(1)[0].publicKey))).toBe(true);
            expect((await root.getWorkerAddress(owner.address, 9n)).equals((await workerFor(root.address, owner.address, 9n)).address)).toBe(true);
            expect(REGISTRATION_EXTRA).toBeGreaterThan(REGISTRATION_ALLOWANCE);
        });
    });
});

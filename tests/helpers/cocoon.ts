// Test fixtures for the contracts: dev params, a deployed Root with its allow-lists filled, and
// registered workers. Build a network once per spec file and restore its snapshot per test.
import { Blockchain, BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Dictionary, toNano } from '@ton/core';
import { randomBytes } from 'node:crypto';
import {
    AttestationClaim,
    ChannelParams,
    dictValueParserModelPrice,
    ModelPrice,
    Params,
    Root,
    rootFor,
    TEE_SIMULATED,
    TEE_TDX,
    Worker,
    workerFor,
} from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { ed25519FromSeed, Ed25519KeyPair } from '../../agents/core/ed25519';

export type DeepPartialParams = Partial<Omit<Params, 'channel'>> & { channel?: Partial<ChannelParams> };

/** Params of a dev network: workers are Active at once, simulated TEEs allowed, short windows. */
export function devParams(overrides: DeepPartialParams = {}): Params {
    const { channel, ...rest } = overrides;
    return {
        $$type: 'Params',
        minWorkerStake: toNano('10'),
        unbondingDelay: 4n * 3600n,
        attestationTtl: 30n * 24n * 3600n,
        attestationApprovals: 0n,
        allowSimulatedTee: true,
        timeoutSlash: toNano('1'),
        equivocationSlashBps: 5000n,
        faultSlashBps: 1000n,
        reporterRewardBps: 1000n,
        ...rest,
        channel: {
            $$type: 'ChannelParams',
            challengeWindow: 600n,
            disputeWindow: 3600n,
            maxJobDeadline: 3600n,
            clientCloseDelay: 3600n,
            protocolFeeBps: 100n,
            minChannelDeposit: toNano('1'),
            maxOpenJobs: 16n,
            disputeBond: toNano('1'),
            ...(channel ?? {}),
        },
    };
}

/** Deterministic 32-byte value from a label, for readable fixtures. */
export function hash256(label: string): bigint {
    return BigInt('0x' + beginCell().storeStringTail(label).endCell().hash().toString('hex'));
}

export const SIMULATED_MEASUREMENT = hash256('measurement: simulated enclave v1');
export const TDX_MEASUREMENT = hash256('measurement: tdx image v1');
export const MODEL_A = hash256('model: tiny-llm A');
export const MODEL_B = hash256('model: tiny-llm B');

export interface EnclaveKeys {
    signing: Ed25519KeyPair;
    encryptionKey: bigint;
    quoteHash: bigint;
}

export function newEnclaveKeys(): EnclaveKeys {
    return {
        signing: ed25519FromSeed(randomBytes(32)),
        encryptionKey: BigInt('0x' + randomBytes(32).toString('hex')) | 1n,
        quoteHash: BigInt('0x' + randomBytes(32).toString('hex')),
    };
}

export function claimOf(keys: EnclaveKeys, teeType: bigint = TEE_SIMULATED, measurement = SIMULATED_MEASUREMENT): AttestationClaim {
    return {
        $$type: 'AttestationClaim',
        signingKey: publicKeyToInt(keys.signing.publicKey),
        encryptionKey: keys.encryptionKey,
        teeType,
        measurement,
        quoteHash: keys.quoteHash,
    };
}

export function priceList(entries: [bigint, bigint, bigint][]): Dictionary<bigint, ModelPrice> {
    const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), dictValueParserModelPrice());
    for (const [model, prompt, completion] of entries) {
        dict.set(model, { $$type: 'ModelPrice', prompt, completion });
    }
    return dict;
}

export function auditorKeys(count: number): Ed25519KeyPair[] {
    return Array.from({ length: count }, (_, i) => ed25519FromSeed(Buffer.alloc(32, i + 1)));
}

/** Chain time at which every test network starts (fixed, so tests are reproducible). */
export const GENESIS_TIME = 1_800_000_000;

export function nowOf(net: { blockchain: Blockchain }): bigint {
    return BigInt(net.blockchain.now ?? GENESIS_TIME);
}

export interface Network {
    blockchain: Blockchain;
    governance: SandboxContract<TreasuryContract>;
    root: SandboxContract<Root>;
    auditors: Ed25519KeyPair[];
    params: Params;
}

export interface NetworkOptions {
    params?: Params;
    auditors?: number;
    quorum?: number;
}

/**
 * A fresh chain with Root deployed by `governance`, the simulated and TDX measurements and
 * MODEL_A/MODEL_B allowed, `auditors` auditors (default 3) and the quorum (default 1).
 */
export async function createNetwork(options: NetworkOptions = {}): Promise<Network> {
    const blockchain = await Blockchain.create();
    blockchain.now = GENESIS_TIME;
    const governance = await blockchain.treasury('governance');
    const params = options.params ?? devParams();
    const root = blockchain.openContract(await rootFor(governance.address, 0n));
    expectSuccess(
        await root.send(governance.getSender(), { value: toNano('2') }, { $$type: 'SetParams', queryId: 0n, params }),
        root.address,
        'deploy Root',
    );
    const gov = governance.getSender();
    const value = toNano('0.05');
    await root.send(gov, { value }, { $$type: 'AddMeasurement', queryId: 0n, measurement: SIMULATED_MEASUREMENT, teeType: TEE_SIMULATED });
    await root.send(gov, { value }, { $$type: 'AddMeasurement', queryId: 0n, measurement: TDX_MEASUREMENT, teeType: TEE_TDX });
    await root.send(gov, { value }, { $$type: 'AddModel', queryId: 0n, model: MODEL_A, flags: 0n });
    await root.send(gov, { value }, { $$type: 'AddModel', queryId: 0n, model: MODEL_B, flags: 0n });
    const auditors = auditorKeys(options.auditors ?? 3);
    for (const auditor of auditors) {
        await root.send(gov, { value }, { $$type: 'AddAuditor', queryId: 0n, key: publicKeyToInt(auditor.publicKey) });
    }
    if (options.quorum !== undefined && options.quorum !== 1) {
        await root.send(gov, { value }, { $$type: 'SetQuorum', queryId: 0n, quorum: BigInt(options.quorum) });
    }
    const state = await root.getState();
    if (state.auditorCount !== BigInt(auditors.length) || state.modelCount !== 2n || state.measurementCount !== 2n) {
        throw new Error('createNetwork: governance setup did not apply');
    }
    return { blockchain, governance, root, auditors, params };
}

export interface RegisterOptions {
    slot?: bigint;
    stake?: bigint;
    keys?: EnclaveKeys;
    claim?: AttestationClaim;
    prices?: Dictionary<bigint, ModelPrice>;
    endpoint?: string;
    capacity?: bigint;
    value?: bigint;
}

export interface RegisteredWorker {
    worker: SandboxContract<Worker>;
    owner: SandboxContract<TreasuryContract>;
    keys: EnclaveKeys;
    result: SendMessageResult;
}

export const REGISTRATION_EXTRA = toNano('0.3');

/** Sends RegisterWorker from `owner` (stake defaults to the minimum) and opens the Worker. */
export async function registerWorker(
    net: Network,
    owner: SandboxContract<TreasuryContract>,
    options: RegisterOptions = {},
): Promise<RegisteredWorker> {
    const keys = options.keys ?? newEnclaveKeys();
    const stake = options.stake ?? net.params.minWorkerStake;
    const slot = options.slot ?? 0n;
    const result = await net.root.send(
        owner.getSender(),
        { value: options.value ?? stake + REGISTRATION_EXTRA },
        {
            $$type: 'RegisterWorker',
            queryId: 1n,
            slot,
            stake,
            claim: options.claim ?? claimOf(keys),
            endpoint: options.endpoint ?? 'https://worker.example/v1',
            capacity: options.capacity ?? 4n,
            prices: options.prices ?? priceList([[MODEL_A, 1000n, 2000n]]),
        },
    );
    const worker = net.blockchain.openContract(await workerFor(net.root.address, owner.address, slot));
    return { worker, owner, keys, result };
}

export function expectSuccess(result: SendMessageResult, to: Address, what: string): void {
    const tx = result.transactions.find(
        (t) => t.inMessage?.info.dest instanceof Address && (t.inMessage.info.dest as Address).equals(to),
    );
    if (!tx || tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm' || !tx.description.computePhase.success) {
        throw new Error(`${what}: transaction to ${to.toString()} did not succeed`);
    }
}

/** Snapshot helper: `const restore = await snapshotOf(bc)` then `await restore()` in beforeEach. */
export async function snapshotOf(blockchain: Blockchain): Promise<() => Promise<void>> {
    const snapshot: BlockchainSnapshot = blockchain.snapshot();
    return async () => {
        await blockchain.loadFrom(snapshot);
    };
}

import { Address, beginCell, Cell, Dictionary, fromNano } from '@ton/core';
import { attestWorker } from '../enclave/attestation';
import { quoteHashOf } from '../enclave/binding';
import { SimulatedEnclave } from '../enclave/simulated';
import { parseTdxQuote } from '../enclave/tdx-quote';
import { AttestationBundle, Enclave, TEE_TYPE_CODES } from '../enclave/types';
import { IdempotentSender } from '../chain/sender';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';
import {
    AttestationClaim,
    dictValueParserModelPrice,
    ModelPrice,
    Params,
    REGISTRATION_ALLOWANCE,
    Root,
    storeRegisterWorker,
    storeRenewAttestation,
    storeRequestUnbond,
    storeSetEndpoint,
    storeSetPrices,
    storeWithdraw,
    Worker,
    WORKER_OWNER_MIN_VALUE,
    WORKER_ROUNDTRIP_MIN_VALUE,
    WORKER_STATUS_ACTIVE,
    WORKER_STATUS_EXITED,
    WORKER_STATUS_JAILED,
    WORKER_STATUS_PENDING,
    WORKER_STATUS_TOMBSTONED,
    WORKER_STATUS_UNBONDING,
    WorkerInfo,
    workerFor,
} from '../../wrappers';
import { withRetry } from '../chain/retry';
import { deterministicQueryId, isDeployed, openOnChain, sendFromWallet } from './chain-access';
import { ModelNotAllowedError, RegistrationError } from './errors';
import { Logger } from './logger';
import { SigningJournal } from './signing-journal';

/**
 * Registration and attestation upkeep: the agent registers its Worker contract (stake, enclave
 * claim, endpoint, prices) when it has none, renews the attestation when its keys changed, when
 * auditors rejected it, or when it is about to expire, and brings the endpoint and prices in line
 * with the config. Every send goes through the idempotent sender under a query id derived from
 * what it does, so a crash mid-way never registers or renews twice.
 */
export const STATUS_NAMES: Record<string, string> = {
    [String(WORKER_STATUS_PENDING)]: 'pending',
    [String(WORKER_STATUS_ACTIVE)]: 'active',
    [String(WORKER_STATUS_JAILED)]: 'jailed',
    [String(WORKER_STATUS_UNBONDING)]: 'unbonding',
    [String(WORKER_STATUS_EXITED)]: 'exited',
    [String(WORKER_STATUS_TOMBSTONED)]: 'tombstoned',
    '0': 'none',
};

export function statusName(status: bigint): string {
    return STATUS_NAMES[String(status)] ?? `unknown(${status})`;
}

/** Value sent with owner messages beyond the contract's minimum: gas for the answer and excess. */
const OWNER_MARGIN = 30_000_000n;

/** The evidence the agent serves, with what it binds; persisted so a restart serves the same bytes. */
export interface CurrentAttestation extends AttestationBundle {
    quoteHash: Buffer;
    measurement: Buffer;
}

const ATTESTATION_KEY = 'attestation/current';

export function storedAttestation(journal: SigningJournal): CurrentAttestation | undefined {
    const stored = journal.get<Record<string, unknown>>(ATTESTATION_KEY);
    if (!stored) return undefined;
    return { ...(stored as unknown as CurrentAttestation), worker: Address.parse(stored.worker as string) };
}

function persistAttestation(journal: SigningJournal, bundle: CurrentAttestation): void {
    journal.put(ATTESTATION_KEY, {
        teeType: bundle.teeType,
        evidence: bundle.evidence,
        worker: bundle.worker.toRawString(),
        signingKey: bundle.signingKey,
        encryptionKey: bundle.encryptionKey,
        issuedAt: bundle.issuedAt,
        quoteHash: bundle.quoteHash,
        measurement: bundle.measurement,
    });
}

/** The measurement a claim names for this enclave's evidence. */
export function measurementOf(enclave: Enclave, evidence: Buffer): Buffer {
    if (enclave instanceof SimulatedEnclave) return enclave.measurement;
    if (enclave.teeType === 'tdx') return parseTdxQuote(evidence).measurement;
    throw new RegistrationError(`cannot tell the measurement of a ${enclave.teeType} enclave`);
}

export async function createAttestation(enclave: Enclave, worker: Address, issuedAt: number): Promise<CurrentAttestation> {
    const bundle = await attestWorker(enclave, worker, issuedAt);
    return { ...bundle, quoteHash: quoteHashOf(bundle.evidence), measurement: measurementOf(enclave, bundle.evidence) };
}

const big = (b: Buffer) => BigInt('0x' + b.toString('hex'));

export function claimOf(attestation: CurrentAttestation): AttestationClaim {
    return {
        $$type: 'AttestationClaim',
        signingKey: big(attestation.signingKey),
        encryptionKey: big(attestation.encryptionKey),
        teeType: BigInt(TEE_TYPE_CODES[attestation.teeType]),
        measurement: big(attestation.measurement),
        quoteHash: big(attestation.quoteHash),
    };
}

export function priceDict(model: bigint, prices: { prompt: bigint; completion: bigint }): Dictionary<bigint, ModelPrice> {
    const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), dictValueParserModelPrice());
    dict.set(model, { $$type: 'ModelPrice', prompt: prices.prompt, completion: prices.completion });
    return dict;
}

export interface RegistrationContext {
    chain: Chain;
    wallet: Wallet;
    sender: IdempotentSender;
    journal: SigningJournal;
    enclave: Enclave;
    root: Address;
    slot: bigint;
    model: bigint;
    prices: { prompt: bigint; completion: bigint };
    endpoint: string;
    capacity: number;
    stake: bigint;
    renewBeforeSeconds: number;
    log: Logger;
}

export interface RegistrationOutcome {
    worker: Address;
    info: WorkerInfo;
    attestation: CurrentAttestation;
    /** What was sent: 'registered', 'renewed', 'endpoint', 'prices'. */
    actions: string[];
}

export async function workerAddressOf(root: Address, owner: Address, slot: bigint): Promise<Address> {
    return (await workerFor(root, owner, slot)).address;
}

async function rootChecks(ctx: RegistrationContext, attestation: CurrentAttestation): Promise<Params> {
    const root = openOnChain(ctx.chain, Root.fromAddress(ctx.root));
    if (!(await isDeployed(ctx.chain, ctx.root))) {
        throw new RegistrationError(`no Root contract at ${ctx.root.toString()} on this network: check "root" and "network" in the config`);
    }
    const state = await root.getState();
    if (state.paused) throw new RegistrationError('Root is paused: no registration or renewal is accepted until governance unpauses it');
    const params = await root.getParams();
    if (attestation.teeType === 'simulated' && !params.allowSimulatedTee) {
        throw new RegistrationError('this network does not allow simulated enclaves (Root params: allowSimulatedTee = false); run on TDX');
    }
    const teeType = await root.getMeasurementTeeType(big(attestation.measurement));
    if (teeType !== BigInt(TEE_TYPE_CODES[attestation.teeType])) {
        throw new RegistrationError(
            `measurement ${attestation.measurement.toString('hex')} (${attestation.teeType}) is not on Root's allow-list: run an approved image, or ask governance to add it`,
        );
    }
    await requireModelAllowed(ctx);
    return params;
}

/**
 * The loaded model's hash (computed from the model folder's files at load) must be on Root's
 * allow-list at every start, not only at registration: a file changed after its hash was
 * registered gives another hash, and the worker refuses to serve it.
 */
async function requireModelAllowed(ctx: RegistrationContext): Promise<void> {
    const root = openOnChain(ctx.chain, Root.fromAddress(ctx.root));
    if (!(await root.getIsModelAllowed(ctx.model))) {
        throw new ModelNotAllowedError(
            `model ${ctx.model.toString(16).padStart(64, '0')} (the hash of the model folder's files) is not on Root's allow-list: ` +
                `if the folder changed since its hash was registered, restore its files (cocoon model hash DIR prints the hash); otherwise ask governance to add it`,
        );
    }
}

async function readInfo(ctx: RegistrationContext, worker: Address): Promise<WorkerInfo | undefined> {
    if (!(await isDeployed(ctx.chain, worker))) return undefined;
    return openOnChain(ctx.chain, Worker.fromAddress(worker)).getInfo();
}

/** Reads the worker's on-chain record (undefined when not registered). */
export async function readWorkerInfo(chain: Chain, worker: Address): Promise<WorkerInfo | undefined> {
    if (!(await isDeployed(chain, worker))) return undefined;
    return openOnChain(chain, Worker.fromAddress(worker)).getInfo();
}

function sameKeys(info: WorkerInfo, enclave: Enclave): boolean {
    return info.attestation.claim.signingKey === big(enclave.publicKeys.signingKey) && info.attestation.claim.encryptionKey === big(enclave.publicKeys.encryptionKey);
}

/** Registers, renews and syncs as needed; returns the on-chain record and the evidence to serve. */
export async function ensureRegistration(ctx: RegistrationContext, options: { auto: boolean }): Promise<RegistrationOutcome> {
    const worker = await workerAddressOf(ctx.root, ctx.wallet.address, ctx.slot);
    const log = ctx.log.child({ worker: worker.toString() });
    const actions: string[] = [];
    const now = await withRetry(() => ctx.chain.now(), { policy: CHAIN_READ_RETRY });
    let info = await readInfo(ctx, worker);
    let attestation = storedAttestation(ctx.journal);
    const attestationUsable = (a: CurrentAttestation | undefined): a is CurrentAttestation =>
        a !== undefined && a.worker.equals(worker) && a.signingKey.equals(ctx.enclave.publicKeys.signingKey) && a.encryptionKey.equals(ctx.enclave.publicKeys.encryptionKey);

    if (!info) {
        if (!options.auto) {
            throw new RegistrationError(
                `no Worker contract for this wallet in slot ${ctx.slot} (expected at ${worker.toString()}): run \`cocoon worker register\` or set registration.auto`,
            );
        }
        if (!attestationUsable(attestation)) {
            attestation = await createAttestation(ctx.enclave, worker, now);
            persistAttestation(ctx.journal, attestation);
        }
        const params = await rootChecks(ctx, attestation);
        if (ctx.stake < params.minWorkerStake) {
            throw new RegistrationError(`registration.stake ${fromNano(ctx.stake)} TON is below Root's minWorkerStake of ${fromNano(params.minWorkerStake)} TON`);
        }
        const body = beginCell()
            .store(
                storeRegisterWorker({
                    $$type: 'RegisterWorker',
                    queryId: 0n,
                    slot: ctx.slot,
                    stake: ctx.stake,
                    claim: claimOf(attestation),
                    endpoint: ctx.endpoint,
                    capacity: BigInt(ctx.capacity),
                    prices: priceDict(ctx.model, ctx.prices),
                }),
            )
            .endCell();
        log.info('worker-registering', { slot: ctx.slot, stake: fromNano(ctx.stake), quoteHash: attestation.quoteHash.toString('hex') });
        await ownerSend(ctx, 'register', worker, ctx.root, ctx.stake + REGISTRATION_ALLOWANCE + 50_000_000n, body);
        info = await waitFor(ctx, worker, (i) => i !== undefined, 'the Worker contract to be deployed');
        if (!info) throw new RegistrationError(`Root did not deploy the Worker at ${worker.toString()}: the registration was refused (see Root's transaction)`);
        actions.push('registered');
        log.info('worker-registered', { status: statusName(info.status) });
    } else {
        await requireModelAllowed(ctx);
    }

    const status = info.status;
    if (status === WORKER_STATUS_EXITED || status === WORKER_STATUS_TOMBSTONED) {
        throw new RegistrationError(`the Worker in slot ${ctx.slot} is ${statusName(status)} and cannot serve again; register another slot`);
    }
    const live = status === WORKER_STATUS_PENDING || status === WORKER_STATUS_ACTIVE || status === WORKER_STATUS_JAILED;

    // The evidence to serve must be the one the on-chain claim names (its quote hash).
    const onChainQuote = info.attestation.claim.quoteHash;
    const servesOnChainQuote = attestationUsable(attestation) && big(attestation.quoteHash) === onChainQuote;
    const expiringSoon = info.attestation.attested && Number(info.attestationExpiry) - now < ctx.renewBeforeSeconds;
    const renew = !sameKeys(info, ctx.enclave) || info.attestation.rejected || expiringSoon || !servesOnChainQuote;
    if (renew) {
        if (!live) {
            throw new RegistrationError(
                `the Worker is ${statusName(status)} and its attestation names other keys than this enclave's: it cannot be renewed while ${statusName(status)}`,
            );
        }
        if (!options.auto) throw new RegistrationError('the attestation needs renewing (new keys, rejected or expiring): set registration.auto or renew it');
        attestation = await createAttestation(ctx.enclave, worker, now);
        persistAttestation(ctx.journal, attestation);
        await rootChecks(ctx, attestation);
        const body = beginCell().store(storeRenewAttestation({ $$type: 'RenewAttestation', queryId: 0n, claim: claimOf(attestation) })).endCell();
        log.info('attestation-renewing', {
            reason: !sameKeys(info, ctx.enclave) ? 'new-keys' : info.attestation.rejected ? 'rejected' : expiringSoon ? 'expiring' : 'evidence-lost',
        });
        await ownerSend(ctx, 'renew', worker, worker, WORKER_ROUNDTRIP_MIN_VALUE + OWNER_MARGIN, body);
        const quote = big(attestation.quoteHash);
        info = (await waitFor(ctx, worker, (i) => i?.attestation.claim.quoteHash === quote, 'the renewed attestation'))!;
        if (info.attestation.claim.quoteHash !== quote) throw new RegistrationError('the attestation renewal was refused by Root (see the Worker transaction: UpdateRefused)');
        actions.push('renewed');
    }

    if (info.endpoint !== ctx.endpoint || info.capacity !== BigInt(ctx.capacity)) {
        if (options.auto) {
            const body = beginCell().store(storeSetEndpoint({ $$type: 'SetEndpoint', queryId: 0n, endpoint: ctx.endpoint, capacity: BigInt(ctx.capacity) })).endCell();
            await ownerSend(ctx, 'endpoint', worker, worker, WORKER_OWNER_MIN_VALUE + OWNER_MARGIN, body);
            info = (await waitFor(ctx, worker, (i) => i?.endpoint === ctx.endpoint, 'the new endpoint'))!;
            actions.push('endpoint');
        } else {
            log.warn('endpoint-differs', { onChain: info.endpoint, configured: ctx.endpoint });
        }
    }

    const priced = await openOnChain(ctx.chain, Worker.fromAddress(worker)).getPrices();
    const current = priced.get(ctx.model);
    if (!current || current.prompt !== ctx.prices.prompt || current.completion !== ctx.prices.completion || priced.size !== 1) {
        if (options.auto) {
            const body = beginCell().store(storeSetPrices({ $$type: 'SetPrices', queryId: 0n, prices: priceDict(ctx.model, ctx.prices) })).endCell();
            await ownerSend(ctx, 'prices', worker, worker, WORKER_ROUNDTRIP_MIN_VALUE + OWNER_MARGIN, body);
            actions.push('prices');
        } else {
            log.warn('prices-differ', { model: ctx.model.toString(16) });
        }
    }
    return { worker, info, attestation: attestation!, actions };
}

/** Reads ride out a rate-limiting or briefly unavailable chain API (as the contract getters do). */
const CHAIN_READ_RETRY = { baseDelayMs: 200, maxDelayMs: 5_000, maxAttempts: 6 };

/**
 * Sends an owner message under a query id derived from what it does and from the state it acts
 * on (the target account's last transaction): a restart before it lands resends it under the
 * same id (the sender finds or finishes the first send); once it landed the state differs and
 * the agent no longer wants to send it.
 */
async function ownerSend(ctx: RegistrationContext, kind: string, worker: Address, to: Address, value: bigint, body: Cell): Promise<void> {
    const account = await withRetry(() => ctx.chain.getAccount(worker), { policy: CHAIN_READ_RETRY });
    const queryId = deterministicQueryId(kind, worker.toRawString(), account.lastTransaction?.lt ?? 0n, body.hash().toString('hex'), value);
    const outcome = await sendFromWallet(ctx.sender, { queryId, to, value, body });
    if (!outcome.succeeded) throw new RegistrationError(`the wallet could not send ${kind} (its transaction failed: is the wallet funded?)`);
}

/** Polls the Worker's record until `done` (a send's cascade may take a few blocks on a real network). */
async function waitFor(
    ctx: RegistrationContext,
    worker: Address,
    done: (info: WorkerInfo | undefined) => boolean,
    what: string,
    timeoutMs = 90_000,
): Promise<WorkerInfo | undefined> {
    const started = Date.now();
    for (;;) {
        const info = await readInfo(ctx, worker);
        if (done(info)) return info;
        if (Date.now() - started > timeoutMs) {
            ctx.log.warn('registration-wait-timeout', { what });
            return info;
        }
        await new Promise((r) => setTimeout(r, ctx.chain.kind === 'sandbox' ? 10 : 1000));
    }
}

/** Owner actions for `cocoon worker unbond|withdraw`. */
export async function requestUnbond(ctx: { chain: Chain; sender: IdempotentSender; worker: Address }, queryId: bigint): Promise<WorkerInfo> {
    const body = beginCell().store(storeRequestUnbond({ $$type: 'RequestUnbond', queryId })).endCell();
    await sendFromWallet(ctx.sender, { queryId, to: ctx.worker, value: WORKER_OWNER_MIN_VALUE + OWNER_MARGIN, body });
    return (await readWorkerInfo(ctx.chain, ctx.worker))!;
}

export async function withdrawStake(ctx: { chain: Chain; sender: IdempotentSender; worker: Address }, queryId: bigint): Promise<WorkerInfo> {
    const body = beginCell().store(storeWithdraw({ $$type: 'Withdraw', queryId })).endCell();
    await sendFromWallet(ctx.sender, { queryId, to: ctx.worker, value: WORKER_OWNER_MIN_VALUE + OWNER_MARGIN, body });
    return (await readWorkerInfo(ctx.chain, ctx.worker))!;
}

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, fromNano } from '@ton/core';
import type { Collateral, TcbStatus } from '@phala/dcap-qvl';
import { backoffDelay, sleep } from '../chain/retry';
import { IdempotentSender, SenderOptions } from '../chain/sender';
import { ToncenterChain } from '../chain/toncenter';
import { Chain } from '../chain/types';
import { Wallet } from '../chain/wallet';
import { CursorMismatchError, Watcher } from '../chain/watcher';
import { DcapVerifier } from '../enclave/dcap';
import { SimulatedVerifier } from '../enclave/simulated';
import { EvidenceVerifier } from '../enclave/types';
import { EmbeddedEngine } from '../inference/embedded';
import { InferenceEngine } from '../inference/engine';
import { JournalLockedError, JournalStore } from '../store';
import { isDeployed, openOnChain } from '../worker/chain-access';
import { createLogger, Logger } from '../worker/logger';
import {
    AttestationRenewed,
    eventsOf,
    jobSubject,
    VERDICT_ATTESTATION_BAD,
    VERDICT_ATTESTATION_OK,
    VERDICT_WORKER_FAULT,
    VERDICT_WORKER_RIGHT,
    Worker,
    WorkerActivated,
    WorkerRegistered,
} from '../../wrappers';
import { hex256, readRoot } from './chain-view';
import { AuditorConfig } from './config';
import { checkEquivocation, proveEquivocation } from './equivocation';
import { AuditorApiError, AuditorStartError, QuorumNotReachedError } from './errors';
import { DisputeJudgement, judgeDispute } from './reexecute';
import { reviewWorker, ReviewOutcome } from './review';
import { AuditorHttpServer, startAuditorServer } from './server';
import { AuditorKeys, CosignRequest, readVerdictCell, VerdictKindName, VerdictSubmitter } from './verdicts';

/**
 * The auditor agent as a library: `startAuditor(config, deps)` does what `cocoon auditor start`
 * does and returns a handle. It
 *
 * - follows Root's `WorkerRegistered` events and each Worker's `WorkerActivated` and
 *   `AttestationRenewed` events (the watcher: exactly once, cursor persisted with its effects);
 * - reviews every registered or renewed worker's evidence and submits an AttestationOk or
 *   AttestationBad verdict (co-signed by peers when Root's quorum needs more keys than it holds);
 * - serves `POST /v1/equivocations` (two receipts → ProveEquivocation), `POST /v1/disputes` (the
 *   client's revealed plaintext → re-execution → WorkerRight/WorkerFault verdict) and
 *   `POST /v1/cosign` (peers' verdicts, judged independently before signing).
 */
export interface AuditorDeps {
    /** The chain (required for network "local"; otherwise built from config.chain). */
    chain?: Chain;
    /** The gas wallet (otherwise loaded from config.wallet). */
    wallet?: Wallet;
    /** The re-execution engine (otherwise loaded from config.model); the agent closes only engines it loaded. */
    engine?: InferenceEngine;
    /** Evidence verifiers (otherwise built from config.attestation). */
    verifiers?: EvidenceVerifier[];
    cosign?: CosignRequest;
    log?: Logger;
    senderOptions?: Partial<Omit<SenderOptions, 'chain' | 'wallet' | 'store'>>;
    /** Do not run the polling loop; the caller drives `tick()` (tests). */
    manual?: boolean;
}

export interface ReviewLogEntry {
    worker: string;
    outcome: ReviewOutcome['kind'];
    reason?: string;
    message?: string;
    quoteHash?: string;
    verdict?: string;
    at: number;
}

export interface AuditorHandle {
    url: string;
    root: Address;
    wallet: Address;
    keys: string[];
    store: JournalStore;
    submitter: VerdictSubmitter;
    /** One pass: new events, then every due review. Returns the reviews it ran. */
    tick(): Promise<ReviewLogEntry[]>;
    /** Workers waiting for a (new) review. */
    queued(): string[];
    reviews(): ReviewLogEntry[];
    stop(): Promise<void>;
    /** Resolves when the agent stopped: exit code 0 after stop(), 1 after a fatal error. */
    done: Promise<{ exitCode: number; error?: Error }>;
}

interface QueueEntry {
    since: number;
    attempts: number;
    nextAt: number;
}

type AuditorEvent = WorkerRegistered | WorkerActivated | AttestationRenewed;

export function verifiersFromConfig(config: AuditorConfig): EvidenceVerifier[] {
    const verifiers: EvidenceVerifier[] = [];
    if (config.attestation.trustedSimulatedKeys.length > 0) verifiers.push(new SimulatedVerifier({ trustedAttestationKeys: config.attestation.trustedSimulatedKeys }));
    if (config.attestation.dcapCollateralFile) {
        let collateral: Collateral;
        try {
            collateral = JSON.parse(readFileSync(config.attestation.dcapCollateralFile, 'utf8')) as Collateral;
        } catch (error) {
            throw new AuditorStartError(`cannot read the DCAP collateral ${config.attestation.dcapCollateralFile}: ${(error as Error).message}`);
        }
        verifiers.push(new DcapVerifier({ collateral, acceptedTcbStatuses: config.attestation.acceptedTcbStatuses as TcbStatus[] }));
    }
    return verifiers;
}

export async function startAuditor(config: AuditorConfig, deps: AuditorDeps = {}): Promise<AuditorHandle> {
    const log = (deps.log ?? createLogger({ level: config.logLevel })).child({ agent: 'auditor' });
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    let store: JournalStore;
    try {
        store = JournalStore.open(join(config.dataDir, 'auditor.journal'));
    } catch (error) {
        if (error instanceof JournalLockedError) throw new AuditorStartError(`${error.message} (is another auditor agent running with data dir ${config.dataDir}?)`);
        throw error;
    }
    let ownedEngine: InferenceEngine | undefined;
    try {
        if (config.network === 'local' && !deps.chain) {
            throw new AuditorStartError('network "local" is an in-process chain: pass it as deps.chain (the demo does), or use network "devnet" with `cocoon devnet`');
        }
        const chain =
            deps.chain ??
            new ToncenterChain({ endpoint: config.chain.endpoint!, apiKey: config.chain.apiKey, timeoutMs: config.chain.timeoutMs, minIntervalMs: config.chain.minIntervalMs });
        const wallet =
            deps.wallet ?? (await Wallet.load({ file: config.wallet.mnemonicFile, envVar: config.wallet.mnemonicEnv }, { version: config.wallet.version, subwallet: config.wallet.subwallet }));
        if (!(await isDeployed(chain, config.root))) {
            throw new AuditorStartError(`no Root contract at ${config.root.toString()} on this network: check "root" and "network" in the config`);
        }
        const keys = new AuditorKeys(config.seeds);
        const rootView = await readRoot(chain, config.root);
        const enabled = keys.publicKeys.filter((k) => rootView.auditors.has(k));
        if (enabled.length === 0) {
            throw new AuditorStartError(
                `none of this agent's auditor keys (${keys.publicKeys.join(', ')}) is an enabled auditor of Root ${config.root.toString()}: ` +
                    'ask governance to AddAuditor it (scripts/addAuditor.ts)',
            );
        }
        for (const k of keys.publicKeys) if (!rootView.auditors.has(k)) log.warn('key-not-auditor', { publicKey: k });
        const verifiers = deps.verifiers ?? verifiersFromConfig(config);
        if (verifiers.length === 0) log.warn('no-verifiers', { hint: 'set attestation.trustedSimulatedKeys or attestation.dcapCollateralFile: no evidence can be judged' });
        let engine = deps.engine;
        if (!engine && config.model) {
            ownedEngine = engine = await EmbeddedEngine.load({ model: config.model.path, threads: config.model.threads });
        }
        const sender = new IdempotentSender({ chain, wallet, store, log: (entry) => log.debug('sender', entry), ...deps.senderOptions });
        await sender.resume();
        const balance = (await chain.getAccount(wallet.address)).balance;
        if (balance < config.verdict.value * 2n) log.warn('wallet-low', { wallet: wallet.address.toString(), balance: fromNano(balance), hint: 'fund the gas wallet: every verdict costs gas' });
        const submitter = new VerdictSubmitter({
            chain,
            sender,
            store,
            root: config.root,
            keys,
            peers: config.peers,
            cosign: deps.cosign,
            value: config.verdict.value,
            ttlSeconds: config.verdict.ttlSeconds,
            log,
        });
        await submitter.resumePending();
        return await assemble(config, deps, { log, store, chain, wallet, keys, verifiers, engine, sender, submitter, ownedEngine });
    } catch (error) {
        await ownedEngine?.close().catch(() => undefined);
        store.close();
        throw error;
    }
}

interface Parts {
    log: Logger;
    store: JournalStore;
    chain: Chain;
    wallet: Wallet;
    keys: AuditorKeys;
    verifiers: EvidenceVerifier[];
    engine?: InferenceEngine;
    sender: IdempotentSender;
    submitter: VerdictSubmitter;
    ownedEngine?: InferenceEngine;
}

const QUEUE = 'auditor/queue/';
const WORKERS = 'auditor/workers/';
const REVIEWS = 'auditor/reviews/';
const MAX_WAITING_DISPUTES = 8;

async function assemble(config: AuditorConfig, deps: AuditorDeps, p: Parts): Promise<AuditorHandle> {
    const { log, store, chain, submitter, keys } = p;
    const root = config.root;
    const reviewContext = {
        chain,
        root,
        verifiers: p.verifiers,
        fetchTimeoutMs: config.attestation.fetchTimeoutMs,
        maxEvidenceBytes: config.attestation.maxEvidenceBytes,
    };
    const recent: ReviewLogEntry[] = [];
    const remember = (entry: ReviewLogEntry) => {
        recent.push(entry);
        if (recent.length > 200) recent.shift();
    };

    const watcher = new Watcher<AuditorEvent>({
        chain,
        store,
        name: `auditor/${root.toRawString()}`,
        accounts: [root, ...store.keys(WORKERS).map((k) => Address.parseRaw(k.slice(WORKERS.length)))],
        pollIntervalMs: config.watcher.pollIntervalMs,
        decoder: (tx) =>
            eventsOf(tx).filter(
                (e): e is AuditorEvent => e.$$type === 'WorkerRegistered' || e.$$type === 'WorkerActivated' || e.$$type === 'AttestationRenewed',
            ),
        handler: ({ event, account, utime }, batch) => {
            const worker = event.$$type === 'WorkerRegistered' ? event.worker : account;
            if (event.$$type === 'WorkerRegistered') {
                if (!account.equals(root)) return; // only Root's own events name new workers
                batch.put(WORKERS + worker.toRawString(), { owner: event.owner.toRawString(), slot: event.slot });
            } else if (!batch.get(WORKERS + worker.toRawString())) {
                return;
            }
            batch.put(QUEUE + worker.toRawString(), { since: utime, attempts: 0, nextAt: 0 } as never);
            watcher.addAccount(worker);
        },
        log: (entry) => log.debug('watcher', entry),
    });

    const settleReview = (worker: Address, entry: QueueEntry, outcome: ReviewOutcome, done: boolean, verdict?: string) => {
        const key = QUEUE + worker.toRawString();
        const logEntry: ReviewLogEntry = {
            worker: worker.toString(),
            outcome: outcome.kind,
            reason: 'reason' in outcome ? outcome.reason : undefined,
            message: 'message' in outcome ? outcome.message : undefined,
            quoteHash: 'quoteHash' in outcome ? hex256(outcome.quoteHash) : undefined,
            verdict,
            at: Math.floor(Date.now() / 1000),
        };
        remember(logEntry);
        store.update((b) => {
            b.put(REVIEWS + worker.toRawString(), logEntry as never);
            if (done) b.delete(key);
            else b.put(key, { ...entry, attempts: entry.attempts + 1, nextAt: Date.now() + config.attestation.retryIntervalMs } as never);
        });
        return logEntry;
    };

    /** Reviews one queued worker; returns the log entry. */
    const reviewOne = async (worker: Address, entry: QueueEntry): Promise<ReviewLogEntry> => {
        const now = await chain.now();
        const outcome = await reviewWorker(reviewContext, worker, now);
        log.info('review', { worker: worker.toString(), outcome: outcome.kind, reason: 'reason' in outcome ? outcome.reason : undefined });
        if (outcome.kind === 'skip') return settleReview(worker, entry, outcome, true);
        if (outcome.kind === 'retry') return settleReview(worker, entry, outcome, false);
        if (outcome.kind === 'ok' && outcome.alreadyApproved) return settleReview(worker, entry, outcome, true);
        const kind = outcome.kind === 'ok' ? VERDICT_ATTESTATION_OK : VERDICT_ATTESTATION_BAD;
        try {
            await submitter.submit({ kind, target: worker, subject: outcome.quoteHash, evidenceHash: outcome.evidenceHash });
        } catch (error) {
            if (error instanceof QuorumNotReachedError) {
                log.warn('quorum-not-reached', { worker: worker.toString(), error: error.message });
                return settleReview(worker, entry, { kind: 'retry', worker, reason: 'quorum-not-reached', message: error.message }, false);
            }
            throw error;
        }
        // Done once the Worker records the verdict for this quote; otherwise look again later.
        const info = await openOnChain(chain, Worker.fromAddress(worker)).getInfo();
        const applied =
            info.attestation.claim.quoteHash !== outcome.quoteHash ||
            (kind === VERDICT_ATTESTATION_OK ? info.attestation.attested : info.attestation.rejected);
        return settleReview(worker, entry, outcome, applied, VerdictKindName[String(kind)]);
    };

    const reviewDue = async (): Promise<ReviewLogEntry[]> => {
        const ran: ReviewLogEntry[] = [];
        for (const key of store.keys(QUEUE)) {
            const entry = store.get<QueueEntry>(key)!;
            if (entry.nextAt > Date.now()) continue;
            const worker = Address.parseRaw(key.slice(QUEUE.length));
            try {
                ran.push(await reviewOne(worker, entry));
            } catch (error) {
                log.warn('review-failed', { worker: worker.toString(), error });
                ran.push(settleReview(worker, entry, { kind: 'retry', worker, reason: 'error', message: (error as Error).message }, false));
            }
        }
        return ran;
    };

    let fatal: Error | undefined;
    const tick = async (): Promise<ReviewLogEntry[]> => {
        await watcher.pollOnce();
        return reviewDue();
    };

    // ----------------------------------------------------------------- disputes and co-signing
    let disputesWaiting = 0;
    let disputeChain: Promise<unknown> = Promise.resolve();
    /** Re-executions run one at a time (the model saturates the cores on its own). */
    const serialized = <T>(work: () => Promise<T>): Promise<T> => {
        if (disputesWaiting >= MAX_WAITING_DISPUTES) {
            throw new AuditorApiError('busy', 'busy', `${disputesWaiting} re-executions are waiting; retry later`);
        }
        disputesWaiting += 1;
        const run = disputeChain.then(work, work);
        disputeChain = run.catch(() => undefined).finally(() => (disputesWaiting -= 1));
        return run;
    };
    const requireEngine = (): InferenceEngine => {
        if (!p.engine) throw new AuditorApiError('unavailable', 'no-model', 'this auditor has no model configured (model.path): it cannot re-execute jobs');
        return p.engine;
    };
    const readDisputeBody = (body: unknown) => {
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AuditorApiError('bad_request', 'malformed-request', 'send {"channel", "seq", "input"}');
        const o = body as Record<string, unknown>;
        for (const k of Object.keys(o)) if (!['channel', 'seq', 'input'].includes(k)) throw new AuditorApiError('bad_request', 'malformed-request', `unknown field "${k}" (allowed: channel, seq, input)`);
        let channel: Address;
        try {
            channel = Address.parse(String(o.channel));
        } catch {
            throw new AuditorApiError('bad_request', 'malformed-request', `channel ${JSON.stringify(o.channel)} is not a TON address`);
        }
        if (typeof o.seq !== 'string' || !/^\d{1,20}$/.test(o.seq) || BigInt(o.seq) >= 1n << 64n) {
            throw new AuditorApiError('bad_request', 'malformed-request', 'seq must be the job number as a decimal string');
        }
        if (typeof o.input !== 'string' || o.input.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(o.input)) {
            throw new AuditorApiError('bad_request', 'malformed-request', 'input must be the base64 of the request plaintext');
        }
        return { channel, seq: BigInt(o.seq), input: Buffer.from(o.input, 'base64') };
    };
    const judge = async (request: { channel: Address; seq: bigint; input: Buffer }): Promise<DisputeJudgement> =>
        judgeDispute({ chain, root, engine: requireEngine(), fetchTimeoutMs: config.attestation.fetchTimeoutMs }, request, await chain.now());

    const handlers = {
        health: () => ({
            status: fatal ? 'failed' : 'ok',
            root: root.toString(),
            wallet: p.wallet.address.toString(),
            keys: keys.publicKeys,
            queued: store.keys(QUEUE).length,
            workersKnown: store.keys(WORKERS).length,
            model: p.engine?.modelHash ?? null,
        }),
        reviews: () => ({ reviews: recent.slice(-100) }),
        verdicts: () => ({
            verdicts: submitter.records().map((r) => ({
                kind: VerdictKindName[String(r.kind)],
                target: Address.parseRaw(r.target).toString(),
                subject: hex256(r.subject),
                signers: r.signers,
                expiry: r.expiry,
                status: r.status,
                walletTransactionSucceeded: r.succeeded ?? null,
            })),
        }),
        equivocation: async (body: unknown) => {
            const found = await checkEquivocation(chain, root, body);
            const record = await proveEquivocation({ chain, sender: p.sender, store, value: config.equivocation.value, log }, found);
            return {
                worker: found.worker.toString(),
                channel: found.channel.toString(),
                seq: found.seq.toString(),
                tombstoned: record.workerStatus === 6n,
                slashed: (record.stakeBefore - record.stakeAfter).toString(),
            };
        },
        dispute: async (body: unknown) => {
            const request = readDisputeBody(body);
            requireEngine();
            return serialized(async () => {
                const judgement = await judge(request);
                const submitted = await submitter.submit(
                    { kind: judgement.kind, target: judgement.channel, subject: judgement.subject, evidenceHash: judgement.evidenceHash },
                    { input: request.input },
                );
                log.info('dispute-judged', { channel: request.channel.toString(), seq: request.seq, verdict: judgement.verdict, differences: judgement.differences });
                return {
                    channel: judgement.channel.toString(),
                    seq: judgement.seq.toString(),
                    verdict: judgement.verdict,
                    differences: judgement.differences,
                    committed: { resultHash: hex256(judgement.committed.resultHash), promptTokens: judgement.committed.promptTokens, completionTokens: judgement.committed.completionTokens },
                    recomputed: { ...judgement.recomputed, resultHash: hex256(judgement.recomputed.resultHash) },
                    maxTokensSource: judgement.maxTokensSource,
                    submitted: { queryId: submitted.record.queryId.toString(), signers: submitted.record.signers, resumed: submitted.resumed },
                };
            });
        },
        cosign: async (body: unknown) => {
            if (!body || typeof body !== 'object' || Array.isArray(body)) throw new AuditorApiError('bad_request', 'malformed-request', 'send {"verdict", "seq"?, "input"?}');
            const o = body as Record<string, unknown>;
            if (typeof o.verdict !== 'string') throw new AuditorApiError('bad_request', 'malformed-request', 'verdict must be the base64 BOC of a Verdict cell');
            let read;
            try {
                read = readVerdictCell(Buffer.from(o.verdict, 'base64'));
            } catch (error) {
                throw new AuditorApiError('bad_request', 'malformed-verdict', `verdict is not a Verdict cell: ${(error as Error).message}`);
            }
            const { cell, verdict } = read;
            const now = await chain.now();
            if (verdict.expiry <= BigInt(now + 60) || verdict.expiry > BigInt(now + 30 * 86_400)) {
                throw new AuditorApiError('unprocessable', 'bad-expiry', 'the verdict expires too soon or too far in the future');
            }
            const disagree = (why: string): never => {
                throw new AuditorApiError('conflict', 'disagree', `this auditor does not agree: ${why}`);
            };
            if (verdict.kind === VERDICT_ATTESTATION_OK || verdict.kind === VERDICT_ATTESTATION_BAD) {
                const outcome = await reviewWorker(reviewContext, verdict.target, now);
                const mine = outcome.kind === 'ok' ? VERDICT_ATTESTATION_OK : outcome.kind === 'bad' ? VERDICT_ATTESTATION_BAD : undefined;
                if (mine === undefined) disagree(`its own review is "${outcome.kind}" (${'reason' in outcome ? outcome.reason : ''})`);
                if (mine !== verdict.kind) disagree(`its own review says ${VerdictKindName[String(mine)]}`);
                if (outcome.kind !== 'ok' && outcome.kind !== 'bad') return disagree('no judgement');
                if (outcome.quoteHash !== verdict.subject || outcome.evidenceHash !== verdict.evidenceHash) disagree('the verdict names other evidence than the worker serves');
            } else if (verdict.kind === VERDICT_WORKER_FAULT || verdict.kind === VERDICT_WORKER_RIGHT) {
                if (typeof o.input !== 'string' || typeof o.seq !== 'string' || !/^\d{1,20}$/.test(o.seq)) {
                    throw new AuditorApiError('bad_request', 'malformed-request', 'a job verdict needs "seq" (decimal) and "input" (base64 plaintext) to re-execute');
                }
                const seq = BigInt(o.seq);
                if (jobSubject(verdict.target, seq) !== verdict.subject) disagree('the subject is not this (channel, seq)');
                requireEngine();
                const judgement = await serialized(() => judge({ channel: verdict.target, seq, input: Buffer.from(o.input as string, 'base64') }));
                if (judgement.kind !== verdict.kind) disagree(`its re-execution says ${judgement.verdict}`);
                if (judgement.evidenceHash !== verdict.evidenceHash) disagree('its re-execution produced other evidence');
            } else {
                throw new AuditorApiError('bad_request', 'malformed-verdict', `unknown verdict kind ${verdict.kind}`);
            }
            const rootView = await readRoot(chain, root);
            const signatures = keys.sign(cell, rootView.auditors);
            log.info('verdict-cosigned', { kind: VerdictKindName[String(verdict.kind)], target: verdict.target.toString(), signatures: signatures.length });
            return { signatures: signatures.map((s) => ({ publicKey: s.publicKey.toString('hex'), signature: s.signature.toString('base64') })) };
        },
    };

    let server: AuditorHttpServer;
    try {
        server = await startAuditorServer({ ...config.http, handlers, log });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new AuditorStartError(`port ${config.http.port} on ${config.http.host} is in use: choose another http.port`);
        throw error;
    }
    log.info('auditor-ready', {
        url: server.url,
        root: root.toString(),
        wallet: p.wallet.address.toString(),
        keys: keys.publicKeys,
        model: p.engine?.modelHash ?? null,
        verifiers: p.verifiers.map((v) => v.teeType),
    });

    let resolveDone!: (value: { exitCode: number; error?: Error }) => void;
    const done = new Promise<{ exitCode: number; error?: Error }>((resolve) => (resolveDone = resolve));
    const controller = new AbortController();
    let loop: Promise<void> = Promise.resolve();
    if (!deps.manual) {
        loop = (async () => {
            let failures = 0;
            while (!controller.signal.aborted) {
                try {
                    await tick();
                    failures = 0;
                    await sleep(config.watcher.pollIntervalMs, controller.signal).catch(() => undefined);
                } catch (error) {
                    if (controller.signal.aborted) break;
                    if (error instanceof CursorMismatchError) {
                        fatal = error;
                        log.error('fatal', { error: error.message });
                        break;
                    }
                    failures += 1;
                    const delay = backoffDelay(failures, { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 1_000_000 });
                    log.warn('pass-failed', { error, retryInMs: delay });
                    await sleep(delay, controller.signal).catch(() => undefined);
                }
            }
        })();
    }

    let stopping: Promise<void> | undefined;
    const shutdown = async (exitCode: number) => {
        controller.abort();
        await loop;
        await server.close();
        await disputeChain.catch(() => undefined);
        await p.ownedEngine?.close().catch(() => undefined);
        store.close();
        log.info('stopped', {});
        resolveDone({ exitCode, error: fatal });
    };
    void loop.then(() => {
        if (fatal) stopping ??= shutdown(1);
    });

    return {
        url: server.url,
        root,
        wallet: p.wallet.address,
        keys: keys.publicKeys,
        store,
        submitter,
        tick,
        queued: () => store.keys(QUEUE).map((k) => Address.parseRaw(k.slice(QUEUE.length)).toString()),
        reviews: () => [...recent],
        stop: () => (stopping ??= shutdown(0)),
        done,
    };
}


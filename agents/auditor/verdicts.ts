import { Address, beginCell, Cell, internal } from '@ton/core';
import { IdempotentSender, SendOutcome } from '../chain/sender';
import { Chain } from '../chain/types';
import { ed25519FromSeed, Ed25519KeyPair } from '../core/ed25519';
import { JournalStore } from '../store/store';
import { deterministicQueryId } from '../worker/chain-access';
import { Logger } from '../worker/logger';
import {
    AuditorSignature,
    auditorSignaturesCell,
    MAX_VERDICT_SIGNATURES,
    parseVerdict,
    signCell,
    storeAuditVerdict,
    Verdict,
    VERDICT_ATTESTATION_OK,
    verdictCell,
    VerdictFields,
    verifyCell,
} from '../../wrappers';
import { hex256, readRoot, RootView } from './chain-view';
import { QuorumNotReachedError } from './errors';

/**
 * Verdicts: signed by this agent's auditor keys, co-signed by peer auditor agents when Root needs
 * more signatures than this agent holds, and submitted to Root as `AuditVerdict` through the
 * idempotent sender.
 *
 * Crash safety: the signed verdict (cell and signatures) and its query id are committed to the
 * store before the send, so a restart resends exactly the same message (the sender finds the
 * first one) instead of signing a second verdict. A verdict that expired before it landed is
 * replaced by a new attempt under a new query id.
 */
export const VerdictKindName: Record<string, string> = {
    '1': 'attestation-ok',
    '2': 'attestation-bad',
    '3': 'worker-fault',
    '4': 'worker-right',
};

export interface VerdictRecord {
    kind: bigint;
    target: string;
    subject: bigint;
    attempt: number;
    queryId: bigint;
    verdict: Buffer;
    signatures: Buffer;
    signers: string[];
    expiry: number;
    status: 'signed' | 'sent';
    succeeded?: boolean;
    lt?: bigint;
}

/** The signatures this agent can make: its keys that Root lists as enabled auditors. */
export class AuditorKeys {
    readonly pairs: Ed25519KeyPair[];

    constructor(seeds: Buffer[]) {
        this.pairs = seeds.map((seed) => ed25519FromSeed(seed));
    }

    get publicKeys(): string[] {
        return this.pairs.map((p) => p.publicKey.toString('hex'));
    }

    sign(verdict: Cell, enabled: Set<string>): AuditorSignature[] {
        return this.pairs
            .filter((p) => enabled.has(p.publicKey.toString('hex')))
            .map((p) => ({ publicKey: p.publicKey, signature: signCell(verdict, p.seed) }));
    }
}

/** Signatures Root requires for a verdict of this kind: AttestationOk needs max(quorum, attestationApprovals). */
export function requiredSignatures(kind: bigint, root: RootView): number {
    let required = Math.max(1, root.quorum);
    if (kind === VERDICT_ATTESTATION_OK) required = Math.max(required, Number(root.params.attestationApprovals));
    return required;
}

/** Asks another auditor agent to co-sign (POST /v1/cosign); it judges the case itself first. */
export type CosignRequest = (peer: string, verdict: Cell, context: { input?: Buffer }) => Promise<AuditorSignature[]>;

export const httpCosign: CosignRequest = async (peer, verdict, context) => {
    const url = new URL('/v1/cosign', peer).toString();
    const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ verdict: verdict.toBoc().toString('base64'), input: context.input?.toString('base64') }),
        signal: AbortSignal.timeout(300_000),
        redirect: 'error',
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`peer ${peer} refused to co-sign (${response.status}): ${text.slice(0, 500)}`);
    const body = JSON.parse(text) as { signatures?: { publicKey: string; signature: string }[] };
    if (!Array.isArray(body.signatures)) throw new Error(`peer ${peer} answered without signatures`);
    return body.signatures.map((s) => ({ publicKey: Buffer.from(String(s.publicKey), 'hex'), signature: Buffer.from(String(s.signature), 'base64') }));
};

export interface VerdictSubmitterDeps {
    chain: Chain;
    sender: IdempotentSender;
    store: JournalStore;
    root: Address;
    keys: AuditorKeys;
    peers: string[];
    cosign?: CosignRequest;
    /** Value sent with AuditVerdict. */
    value: bigint;
    ttlSeconds: number;
    log: Logger;
}

export interface SubmittedVerdict {
    record: VerdictRecord;
    outcome: SendOutcome;
    /** True when this call resent (or found) an earlier, still valid verdict instead of signing one. */
    resumed: boolean;
}

/** A verdict expiring within this many seconds is not resent; a fresh one is signed. */
const EXPIRY_MARGIN_SECONDS = 60;

export class VerdictSubmitter {
    private readonly cosign: CosignRequest;

    constructor(private readonly deps: VerdictSubmitterDeps) {
        this.cosign = deps.cosign ?? httpCosign;
    }

    private key(kind: bigint, target: Address, subject: bigint): string {
        return `auditor/verdicts/${kind}/${target.toRawString()}/${hex256(subject)}`;
    }

    record(kind: bigint, target: Address, subject: bigint): VerdictRecord | undefined {
        return this.deps.store.get<VerdictRecord>(this.key(kind, target, subject));
    }

    records(): VerdictRecord[] {
        return this.deps.store.keys('auditor/verdicts/').map((k) => this.deps.store.get<VerdictRecord>(k)!);
    }

    /**
     * Signs (with this agent's keys and, if needed, its peers') and submits a verdict, or resends
     * the one already signed for the same case while it is valid. `input` goes to peers that must
     * re-execute a job to co-sign.
     */
    async submit(fields: Omit<VerdictFields, 'expiry'>, context: { input?: Buffer } = {}): Promise<SubmittedVerdict> {
        const { store, chain, log } = this.deps;
        const key = this.key(fields.kind, fields.target, fields.subject);
        const now = await chain.now();
        const existing = store.get<VerdictRecord>(key);
        if (existing && existing.expiry > now + EXPIRY_MARGIN_SECONDS) {
            const outcome = await this.send(existing);
            return { record: store.get<VerdictRecord>(key)!, outcome, resumed: true };
        }
        const attempt = (existing?.attempt ?? 0) + 1;
        const expiry = now + this.deps.ttlSeconds;
        const verdict = verdictCell({ ...fields, expiry: BigInt(expiry) });
        const signatures = await this.gather(fields.kind, verdict, context);
        const record: VerdictRecord = {
            kind: fields.kind,
            target: fields.target.toRawString(),
            subject: fields.subject,
            attempt,
            queryId: deterministicQueryId('audit-verdict', fields.kind, fields.target.toRawString(), hex256(fields.subject), attempt),
            verdict: verdict.toBoc(),
            signatures: auditorSignaturesCell(signatures).toBoc(),
            signers: signatures.map((s) => s.publicKey.toString('hex')),
            expiry,
            status: 'signed',
        };
        // Committed before the send: a restart resends these bytes, never a second verdict.
        store.update((b) => b.put(key, record as never));
        log.info('verdict-signed', { kind: VerdictKindName[String(fields.kind)], target: fields.target.toString(), signers: record.signers.length, attempt });
        const outcome = await this.send(record);
        return { record: store.get<VerdictRecord>(key)!, outcome, resumed: false };
    }

    /** Resends every signed verdict whose send was not confirmed before a restart. */
    async resumePending(): Promise<number> {
        const now = await this.deps.chain.now();
        let resumed = 0;
        for (const record of this.records()) {
            if (record.status !== 'signed' || record.expiry <= now) continue;
            await this.send(record);
            resumed += 1;
        }
        return resumed;
    }

    private async send(record: VerdictRecord): Promise<SendOutcome> {
        const body = beginCell()
            .store(
                storeAuditVerdict({
                    $$type: 'AuditVerdict',
                    queryId: record.queryId,
                    verdict: Cell.fromBoc(record.verdict)[0],
                    signatures: Cell.fromBoc(record.signatures)[0],
                }),
            )
            .endCell();
        const outcome = await this.deps.sender.send({
            queryId: record.queryId,
            messages: [internal({ to: this.deps.root, value: this.deps.value, bounce: true, body })],
        });
        const key = this.key(record.kind, Address.parseRaw(record.target), record.subject);
        this.deps.store.update((b) => b.put(key, { ...record, status: 'sent', succeeded: outcome.succeeded, lt: outcome.transaction.lt } as never));
        this.deps.log.info('verdict-submitted', {
            kind: VerdictKindName[String(record.kind)],
            target: Address.parseRaw(record.target).toString(),
            queryId: record.queryId,
            walletTransactionSucceeded: outcome.succeeded,
        });
        return outcome;
    }

    /** This agent's signatures, then peers' until Root's requirement is met; each checked here. */
    private async gather(kind: bigint, verdict: Cell, context: { input?: Buffer }): Promise<AuditorSignature[]> {
        const root = await readRoot(this.deps.chain, this.deps.root);
        const required = requiredSignatures(kind, root);
        const byKey = new Map<string, AuditorSignature>();
        for (const s of this.deps.keys.sign(verdict, root.auditors)) byKey.set(s.publicKey.toString('hex'), s);
        const problems: string[] = [];
        if (byKey.size === 0) problems.push('none of this agent\'s keys is an enabled auditor of this Root');
        for (const peer of this.deps.peers) {
            if (byKey.size >= required) break;
            try {
                for (const s of await this.cosign(peer, verdict, context)) {
                    const hex = s.publicKey.toString('hex');
                    if (s.publicKey.length !== 32 || s.signature.length !== 64) continue;
                    if (!root.auditors.has(hex) || byKey.has(hex)) continue;
                    if (!verifyCell(verdict, s.signature, s.publicKey)) {
                        problems.push(`peer ${peer} returned a signature that does not verify`);
                        continue;
                    }
                    byKey.set(hex, s);
                }
            } catch (error) {
                problems.push((error as Error).message);
            }
        }
        if (byKey.size < required) throw new QuorumNotReachedError(required, byKey.size, problems.join('; ') || 'no peers configured');
        return [...byKey.values()].slice(0, Math.max(required, 1)).slice(0, Number(MAX_VERDICT_SIGNATURES));
    }
}

/** Reads a Verdict cell a peer asks this agent to co-sign; throws on a malformed one. */
export function readVerdictCell(boc: Buffer): { cell: Cell; verdict: Verdict } {
    const cells = Cell.fromBoc(boc);
    if (cells.length !== 1) throw new Error('a verdict BOC holds exactly one root cell');
    return { cell: cells[0], verdict: parseVerdict(cells[0]) };
}

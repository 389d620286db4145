import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { AuditorHandle, ReviewLogEntry } from '../../agents/auditor/agent';
import { Wallet } from '../../agents/chain/wallet';
import { WorkerAgentHandle } from '../../agents/worker/agent';
import { verdictCell, VERDICT_ATTESTATION_OK, WORKER_STATUS_ACTIVE, WORKER_STATUS_PENDING } from '../../wrappers';
import { fundedWallet, removeDir, sandboxWorld, SandboxWorld, startAgent, tempDir, workerConfig } from '../worker-agent/helpers';
import { auditorConfig, freePort, startAuditorOn, workerInfo } from './helpers';

jest.setTimeout(120_000);

function about(ran: ReviewLogEntry[], worker: Address): ReviewLogEntry[] {
    return ran.filter((entry) => entry.worker === worker.toString());
}

describe('auditor agent: quorum k = 2 (several keys in one agent, or co-signatures from a peer agent)', () => {
    let world: SandboxWorld;
    let dirs: string[] = [];
    let agents: WorkerAgentHandle[] = [];
    let auditors: AuditorHandle[] = [];
    const dir = (name: string) => {
        const d = tempDir(name);
        dirs.push(d);
        return d;
    };
    const startWorker = async () => {
        const port = await freePort();
        const agent = await startAgent(world, workerConfig(world, dir('worker'), { http: { port, publicUrl: `http://127.0.0.1:${port}` } }), await fundedWallet(world.net));
        agents.push(agent);
        return agent;
    };
    const startAuditor = async (keyIndexes: number[], overrides: Record<string, unknown> = {}): Promise<{ auditor: AuditorHandle; wallet: Wallet }> => {
        const wallet = await fundedWallet(world.net, toNano('10'));
        const auditor = await startAuditorOn(world, auditorConfig(world, dir('auditor'), keyIndexes.map((i) => world.net.auditors[i]), overrides), wallet);
        auditors.push(auditor);
        return { auditor, wallet };
    };

    beforeAll(async () => {
        world = await sandboxWorld({ attestationApprovals: 1n });
        await world.net.root.send(world.net.governance.getSender(), { value: toNano('0.05') }, { $$type: 'SetQuorum', queryId: 0n, quorum: 2n });
        expect((await world.net.root.getState()).quorum).toBe(2n);
    });
    afterEach(async () => {
        for (const a of auditors) await a.stop();
        for (const a of agents) await a.stop();
        auditors = [];
        agents = [];
        for (const d of dirs) removeDir(d);
        dirs = [];
    });
    afterAll(async () => {
        await world?.engine.close();
    });

    it('signs with two of its own keys when it holds them', async () => {
        const worker = await startWorker();
        const { auditor } = await startAuditor([0, 1]);
        expect(about(await auditor.tick(), worker.worker)).toEqual([expect.objectContaining({ outcome: 'ok', verdict: 'attestation-ok' })]);
        expect((await workerInfo(world, worker.worker)).status).toBe(WORKER_STATUS_ACTIVE);
        const [record] = auditor.submitter.records().filter((r) => r.target === worker.worker.toRawString());
        expect(record.signers.sort()).toEqual([world.net.auditors[0], world.net.auditors[1]].map((k) => k.publicKey.toString('hex')).sort());
    });

    it('gathers the second signature from a peer auditor agent that reviewed the worker itself', async () => {
        const worker = await startWorker();
        const { auditor: peer } = await startAuditor([1]);
        const { auditor } = await startAuditor([0], { peers: [peer.url] });
        expect(about(await auditor.tick(), worker.worker)).toEqual([expect.objectContaining({ outcome: 'ok', verdict: 'attestation-ok' })]);
        expect((await workerInfo(world, worker.worker)).status).toBe(WORKER_STATUS_ACTIVE);
        const [record] = auditor.submitter.records().filter((r) => r.target === worker.worker.toRawString());
        expect(record.signers).toContain(world.net.auditors[1].publicKey.toString('hex'));
        expect(record.signers).toHaveLength(2);
    });

    it('sends nothing when the peer disagrees (it does not trust this dev attestation key): the quorum is not reached', async () => {
        const worker = await startWorker();
        const { auditor: peer } = await startAuditor([1], { attestation: { trustedSimulatedKeys: [randomBytes(32).toString('hex')] } });
        const { auditor, wallet } = await startAuditor([0], { peers: [peer.url] });
        const seqno = await wallet.getSeqno(world.chain);
        const [entry] = about(await auditor.tick(), worker.worker);
        expect(entry).toEqual(expect.objectContaining({ outcome: 'retry', reason: 'quorum-not-reached' }));
        expect(entry.message).toMatch(/needs 2 auditor signatures .* only 1 could be gathered/);
        expect(entry.message).toMatch(/does not agree: its own review says attestation-bad/);
        expect(await wallet.getSeqno(world.chain)).toBe(seqno);
        expect((await workerInfo(world, worker.worker)).status).toBe(WORKER_STATUS_PENDING);
    });

    it('a peer refuses to co-sign a verdict naming other evidence than the worker serves', async () => {
        const worker = await startWorker();
        const { auditor: peer } = await startAuditor([1]);
        const info = await workerInfo(world, worker.worker);
        const forged = verdictCell({
            kind: VERDICT_ATTESTATION_OK,
            target: worker.worker,
            subject: info.attestation.claim.quoteHash,
            evidenceHash: 12345n,
            expiry: BigInt((await world.chain.now()) + 600),
        });
        const res = await fetch(`${peer.url}/v1/cosign`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ verdict: forged.toBoc().toString('base64') }),
        });
        expect(res.status).toBe(409);
        expect(((await res.json()) as { error: { reason: string; message: string } }).error).toEqual(
            expect.objectContaining({ reason: 'disagree', message: expect.stringMatching(/other evidence/) }),
        );
    });
});

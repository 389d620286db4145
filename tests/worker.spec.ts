import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import '@ton/test-utils';
import {
    auditVerdictBody,
    eventsOfAll,
    eventsOfType,
    VerdictKind,
    WORKER_STATUS_ACTIVE,
    WORKER_STATUS_PENDING,
} from '../wrappers';
import { createNetwork, devParams, Network, registerWorker, snapshotOf } from './helpers/cocoon';

describe('Worker', () => {
    let net: Network;
    let restore: () => Promise<void>;
    let owner: SandboxContract<TreasuryContract>;

    beforeAll(async () => {
        net = await createNetwork();
        owner = await net.blockchain.treasury('owner');
        restore = await snapshotOf(net.blockchain);
    });
    beforeEach(async () => restore());

    describe('registration (RegisterWorker -> WorkerDeploy)', () => {
        it('deploys an Active worker holding the stake when attestationApprovals is 0', async () => {
            const { worker, result } = await registerWorker(net, owner, { stake: toNano('12') });
            expect(result.transactions).toHaveTransaction({ from: net.root.address, to: worker.address, deploy: true, success: true });
            const info = await worker.getInfo();
            expect(info.status).toBe(WORKER_STATUS_ACTIVE);
            expect(info.stake).toBe(toNano('12'));
            expect(info.attestation.attested).toBe(true);
            const events = eventsOfAll(result.transactions);
            expect(eventsOfType(events, 'WorkerRegistered')).toHaveLength(1);
            expect(eventsOfType(events, 'WorkerActivated')[0].status).toBe(WORKER_STATUS_ACTIVE);
        });
    });

    describe('AttestationVerdict (via Root AuditVerdict)', () => {
        it('moves a Pending worker to Active on an AttestationOk verdict for its quote', async () => {
            const pendingNet = await createNetwork({ params: devParams({ attestationApprovals: 1n }) });
            const o = await pendingNet.blockchain.treasury('owner');
            const { worker, keys } = await registerWorker(pendingNet, o);
            expect(await worker.getStatus()).toBe(WORKER_STATUS_PENDING);
            const relayer = await pendingNet.blockchain.treasury('relayer');
            const body = auditVerdictBody(
                {
                    kind: VerdictKind.AttestationOk,
                    target: worker.address,
                    subject: keys.quoteHash,
                    evidenceHash: 1n,
                    expiry: BigInt(pendingNet.blockchain.now ?? Math.floor(Date.now() / 1000)) + 3600n,
                },
                [pendingNet.auditors[0]],
            );
            const result = await pendingNet.root.send(relayer.getSender(), { value: toNano('0.1') }, {
                $$type: 'AuditVerdict',
                queryId: 7n,
                ...body,
            });
            expect(result.transactions).toHaveTransaction({ from: pendingNet.root.address, to: worker.address, success: true });
            expect(await worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        });
    });
});

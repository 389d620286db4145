// The blueprint scripts, run unchanged against an in-process sandbox chain: deploy Root from a
// params file, curate the allow-lists, change params, register a worker, unbond and withdraw.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { publicKeyToInt, Root, rootFor, WORKER_STATUS_ACTIVE, WORKER_STATUS_EXITED, WORKER_STATUS_UNBONDING, workerFor } from '../wrappers';
import { ed25519FromSeed } from '../agents/core/ed25519';
import { sandboxProvider } from './helpers/sandboxProvider';
import { devParams, GENESIS_TIME } from './helpers/cocoon';
import { readParamsFile, ScriptError, validateParams } from '../scripts/lib';
import fc from 'fast-check';
import * as deployRoot from '../scripts/deployRoot';
import * as setParams from '../scripts/setParams';
import * as addMeasurement from '../scripts/addMeasurement';
import * as removeMeasurement from '../scripts/removeMeasurement';
import * as addModel from '../scripts/addModel';
import * as removeModel from '../scripts/removeModel';
import * as addAuditor from '../scripts/addAuditor';
import * as removeAuditor from '../scripts/removeAuditor';
import * as registerWorker from '../scripts/registerWorker';
import * as unbond from '../scripts/unbond';
import * as withdraw from '../scripts/withdraw';

const DEV_PARAMS = path.resolve(__dirname, '..', 'scripts', 'params', 'dev.json');
const hex = (n: bigint) => n.toString(16).padStart(64, '0');

describe('blueprint scripts against the sandbox', () => {
    let blockchain: Blockchain;
    let governance: SandboxContract<TreasuryContract>;
    let operator: SandboxContract<TreasuryContract>;
    let output: string[];
    let tmp: string;

    beforeAll(async () => {
        blockchain = await Blockchain.create();
        blockchain.now = GENESIS_TIME;
        governance = await blockchain.treasury('governance');
        operator = await blockchain.treasury('operator');
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-scripts-'));
    });
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
    beforeEach(() => {
        output = [];
    });

    const asGovernance = () => sandboxProvider(blockchain, governance, output);
    const asOperator = () => sandboxProvider(blockchain, operator, output);

    it('run the whole operator story: deploy, curate, set params, register, unbond, withdraw', async () => {
        await deployRoot.run(asGovernance(), [DEV_PARAMS]);
        const root = blockchain.openContract(await rootFor(governance.address, 0n));
        expect(output.at(-1)).toContain(`Root deployed at ${root.address.toString()}`);
        expect(await root.getParams()).toEqual(readParamsFile(DEV_PARAMS).params);

        const measurement = 0xabcdefn;
        const model = 0x1234n;
        const auditor = ed25519FromSeed(Buffer.alloc(32, 5));
        await addMeasurement.run(asGovernance(), [root.address.toString(), hex(measurement), 'simulated']);
        await addModel.run(asGovernance(), [root.address.toString(), hex(model), '7']);
        await addAuditor.run(asGovernance(), [root.address.toString(), auditor.publicKey.toString('hex')]);
        expect(await root.getMeasurementTeeType(measurement)).toBe(2n);
        expect((await root.getModels()).get(model)).toBe(7);
        expect(await root.getIsAuditor(publicKeyToInt(auditor.publicKey))).toBe(true);

        const changed = JSON.parse(fs.readFileSync(DEV_PARAMS, 'utf8'));
        changed.params.minWorkerStake = '12';
        const changedFile = path.join(tmp, 'changed.json');
        fs.writeFileSync(changedFile, JSON.stringify(changed));
        await setParams.run(asGovernance(), [root.address.toString(), changedFile]);
        expect((await root.getParams()).minWorkerStake).toBe(toNano('12'));
        expect(output.at(-1)).toContain('params version 1 -> 2');

        const registration = {
            slot: 3,
            stake: '12',
            signingKey: auditor.publicKey.toString('hex'),
            encryptionKey: hex(0x55n),
            teeType: 'simulated',
            measurement: hex(measurement),
            quoteHash: hex(0x66n),
            endpoint: 'https://gpu.example/v1',
            capacity: 2,
            prices: { [hex(model)]: { prompt: '100', completion: '300' } },
        };
        const registrationFile = path.join(tmp, 'registration.json');
        fs.writeFileSync(registrationFile, JSON.stringify(registration));
        await registerWorker.run(asOperator(), [root.address.toString(), registrationFile]);
        const worker = blockchain.openContract(await workerFor(root.address, operator.address, 3n));
        expect(await worker.getStatus()).toBe(WORKER_STATUS_ACTIVE);
        expect((await worker.getPrices()).get(model)).toMatchObject({ prompt: 100n, completion: 300n });

        await unbond.run(asOperator(), [root.address.toString(), '3']);
        expect(await worker.getStatus()).toBe(WORKER_STATUS_UNBONDING);
        await expect(withdraw.run(asOperator(), [root.address.toString(), '3'])).rejects.toThrow(/refused the withdrawal/);
        blockchain.now = Number((await worker.getInfo()).unbondAt);
        const before = await operator.getBalance();
        await withdraw.run(asOperator(), [root.address.toString(), '3']);
        expect(await worker.getStatus()).toBe(WORKER_STATUS_EXITED);
        expect((await operator.getBalance()) - before).toBeGreaterThan(toNano('11.9'));

        await removeAuditor.run(asGovernance(), [root.address.toString(), auditor.publicKey.toString('hex')]);
        await removeModel.run(asGovernance(), [root.address.toString(), hex(model)]);
        await removeMeasurement.run(asGovernance(), [root.address.toString(), hex(measurement)]);
        expect(await root.getIsAuditor(publicKeyToInt(auditor.publicKey))).toBe(false);
        expect(await root.getIsModelAllowed(model)).toBe(false);
        expect(await root.getMeasurementTeeType(measurement)).toBe(0n);
    });

    it('refuse bad input with a message that says what to fix, before sending anything', async () => {
        const bad = JSON.parse(fs.readFileSync(DEV_PARAMS, 'utf8'));
        bad.instance = 9;
        bad.params.unbondingDelay = 60;
        const badFile = path.join(tmp, 'bad.json');
        fs.writeFileSync(badFile, JSON.stringify(bad));
        await expect(deployRoot.run(asGovernance(), [badFile])).rejects.toThrow(/unbondingDelay \(60 s\) must exceed maxJobDeadline \+ challengeWindow \+ disputeWindow/);
        expect(output.at(-1)).toMatch(/^Error: params: unbondingDelay/);
        expect(await blockchain.getContract((await rootFor(governance.address, 9n)).address).then((c) => c.accountState?.type)).not.toBe('active');

        const root = (await rootFor(governance.address, 0n)).address.toString();
        await expect(addMeasurement.run(asGovernance(), [root, 'xyz', 'tdx'])).rejects.toThrow(/measurement must be 64 hex digits/);
        await expect(addMeasurement.run(asGovernance(), [root, hex(1n), 'sgx'])).rejects.toThrow(/TEE type must be "tdx" or "simulated"/);
        await expect(addModel.run(asGovernance(), [root])).rejects.toThrow(ScriptError);
        await expect(unbond.run(asOperator(), [root, '77'])).rejects.toThrow(/no worker of yours in slot 77/);
        // a stranger's governance call is refused on-chain, and the script says so
        await expect(addModel.run(asOperator(), [root, hex(0x99n)])).rejects.toThrow(/are you its owner/);
        expect(await blockchain.openContract(Root.fromAddress((await rootFor(governance.address, 0n)).address)).getIsModelAllowed(0x99n)).toBe(false);

        const extra = JSON.parse(fs.readFileSync(DEV_PARAMS, 'utf8'));
        extra.params.surprise = 1;
        const extraFile = path.join(tmp, 'extra.json');
        fs.writeFileSync(extraFile, JSON.stringify(extra));
        expect(() => readParamsFile(extraFile)).toThrow(/unknown field "surprise"/);
    });

    it('the scripts\' params check agrees with Root\'s on random params', async () => {
        const root = blockchain.openContract(await rootFor(governance.address, 0n));
        const small = fc.bigInt(0n, 4000n);
        await fc.assert(
            fc.asyncProperty(
                fc.record({ unbondingDelay: small, challengeWindow: small, disputeWindow: small, maxJobDeadline: small, protocolFeeBps: fc.bigInt(4990n, 5010n), faultSlashBps: fc.bigInt(9990n, 10010n), attestationApprovals: fc.bigInt(9n, 11n), timeoutSlash: fc.bigInt(0n, 20n) }),
                async (r) => {
                    const params = devParams({
                        unbondingDelay: r.unbondingDelay,
                        faultSlashBps: r.faultSlashBps,
                        attestationApprovals: r.attestationApprovals,
                        timeoutSlash: toNano(r.timeoutSlash),
                        channel: { challengeWindow: r.challengeWindow, disputeWindow: r.disputeWindow, maxJobDeadline: r.maxJobDeadline, protocolFeeBps: r.protocolFeeBps },
                    });
                    let tsAccepts = true;
                    try {
                        validateParams(params);
                    } catch {
                        tsAccepts = false;
                    }
                    const result = await root.send(governance.getSender(), { value: toNano('0.05') }, { $$type: 'SetParams', queryId: 0n, params });
                    const onChain = result.transactions.some((t) => {
                        const d = t.description;
                        return t.inMessage?.info.dest?.toString() === root.address.toString() && d.type === 'generic' && d.computePhase.type === 'vm' && d.computePhase.success;
                    });
                    expect(tsAccepts).toBe(onChain);
                },
            ),
            { numRuns: 40, seed: 77 },
        );
    });

    it('the committed example params files are valid', () => {
        expect(readParamsFile(path.resolve(__dirname, '..', 'scripts', 'params', 'mainnet.example.json')).params.allowSimulatedTee).toBe(false);
        expect(readParamsFile(DEV_PARAMS).params.attestationApprovals).toBe(0n);
    });
});

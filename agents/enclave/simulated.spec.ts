import { inspect } from 'node:util';
import { Address } from '@ton/core';
import { ed25519Verify } from '../core/ed25519';
import { openResponse, sealRequest } from '../core/envelope';
import { attestationBundleFromJson, attestationBundleToJson, attestWorker, verifyAttestation } from './attestation';
import { bindingReportData, simulatedMeasurement } from './binding';
import {
    DebugEnclaveRefusedError,
    EvidenceExpiredError,
    EvidenceFromFutureError,
    EvidenceSignatureError,
    MalformedEvidenceError,
    MeasurementNotAllowedError,
    ReportDataMismatchError,
    SimulatedTeeNotAllowedError,
    UnsupportedTeeError,
    UntrustedAttestationKeyError,
} from './errors';
import { EnclaveKeys } from './keys';
import { allowList, AttestationPolicy } from './policy';
import { devAttestationPublicKey, SimulatedEnclave, SimulatedVerifier } from './simulated';
import { AttestationBundle } from './types';

describe('simulated enclave, verifiers and the attestation policy', () => {
    const worker = new Address(0, Buffer.alloc(32, 0x42));
    const now = 1_760_000_000;
    const enclave = new SimulatedEnclave({ imageName: 'cocoon-worker-dev' });
    const verifiers = [new SimulatedVerifier()];
    const policy: AttestationPolicy = {
        allowedMeasurements: allowList([{ measurement: simulatedMeasurement('cocoon-worker-dev'), teeType: 'simulated' }]),
        allowSimulatedTee: true,
        attestationTtl: 86_400,
    };
    let bundle: AttestationBundle;
    beforeAll(async () => {
        bundle = await attestWorker(enclave, worker, now - 10);
    });

    it('accepts fresh evidence that binds the enclave keys to the worker, and yields the on-chain claim', async () => {
        const result = await verifyAttestation(bundle, { verifiers, policy, now });
        expect(result.teeType).toBe('simulated');
        expect(result.tcbStatus).toBe('Simulated');
        expect(result.expiresAt).toBe(now - 10 + 86_400);
        expect(result.claim.teeType).toBe(2);
        expect(result.claim.signingKey).toBe(BigInt('0x' + enclave.publicKeys.signingKey.toString('hex')));
        expect(result.claim.measurement).toBe(BigInt('0x' + simulatedMeasurement('cocoon-worker-dev').toString('hex')));
    });

    it('is refused where Root does not allow simulated TEEs', async () => {
        await expect(verifyAttestation(bundle, { verifiers, policy: { ...policy, allowSimulatedTee: false }, now })).rejects.toThrow(SimulatedTeeNotAllowedError);
    });

    it('refuses debug evidence', async () => {
        const debugBundle = await attestWorker(new SimulatedEnclave({ debug: true }), worker, now);
        await expect(verifyAttestation(debugBundle, { verifiers, policy, now })).rejects.toThrow(DebugEnclaveRefusedError);
    });

    it('refuses a measurement not on the allow-list, or allowed only for another TEE type', async () => {
        const other = await attestWorker(new SimulatedEnclave({ imageName: 'patched-image' }), worker, now);
        await expect(verifyAttestation(other, { verifiers, policy, now })).rejects.toThrow(MeasurementNotAllowedError);
        const tdxOnly = { ...policy, allowedMeasurements: allowList([{ measurement: simulatedMeasurement('cocoon-worker-dev'), teeType: 'tdx' as const }]) };
        await expect(verifyAttestation(bundle, { verifiers, policy: tdxOnly, now })).rejects.toThrow(/allowed for tdx/);
    });

    it('refuses wrong report data: other keys, another worker, or another issuedAt than the evidence binds', async () => {
        const otherKeys = EnclaveKeys.generate().publicKeys;
        for (const forged of [
            { ...bundle, signingKey: otherKeys.signingKey },
            { ...bundle, encryptionKey: otherKeys.encryptionKey },
            { ...bundle, worker: new Address(0, Buffer.alloc(32, 0x43)) },
            { ...bundle, worker: new Address(-1, Buffer.alloc(32, 0x42)) },
            { ...bundle, issuedAt: bundle.issuedAt + 1 },
        ]) {
            await expect(verifyAttestation(forged, { verifiers, policy, now })).rejects.toThrow(ReportDataMismatchError);
        }
    });

    it('refuses evidence older than the attestation TTL, and evidence dated in the future', async () => {
        await expect(verifyAttestation(bundle, { verifiers, policy, now: now - 10 + 86_401 })).rejects.toThrow(EvidenceExpiredError);
        const future = await attestWorker(enclave, worker, now + 3600);
        await expect(verifyAttestation(future, { verifiers, policy, now })).rejects.toThrow(EvidenceFromFutureError);
    });

    it('refuses evidence signed by a key that is not the network dev attestation key, and altered evidence', async () => {
        const rogue = await attestWorker(new SimulatedEnclave({ attestationSeed: Buffer.alloc(32, 1) }), worker, now);
        await expect(verifyAttestation(rogue, { verifiers, policy, now })).rejects.toThrow(UntrustedAttestationKeyError);
        const trustingRogue = [new SimulatedVerifier({ trustedAttestationKeys: [devAttestationPublicKey(Buffer.alloc(32, 1))] })];
        await expect(verifyAttestation(rogue, { verifiers: trustingRogue, policy, now })).resolves.toBeDefined();

        const altered = Buffer.from(bundle.evidence);
        altered[50] ^= 1;
        await expect(verifyAttestation({ ...bundle, evidence: altered }, { verifiers, policy, now })).rejects.toThrow(EvidenceSignatureError);
        await expect(verifyAttestation({ ...bundle, evidence: altered.subarray(0, 100) }, { verifiers, policy, now })).rejects.toThrow(MalformedEvidenceError);
        await expect(verifyAttestation({ ...bundle, teeType: 'tdx' }, { verifiers, policy, now })).rejects.toThrow(UnsupportedTeeError);
    });

    it('signs inside with a key the evidence binds, and opens only requests for the job they were sealed for', () => {
        const hash = Buffer.alloc(32, 9);
        expect(ed25519Verify(hash, enclave.sign(hash), bundle.signingKey)).toBe(true);
        const job = { channel: new Address(0, Buffer.alloc(32, 5)), seq: 3n };
        const { envelope, replyKeyPair } = sealRequest(Buffer.from('prompt'), { recipientKey: bundle.encryptionKey, context: job });
        const opened = enclave.openRequest(envelope, job);
        expect(opened.payload.toString()).toBe('prompt');
        expect(() => enclave.openRequest(envelope, { ...job, seq: 4n })).toThrow(/not for channel/);
        const answer = enclave.sealResponse(Buffer.from('answer'), opened);
        expect(openResponse(answer, { replySecretKey: replyKeyPair.secretKey, expectedSenderKey: bundle.encryptionKey, expect: job }).toString()).toBe('answer');
    });

    it('refuses report data of any length but 64 bytes', async () => {
        await expect(enclave.attest(Buffer.alloc(63))).rejects.toThrow(/exactly 64 bytes/);
        expect(bindingReportData({ worker, ...enclave.publicKeys, issuedAt: 1 })).toHaveLength(64);
    });

    it('never shows enclave secrets in JSON or inspect output', () => {
        const keys = EnclaveKeys.generate();
        const { signingSeed, encryptionSecret } = keys.exportSecrets();
        for (const text of [JSON.stringify(keys), inspect(keys), JSON.stringify(new SimulatedEnclave({ keys })), inspect(new SimulatedEnclave({ keys }), { depth: 5 })]) {
            expect(text).not.toContain(signingSeed.toString('hex'));
            expect(text).not.toContain(encryptionSecret.toString('hex'));
        }
    });

    it('round-trips the attestation bundle through JSON and names what is wrong with a malformed one', async () => {
        const json = JSON.parse(JSON.stringify(attestationBundleToJson(bundle)));
        const back = attestationBundleFromJson(json);
        expect(back.worker.equals(worker)).toBe(true);
        await expect(verifyAttestation(back, { verifiers, policy, now })).resolves.toBeDefined();
        expect(() => attestationBundleFromJson({ ...json, teeType: 'sgx' })).toThrow(/teeType must be/);
        expect(() => attestationBundleFromJson({ ...json, signingKey: 'zz' })).toThrow(/signingKey must be 64 hex digits/);
        expect(() => attestationBundleFromJson({ ...json, worker: 'nowhere' })).toThrow(/not a TON address/);
        expect(() => attestationBundleFromJson(null)).toThrow(MalformedEvidenceError);
    });
});

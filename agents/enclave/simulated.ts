import { createHash } from 'node:crypto';
import { ed25519FromSeed, ed25519Sign, ed25519Verify } from '../core/ed25519';
import { EnvelopeBackend } from '../core/envelope';
import { quoteHashOf, simulatedMeasurement } from './binding';
import { EvidenceSignatureError, MalformedEvidenceError, UntrustedAttestationKeyError } from './errors';
import { EnclaveKeys, KeyHoldingEnclave } from './keys';
import { AttestationEvidence, EvidenceVerifier, VerifiedEvidence } from './types';

/**
 * The simulated enclave: software only, for dev networks. It gives NO confidentiality and NO
 * integrity against the machine's owner, who can read its keys and every prompt. Its evidence is
 * signed by the network's dev attestation key, names TEE type "simulated", and verifiers accept
 * it only where Root's params set `allowSimulatedTee`.
 *
 * Evidence layout (201 bytes):
 *   0    8   magic "CCSIMEV1"
 *   8    32  measurement (simulatedMeasurement(image name))
 *   40   64  report data
 *   104  32  dev attestation public key (Ed25519)
 *   136  1   flags: bit 0 = debug
 *   137  64  Ed25519 signature by the attestation key over bytes [0, 137)
 */
const MAGIC = Buffer.from('CCSIMEV1', 'ascii');
const SIGNED_BYTES = 137;
export const SIMULATED_EVIDENCE_BYTES = SIGNED_BYTES + 64;

/** The well-known attestation key of a local devnet. Any other dev network should choose its own. */
export const LOCAL_DEVNET_ATTESTATION_SEED = createHash('sha256').update('cocoon local devnet attestation key v1').digest();

export function devAttestationPublicKey(seed: Buffer = LOCAL_DEVNET_ATTESTATION_SEED): Buffer {
    return ed25519FromSeed(seed).publicKey;
}

export interface SimulatedEnclaveOptions {
    keys?: EnclaveKeys;
    /** Seed of the network's dev attestation key (default: the local devnet's well-known key). */
    attestationSeed?: Buffer;
    /** Name of the simulated image; its hash is the measurement governance allow-lists. */
    imageName?: string;
    /** Produce debug evidence (for testing that verifiers refuse it). */
    debug?: boolean;
    envelopeBackend?: EnvelopeBackend;
}

export class SimulatedEnclave extends KeyHoldingEnclave {
    readonly teeType = 'simulated' as const;
    readonly measurement: Buffer;
    readonly #attestationSeed: Buffer;
    private readonly debug: boolean;

    constructor(options: SimulatedEnclaveOptions = {}) {
        super(options.keys ?? EnclaveKeys.generate(), options.envelopeBackend);
        this.#attestationSeed = Buffer.from(options.attestationSeed ?? LOCAL_DEVNET_ATTESTATION_SEED);
        this.measurement = simulatedMeasurement(options.imageName ?? 'cocoon-worker-dev');
        this.debug = options.debug ?? false;
    }

    async attest(reportData: Buffer): Promise<AttestationEvidence> {
        this.requireReportData(reportData);
        const body = Buffer.concat([
            MAGIC,
            this.measurement,
            reportData,
            ed25519FromSeed(this.#attestationSeed).publicKey,
            Buffer.from([this.debug ? 1 : 0]),
        ]);
        return { teeType: 'simulated', evidence: Buffer.concat([body, ed25519Sign(body, this.#attestationSeed)]) };
    }
}

export function parseSimulatedEvidence(evidence: Buffer) {
    if (!Buffer.isBuffer(evidence) || evidence.length !== SIMULATED_EVIDENCE_BYTES || !evidence.subarray(0, 8).equals(MAGIC)) {
        throw new MalformedEvidenceError(
            `simulated evidence must be ${SIMULATED_EVIDENCE_BYTES} bytes starting with "CCSIMEV1" (got ${Buffer.isBuffer(evidence) ? evidence.length : 0} bytes)`,
        );
    }
    const flags = evidence[136];
    if ((flags & ~1) !== 0) throw new MalformedEvidenceError(`simulated evidence has unknown flags 0x${flags.toString(16)}`);
    return {
        measurement: Buffer.from(evidence.subarray(8, 40)),
        reportData: Buffer.from(evidence.subarray(40, 104)),
        attestationKey: Buffer.from(evidence.subarray(104, 136)),
        debug: (flags & 1) === 1,
        signature: Buffer.from(evidence.subarray(SIGNED_BYTES)),
        signed: evidence.subarray(0, SIGNED_BYTES),
    };
}

/** Accepts simulated evidence signed by one of the network's dev attestation keys. */
export class SimulatedVerifier implements EvidenceVerifier {
    readonly teeType = 'simulated' as const;
    private readonly trusted: Buffer[];

    constructor(options: { trustedAttestationKeys?: Buffer[] } = {}) {
        this.trusted = options.trustedAttestationKeys ?? [devAttestationPublicKey()];
    }

    async verify(evidence: Buffer, _now: number): Promise<VerifiedEvidence> {
        const parsed = parseSimulatedEvidence(evidence);
        if (!this.trusted.some((k) => k.equals(parsed.attestationKey))) {
            throw new UntrustedAttestationKeyError(
                `simulated evidence is signed by ${parsed.attestationKey.toString('hex')}, which is not a dev attestation key of this network`,
            );
        }
        if (!ed25519Verify(parsed.signed, parsed.signature, parsed.attestationKey)) {
            throw new EvidenceSignatureError('simulated evidence signature is invalid (altered after signing)');
        }
        return {
            teeType: 'simulated',
            measurement: parsed.measurement,
            reportData: parsed.reportData,
            debug: parsed.debug,
            tcbStatus: 'Simulated',
            advisoryIds: [],
            quoteHash: quoteHashOf(evidence),
        };
    }
}

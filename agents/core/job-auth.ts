import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { ed25519Sign, ed25519Verify } from './ed25519';

/**
 * A fast-path job request is signed by the channel's client key (the key the channel was opened
 * with, which also signs its vouchers), so only the client can have a worker run work billed to
 * its channel. Anyone can seal an envelope to an enclave's public key; without this, a stranger
 * could spend a channel's one job of credit and have the worker refuse its client (402).
 *
 * Signed: sha256("cocoon/job-request/v1" ‖ channel workchain (i8) ‖ channel hash (32) ‖ seq
 * (u64 BE) ‖ sha256(envelope)). The envelope already binds (channel, seq) inside its ciphertext;
 * signing its hash binds this signature to exactly those bytes.
 */
const DOMAIN = Buffer.from('cocoon/job-request/v1');

export function jobRequestDigest(channel: Address, seq: bigint, envelope: Buffer): Buffer {
    const seqBytes = Buffer.alloc(8);
    seqBytes.writeBigUInt64BE(seq);
    const workchain = Buffer.alloc(1);
    workchain.writeInt8(channel.workChain);
    const envelopeHash = createHash('sha256').update(envelope).digest();
    return createHash('sha256').update(Buffer.concat([DOMAIN, workchain, channel.hash, seqBytes, envelopeHash])).digest();
}

/** The client's signature of a job request (base64 goes in the request's `auth` field). */
export function signJobRequest(channel: Address, seq: bigint, envelope: Buffer, clientSeed: Buffer): Buffer {
    return ed25519Sign(jobRequestDigest(channel, seq, envelope), clientSeed);
}

export function verifyJobRequest(channel: Address, seq: bigint, envelope: Buffer, signature: Buffer, clientKey: Buffer): boolean {
    return signature.length === 64 && ed25519Verify(jobRequestDigest(channel, seq, envelope), signature, clientKey);
}

import { createHash } from 'node:crypto';
import { Address } from '@ton/core';

/**
 * REPORTDATA binding (64 bytes, the whole TDX REPORTDATA field / configfs-tsm inblob):
 *
 *   SHA-512( "cocoon-tee-binding-v1"                 21 ASCII bytes
 *          ‖ worker contract workchain               1 byte, int8
 *          ‖ worker contract address hash            32 bytes
 *          ‖ Ed25519 signing public key              32 bytes
 *          ‖ X25519 encryption public key            32 bytes
 *          ‖ issuedAt                                8 bytes, uint64 big-endian unix seconds )
 *
 * Binding the worker contract address makes evidence useless for any other worker; binding the
 * keys proves they were created inside this enclave; binding `issuedAt` lets a verifier refuse
 * evidence older than the attestation TTL even though a TDX quote carries no timestamp.
 */
export const REPORT_DATA_DOMAIN = Buffer.from('cocoon-tee-binding-v1', 'ascii');

export interface ReportDataBinding {
    worker: Address;
    signingKey: Buffer;
    encryptionKey: Buffer;
    issuedAt: number;
}

export function bindingReportData(binding: ReportDataBinding): Buffer {
    if (binding.signingKey.length !== 32) throw new RangeError('signing key must be 32 bytes');
    if (binding.encryptionKey.length !== 32) throw new RangeError('encryption key must be 32 bytes');
    if (!Number.isSafeInteger(binding.issuedAt) || binding.issuedAt < 0) throw new RangeError(`issuedAt ${binding.issuedAt} is not a unix time`);
    const workchain = Buffer.alloc(1);
    workchain.writeInt8(binding.worker.workChain);
    const issuedAt = Buffer.alloc(8);
    issuedAt.writeBigUInt64BE(BigInt(binding.issuedAt));
    return createHash('sha512')
        .update(REPORT_DATA_DOMAIN)
        .update(workchain)
        .update(binding.worker.hash)
        .update(binding.signingKey)
        .update(binding.encryptionKey)
        .update(issuedAt)
        .digest();
}

/** TDX measurement hash: SHA-256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3), each register 48 bytes. */
export function measurementOfTdx(mrTd: Buffer, rtmrs: readonly Buffer[]): Buffer {
    if (mrTd.length !== 48 || rtmrs.length !== 4 || rtmrs.some((r) => r.length !== 48)) {
        throw new RangeError('a TDX measurement needs MRTD and RTMR0-3, 48 bytes each');
    }
    return createHash('sha256').update(Buffer.concat([mrTd, ...rtmrs])).digest();
}

/** Measurement of a simulated enclave image: SHA-256("cocoon-simulated-measurement-v1" ‖ name). */
export function simulatedMeasurement(imageName: string): Buffer {
    return createHash('sha256').update('cocoon-simulated-measurement-v1').update(imageName).digest();
}

export function quoteHashOf(evidence: Buffer): Buffer {
    return createHash('sha256').update(evidence).digest();
}

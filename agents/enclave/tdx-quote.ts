import { measurementOfTdx } from './binding';

/**
 * TDX quote parsing (v4, and v5 with a TD 1.0 or TD 1.5 body), offsets verified against
 * `@phala/dcap-qvl`'s parser and a real quote. All integers little-endian.
 *
 * v4: header (48) ‖ TD report body (584) ‖ signature data length u32 ‖ signature data
 * v5: header (48) ‖ body type u16 (2 = TD 1.0, 3 = TD 1.5) ‖ body size u32 ‖ body ‖ u32 ‖ signature data
 *
 * The ECDSA signature covers everything before the signature data length. Parsing proves
 * nothing about authenticity: that is the DCAP verifier's job.
 */
export const TDX_TEE_TYPE = 0x81;
const HEADER_BYTES = 48;
const TD10_BODY_BYTES = 584;
const TD15_BODY_BYTES = 648;

export class QuoteParseError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'QuoteParseError';
    }
}

export interface TdxQuote {
    version: 4 | 5;
    attestationKeyType: number;
    teeType: number;
    qeVendorId: Buffer;
    userData: Buffer;
    bodyType: 'td10' | 'td15';
    teeTcbSvn: Buffer;
    mrSeam: Buffer;
    mrSignerSeam: Buffer;
    seamAttributes: Buffer;
    /** 8 bytes, little-endian bit field; bit 0 (TUD) set = debug TD, whose memory the host can read. */
    tdAttributes: Buffer;
    xfam: Buffer;
    mrTd: Buffer;
    mrConfigId: Buffer;
    mrOwner: Buffer;
    mrOwnerConfig: Buffer;
    rtmr: [Buffer, Buffer, Buffer, Buffer];
    reportData: Buffer;
    /** TD 1.5 only. */
    teeTcbSvn2?: Buffer;
    mrServiceTd?: Buffer;
    debug: boolean;
    /** bit 28 of TD attributes: EPT violations are not converted to #VE (required by Intel's policy). */
    septVeDisable: boolean;
    /** SHA-256(MRTD ‖ RTMR0..3): the measurement Root's allow-list holds. */
    measurement: Buffer;
    /** Bytes covered by the quote's ECDSA signature. */
    signedLength: number;
    ecdsaSignature: Buffer;
    attestationKey: Buffer;
    certificationDataType: number;
}

function need(quote: Buffer, end: number, what: string): void {
    if (quote.length < end) throw new QuoteParseError(`TDX quote is truncated: ${what} needs ${end} bytes, quote has ${quote.length}`);
}

export function parseTdxQuote(quote: Buffer): TdxQuote {
    if (!Buffer.isBuffer(quote)) throw new QuoteParseError('TDX quote must be a Buffer');
    need(quote, HEADER_BYTES, 'the header');
    const version = quote.readUInt16LE(0);
    const teeType = quote.readUInt32LE(4);
    if (teeType !== TDX_TEE_TYPE) {
        throw new QuoteParseError(`not a TDX quote: TEE type 0x${teeType.toString(16)} (TDX is 0x81, SGX is 0)`);
    }
    if (version !== 4 && version !== 5) throw new QuoteParseError(`unsupported TDX quote version ${version} (4 and 5 are supported)`);

    let bodyOffset = HEADER_BYTES;
    let bodyType: 'td10' | 'td15' = 'td10';
    let bodyBytes = TD10_BODY_BYTES;
    if (version === 5) {
        need(quote, HEADER_BYTES + 6, 'the v5 body descriptor');
        const type = quote.readUInt16LE(HEADER_BYTES);
        const size = quote.readUInt32LE(HEADER_BYTES + 2);
        if (type === 2 && size === TD10_BODY_BYTES) bodyType = 'td10';
        else if (type === 3 && size === TD15_BODY_BYTES) bodyType = 'td15';
        else throw new QuoteParseError(`unsupported v5 quote body type ${type} of ${size} bytes (TD 1.0 = 2/584, TD 1.5 = 3/648)`);
        bodyOffset += 6;
        bodyBytes = size;
    }
    const bodyEnd = bodyOffset + bodyBytes;
    need(quote, bodyEnd + 4, 'the TD report body');
    const at = (offset: number, length: number) => Buffer.from(quote.subarray(bodyOffset + offset, bodyOffset + offset + length));

    const signatureDataLength = quote.readUInt32LE(bodyEnd);
    const signatureData = bodyEnd + 4;
    // The signature data may be followed by zero padding, so only a lower bound holds.
    need(quote, signatureData + signatureDataLength, 'the signature data');
    if (signatureDataLength < 64 + 64 + 6) throw new QuoteParseError(`TDX quote signature data is ${signatureDataLength} bytes, too short`);

    const tdAttributes = at(120, 8);
    const mrTd = at(136, 48);
    const rtmr: [Buffer, Buffer, Buffer, Buffer] = [at(328, 48), at(376, 48), at(424, 48), at(472, 48)];
    return {
        version,
        attestationKeyType: quote.readUInt16LE(2),
        teeType,
        qeVendorId: Buffer.from(quote.subarray(12, 28)),
        userData: Buffer.from(quote.subarray(28, 48)),
        bodyType,
        teeTcbSvn: at(0, 16),
        mrSeam: at(16, 48),
        mrSignerSeam: at(64, 48),
        seamAttributes: at(112, 8),
        tdAttributes,
        xfam: at(128, 8),
        mrTd,
        mrConfigId: at(184, 48),
        mrOwner: at(232, 48),
        mrOwnerConfig: at(280, 48),
        rtmr,
        reportData: at(520, 64),
        teeTcbSvn2: bodyType === 'td15' ? at(584, 16) : undefined,
        mrServiceTd: bodyType === 'td15' ? at(600, 48) : undefined,
        debug: (tdAttributes[0] & 1) === 1,
        septVeDisable: (tdAttributes.readUInt32LE(0) & (1 << 28)) !== 0,
        measurement: measurementOfTdx(mrTd, rtmr),
        signedLength: bodyEnd,
        ecdsaSignature: Buffer.from(quote.subarray(signatureData, signatureData + 64)),
        attestationKey: Buffer.from(quote.subarray(signatureData + 64, signatureData + 128)),
        certificationDataType: quote.readUInt16LE(signatureData + 128),
    };
}

/** Offset of REPORTDATA in a quote: 568 in v4, 574 in v5 (after the 6-byte body descriptor). */
export function reportDataOffset(quote: Buffer): number {
    return (quote.readUInt16LE(0) === 5 ? HEADER_BYTES + 6 : HEADER_BYTES) + 520;
}

import { createHash, createPublicKey, verify } from 'node:crypto';
import { Quote } from '@phala/dcap-qvl';
import { tdxFixture } from '../../tests/agents/helpers/fixtures';
import { parseTdxQuote, QuoteParseError, reportDataOffset } from './tdx-quote';

describe('TDX quote parsing', () => {
    const v4 = tdxFixture('tdx_quote');
    const v5 = tdxFixture('tdx_quote_outdated');

    it.each([
        ['v4 / TD 1.0', v4, 4, 'td10'],
        ['v5 / TD 1.5', v5, 5, 'td15'],
    ] as const)('reads every register of the real %s quote exactly as dcap-qvl does', (_label, quote, version, bodyType) => {
        const ours = parseTdxQuote(quote);
        const theirs = Quote.parse(quote);
        const td = theirs.report.type === 'td15' ? theirs.report.asTd15()!.base : theirs.report.asTd10()!;
        expect(ours.version).toBe(version);
        expect(ours.bodyType).toBe(bodyType);
        expect(ours.teeType).toBe(0x81);
        expect(ours.attestationKeyType).toBe(2);
        expect(ours.qeVendorId.toString('hex')).toBe('939a7233f79c4ca9940a0db3957f0607');
        const same = (a: Buffer, b: Uint8Array) => expect(a.toString('hex')).toBe(Buffer.from(b).toString('hex'));
        same(ours.mrTd, td.mrTd);
        same(ours.rtmr[0], td.rtMr0);
        same(ours.rtmr[1], td.rtMr1);
        same(ours.rtmr[2], td.rtMr2);
        same(ours.rtmr[3], td.rtMr3);
        same(ours.reportData, td.reportData);
        same(ours.tdAttributes, td.tdAttributes);
        same(ours.mrSeam, td.mrSeam);
        same(ours.teeTcbSvn, td.teeTcbSvn);
        same(ours.mrConfigId, td.mrConfigId);
        expect(ours.signedLength).toBe(theirs.signedLength());
        expect(ours.reportData.equals(quote.subarray(reportDataOffset(quote), reportDataOffset(quote) + 64))).toBe(true);
        expect(ours.debug).toBe(false);
        expect(ours.septVeDisable).toBe(true);
        expect(ours.measurement).toEqual(createHash('sha256').update(Buffer.concat([ours.mrTd, ...ours.rtmr])).digest());
    });

    it('knows the v4 fixture by value, REPORTDATA at byte 568', () => {
        const q = parseTdxQuote(v4);
        expect(q.mrTd.toString('hex')).toBe('91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7');
        expect(q.reportData.toString('hex').slice(0, 16)).toBe('9a9d48e7f6799642');
        expect(reportDataOffset(v4)).toBe(568);
        expect(reportDataOffset(v5)).toBe(574);
        expect(q.tdAttributes.toString('hex')).toBe('0000001000000000');
    });

    it('finds the ECDSA signature and attestation key: the signature verifies over the signed bytes', () => {
        const q = parseTdxQuote(v4);
        const key = createPublicKey({
            key: { kty: 'EC', crv: 'P-256', x: q.attestationKey.subarray(0, 32).toString('base64url'), y: q.attestationKey.subarray(32).toString('base64url') },
            format: 'jwk',
        });
        expect(verify('sha256', v4.subarray(0, q.signedLength), { key, dsaEncoding: 'ieee-p1363' }, q.ecdsaSignature)).toBe(true);
        expect(q.certificationDataType).toBe(6);
    });

    it('reads the debug bit (TUD, bit 0 of TD attributes)', () => {
        const debugQuote = Buffer.from(v4);
        debugQuote[48 + 120] |= 1;
        expect(parseTdxQuote(debugQuote).debug).toBe(true);
    });

    it('refuses truncated quotes, SGX quotes and unknown versions with a named error', () => {
        for (const length of [0, 47, 100, 631, 700]) {
            expect(() => parseTdxQuote(v4.subarray(0, length))).toThrow(QuoteParseError);
        }
        expect(() => parseTdxQuote(v4.subarray(0, 700))).toThrow(/truncated/);
        expect(() => parseTdxQuote(tdxFixture('sgx_quote'))).toThrow(/not a TDX quote/);
        const v3 = Buffer.from(v4);
        v3.writeUInt16LE(3, 0);
        expect(() => parseTdxQuote(v3)).toThrow(/unsupported TDX quote version 3/);
        const badBody = Buffer.from(v5);
        badBody.writeUInt16LE(9, 48);
        expect(() => parseTdxQuote(badBody)).toThrow(/body type 9/);
    });
});

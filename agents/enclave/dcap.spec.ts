import { Address } from '@ton/core';
import { TDX_FIXTURE_NOW, tdxCollateral, tdxFixture } from '../../tests/agents/helpers/fixtures';
import { bindingReportData } from './binding';
import { DcapVerifier } from './dcap';
import {
    AttestationRefusedError,
    CollateralExpiredError,
    DebugEnclaveRefusedError,
    MalformedEvidenceError,
    MeasurementNotAllowedError,
    QuoteInvalidError,
    ReportDataMismatchError,
    TcbOutdatedError,
    TcbStatusRefusedError,
} from './errors';
import { allowList, checkAttestationPolicy } from './policy';
import { parseTdxQuote } from './tdx-quote';

describe('Intel DCAP verification of TDX quotes (offline, collateral passed in)', () => {
    const quote = tdxFixture('tdx_quote');
    const verifier = new DcapVerifier({ collateral: tdxCollateral('tdx_quote') });
    const anyBinding = { worker: new Address(0, Buffer.alloc(32, 1)), signingKey: Buffer.alloc(32, 2), encryptionKey: Buffer.alloc(32, 3), issuedAt: TDX_FIXTURE_NOW - 60 };

    it('verifies the real quote as UpToDate at a time inside the collateral window', async () => {
        const verified = await verifier.verify(quote, TDX_FIXTURE_NOW);
        expect(verified.teeType).toBe('tdx');
        expect(verified.tcbStatus).toBe('UpToDate');
        expect(verified.debug).toBe(false);
        expect(verified.measurement).toEqual(parseTdxQuote(quote).measurement);
        expect(verified.reportData).toEqual(parseTdxQuote(quote).reportData);
        expect(verified.quoteHash).toHaveLength(32);
    });

    it('refuses expired collateral, and collateral not yet issued', async () => {
        await expect(verifier.verify(quote, Date.parse('2099-01-01') / 1000)).rejects.toThrow(CollateralExpiredError);
        await expect(verifier.verify(quote, Date.parse('2099-01-01') / 1000)).rejects.toThrow(/fetch fresh collateral/);
        await expect(verifier.verify(quote, Date.parse('2025-06-01') / 1000)).rejects.toThrow(CollateralExpiredError);
    });

    it('refuses a tampered quote: one flipped bit of REPORTDATA or MRTD breaks the signature', async () => {
        for (const offset of [568, 184, 376]) {
            const tampered = Buffer.from(quote);
            tampered[offset] ^= 1;
            await expect(verifier.verify(tampered, TDX_FIXTURE_NOW)).rejects.toThrow(QuoteInvalidError);
        }
    });

    it('refuses a quote whose debug bit was set (signature broken), and the policy refuses any debug TD', async () => {
        const debug = Buffer.from(quote);
        debug[168] |= 1;
        expect(parseTdxQuote(debug).debug).toBe(true);
        await expect(verifier.verify(debug, TDX_FIXTURE_NOW)).rejects.toThrow(AttestationRefusedError);
        const verified = { ...(await verifier.verify(quote, TDX_FIXTURE_NOW)), debug: true };
        const policy = { allowedMeasurements: allowList([{ measurement: verified.measurement, teeType: 'tdx' as const }]), allowSimulatedTee: false, attestationTtl: 3600 };
        expect(() => checkAttestationPolicy(verified, anyBinding, policy, TDX_FIXTURE_NOW)).toThrow(DebugEnclaveRefusedError);
    });

    it('refuses an outdated platform whose TCB matches no level of its collateral', async () => {
        const outdated = new DcapVerifier({ collateral: tdxCollateral('tdx_quote_outdated') });
        const collateralInfo = JSON.parse(tdxCollateral('tdx_quote_outdated').tcb_info);
        const now = Date.parse(collateralInfo.issueDate) / 1000 + 3600;
        await expect(outdated.verify(tdxFixture('tdx_quote_outdated'), now)).rejects.toThrow(TcbOutdatedError);
    });

    it('refuses a TCB status outside the accepted list', async () => {
        const strict = new DcapVerifier({ collateral: tdxCollateral('tdx_quote'), acceptedTcbStatuses: ['SWHardeningNeeded'] });
        await expect(strict.verify(quote, TDX_FIXTURE_NOW)).rejects.toThrow(TcbStatusRefusedError);
        await expect(strict.verify(quote, TDX_FIXTURE_NOW)).rejects.toThrow(/status is UpToDate; accepted: SWHardeningNeeded/);
    });

    it('refuses an SGX quote and garbage as malformed TDX evidence', async () => {
        await expect(verifier.verify(tdxFixture('sgx_quote'), TDX_FIXTURE_NOW)).rejects.toThrow(MalformedEvidenceError);
        await expect(verifier.verify(Buffer.from('not a quote'), TDX_FIXTURE_NOW)).rejects.toThrow(MalformedEvidenceError);
    });

    it('on a genuine quote, the policy still refuses report data that does not bind the claimed keys and worker', async () => {
        const verified = await verifier.verify(quote, TDX_FIXTURE_NOW);
        const policy = { allowedMeasurements: allowList([{ measurement: verified.measurement, teeType: 'tdx' as const }]), allowSimulatedTee: false, attestationTtl: 3600 };
        expect(verified.reportData.equals(bindingReportData(anyBinding))).toBe(false);
        expect(() => checkAttestationPolicy(verified, anyBinding, policy, TDX_FIXTURE_NOW)).toThrow(ReportDataMismatchError);
        const otherImage = { ...policy, allowedMeasurements: allowList([{ measurement: Buffer.alloc(32, 9), teeType: 'tdx' as const }]) };
        expect(() => checkAttestationPolicy(verified, anyBinding, otherImage, TDX_FIXTURE_NOW)).toThrow(MeasurementNotAllowedError);
    });
});

import { EnvelopeBackend } from '../core/envelope';
import { ConfigfsTsm } from './configfs-tsm';
import { EnclaveKeys, KeyHoldingEnclave } from './keys';
import { parseTdxQuote, QuoteParseError } from './tdx-quote';
import { AttestationEvidence } from './types';

/**
 * The TDX enclave: this process runs inside a TD; its keys live in TD memory, and evidence is a
 * TDX quote from configfs-tsm whose REPORTDATA is the 64 bytes asked for.
 */
export class TdxEnclave extends KeyHoldingEnclave {
    readonly teeType = 'tdx' as const;
    private readonly tsm: ConfigfsTsm;

    constructor(options: { keys?: EnclaveKeys; tsm?: ConfigfsTsm; envelopeBackend?: EnvelopeBackend } = {}) {
        super(options.keys ?? EnclaveKeys.generate(), options.envelopeBackend);
        this.tsm = options.tsm ?? new ConfigfsTsm();
    }

    async attest(reportData: Buffer): Promise<AttestationEvidence> {
        this.requireReportData(reportData);
        const { quote } = await this.tsm.getQuote(reportData);
        const parsed = parseTdxQuote(quote);
        if (!parsed.reportData.equals(reportData)) {
            throw new QuoteParseError('the quote from configfs-tsm carries other report data than requested; refusing it');
        }
        return { teeType: 'tdx', evidence: quote };
    }
}

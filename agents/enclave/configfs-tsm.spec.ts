import { mkdtempSync, promises as fs, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Address } from '@ton/core';
import { tdxFixture } from '../../tests/agents/helpers/fixtures';
import { attestWorker } from './attestation';
import { bindingReportData } from './binding';
import { ConfigfsTsm, nodeTsmFileOps, TsmFileOps, TsmGenerationMismatchError, TsmProviderError, TsmUnavailableError } from './configfs-tsm';
import { TdxEnclave } from './tdx';
import { parseTdxQuote, reportDataOffset } from './tdx-quote';

/**
 * A fake configfs-tsm on a real temporary directory. It emulates what the kernel does behind the
 * files: mkdir populates the report entry, a write to inblob must be exactly 64 bytes and bumps
 * generation, reading outblob "generates" a quote (the real fixture quote carrying the inblob as
 * REPORTDATA; not validly signed, which DCAP would catch).
 */
class FakeTsmKernel implements TsmFileOps {
    writes: string[] = [];
    provider = 'tdx_guest';
    /** Simulates another process writing inblob while our quote is generated. */
    interfereOnRead = false;

    constructor(private readonly template: Buffer) {}

    async exists(path: string) {
        return nodeTsmFileOps.exists(path);
    }
    async mkdir(path: string) {
        await fs.mkdir(path);
        await fs.writeFile(join(path, 'provider'), `${this.provider}\n`);
        await fs.writeFile(join(path, 'generation'), '0\n');
        await fs.writeFile(join(path, 'inblob'), Buffer.alloc(0));
    }
    async rmdir(path: string) {
        await fs.rm(path, { recursive: true });
    }
    async readFile(path: string): Promise<Buffer> {
        if (basename(path) === 'outblob') {
            const inblob = await fs.readFile(join(dirname(path), 'inblob'));
            const quote = Buffer.from(this.template);
            inblob.copy(quote, reportDataOffset(quote));
            if (this.interfereOnRead) await this.bump(dirname(path));
            return quote;
        }
        return fs.readFile(path);
    }
    async writeFile(path: string, data: Buffer) {
        this.writes.push(basename(path));
        if (basename(path) === 'inblob') {
            if (data.length !== 64) throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
            await this.bump(dirname(path));
        }
        await fs.writeFile(path, data);
    }
    private async bump(dir: string) {
        const g = Number((await fs.readFile(join(dir, 'generation'), 'utf8')).trim());
        await fs.writeFile(join(dir, 'generation'), `${g + 1}\n`);
    }
}

describe('configfs-tsm quotes and the TDX enclave', () => {
    let root: string;
    let kernel: FakeTsmKernel;
    beforeEach(() => {
        root = mkdtempSync(join(tmpdir(), 'cocoon-tsm-'));
        kernel = new FakeTsmKernel(tdxFixture('tdx_quote'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('writes exactly the 64 report-data bytes, reads the quote, checks generation and removes its entry', async () => {
        const tsm = new ConfigfsTsm({ root, fs: kernel });
        const reportData = Buffer.alloc(64, 0x5a);
        const { quote, provider, generation } = await tsm.getQuote(reportData);
        expect(provider).toBe('tdx_guest');
        expect(generation).toBe(1);
        expect(parseTdxQuote(quote).reportData).toEqual(reportData);
        expect(kernel.writes).toEqual(['inblob']);
        expect(readdirSync(root)).toEqual([]);
    });

    it('refuses report data that is not exactly 64 bytes before touching configfs', async () => {
        const tsm = new ConfigfsTsm({ root, fs: kernel });
        await expect(tsm.getQuote(Buffer.alloc(32))).rejects.toThrow(/exactly 64 bytes/);
        expect(kernel.writes).toEqual([]);
    });

    it('discards the quote when another writer changed the request meanwhile', async () => {
        kernel.interfereOnRead = true;
        await expect(new ConfigfsTsm({ root, fs: kernel }).getQuote(Buffer.alloc(64))).rejects.toThrow(TsmGenerationMismatchError);
        expect(readdirSync(root)).toEqual([]);
    });

    it('says what to do when configfs-tsm is absent or the provider is another TEE', async () => {
        await expect(new ConfigfsTsm({ root: join(root, 'missing') }).getQuote(Buffer.alloc(64))).rejects.toThrow(TsmUnavailableError);
        await expect(new ConfigfsTsm({ root: join(root, 'missing') }).getQuote(Buffer.alloc(64))).rejects.toThrow(/TDX guest with Linux >= 6.7/);
        kernel.provider = 'sev_guest';
        await expect(new ConfigfsTsm({ root, fs: kernel }).getQuote(Buffer.alloc(64))).rejects.toThrow(TsmProviderError);
    });

    it('the TDX enclave attests a worker: the quote carries the binding of its keys, the worker and issuedAt', async () => {
        const enclave = new TdxEnclave({ tsm: new ConfigfsTsm({ root, fs: kernel }) });
        const worker = new Address(0, Buffer.alloc(32, 7));
        const bundle = await attestWorker(enclave, worker, 1_700_000_000);
        expect(bundle.teeType).toBe('tdx');
        const expected = bindingReportData({ worker, ...enclave.publicKeys, issuedAt: 1_700_000_000 });
        expect(parseTdxQuote(bundle.evidence).reportData).toEqual(expected);
    });

    it('the TDX enclave refuses a quote that does not carry the report data it asked for', async () => {
        class ForgetfulKernel extends FakeTsmKernel {
            async readFile(path: string): Promise<Buffer> {
                return basename(path) === 'outblob' ? tdxFixture('tdx_quote') : super.readFile(path);
            }
        }
        const lying = new ForgetfulKernel(tdxFixture('tdx_quote'));
        const enclave = new TdxEnclave({ tsm: new ConfigfsTsm({ root, fs: lying }) });
        await expect(enclave.attest(Buffer.alloc(64, 1))).rejects.toThrow(/other report data than requested/);
    });
});

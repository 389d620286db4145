import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * Quotes through Linux configfs-tsm (kernel >= 6.7): one report directory per request,
 *   mkdir R; read R/provider; read R/generation (g); write exactly 64 bytes to R/inblob;
 *   read R/outblob (the kernel asks the host's quoting service; may block for seconds);
 *   read R/generation again: it must be g + 1, or someone else rewrote inblob meanwhile;
 *   rmdir R.
 * The report root is a parameter, and the file operations an interface, so tests drive the
 * client against a fake directory that emulates the kernel's generate-on-read.
 */
export const DEFAULT_TSM_REPORT_ROOT = '/sys/kernel/config/tsm/report';

export interface TsmFileOps {
    mkdir(path: string): Promise<void>;
    rmdir(path: string): Promise<void>;
    readFile(path: string): Promise<Buffer>;
    writeFile(path: string, data: Buffer): Promise<void>;
    exists(path: string): Promise<boolean>;
}

export const nodeTsmFileOps: TsmFileOps = {
    mkdir: (path) => fs.mkdir(path),
    rmdir: (path) => fs.rmdir(path),
    readFile: (path) => fs.readFile(path),
    writeFile: (path, data) => fs.writeFile(path, data),
    exists: (path) =>
        fs.access(path).then(
            () => true,
            () => false,
        ),
};

export class TsmError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = 'TsmError';
    }
}

export class TsmUnavailableError extends TsmError {
    constructor(root: string) {
        super(
            `configfs-tsm report root ${root} does not exist: run the worker inside a TDX guest with Linux >= 6.7 and ` +
                `configfs mounted (mount -t configfs none /sys/kernel/config), or use the simulated enclave on a dev network`,
        );
        this.name = 'TsmUnavailableError';
    }
}

export class TsmProviderError extends TsmError {
    constructor(provider: string, expected: string) {
        super(`configfs-tsm provider is "${provider}", expected "${expected}": this machine is not the TEE this worker is configured for`);
        this.name = 'TsmProviderError';
    }
}

export class TsmGenerationMismatchError extends TsmError {
    constructor(expected: number, actual: number) {
        super(`configfs-tsm generation is ${actual}, expected ${expected}: another process rewrote the request; the quote is discarded, retry`);
        this.name = 'TsmGenerationMismatchError';
    }
}

export interface ConfigfsTsmOptions {
    root?: string;
    fs?: TsmFileOps;
    /** "tdx_guest" for TDX (default), "sev_guest" for SEV-SNP. */
    expectedProvider?: string;
}

export class ConfigfsTsm {
    readonly root: string;
    private readonly fs: TsmFileOps;
    private readonly expectedProvider: string;

    constructor(options: ConfigfsTsmOptions = {}) {
        this.root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
        this.fs = options.fs ?? nodeTsmFileOps;
        this.expectedProvider = options.expectedProvider ?? 'tdx_guest';
    }

    async getQuote(reportData: Buffer): Promise<{ quote: Buffer; provider: string; generation: number }> {
        if (!Buffer.isBuffer(reportData) || reportData.length !== 64) {
            throw new RangeError(`configfs-tsm inblob takes exactly 64 bytes, got ${Buffer.isBuffer(reportData) ? reportData.length : typeof reportData}`);
        }
        if (!(await this.fs.exists(this.root))) throw new TsmUnavailableError(this.root);
        const entry = join(this.root, `cocoon-${process.pid}-${randomBytes(6).toString('hex')}`);
        await this.fs.mkdir(entry);
        try {
            const provider = (await this.fs.readFile(join(entry, 'provider'))).toString('utf8').trim();
            if (provider !== this.expectedProvider) throw new TsmProviderError(provider, this.expectedProvider);
            const before = await this.readGeneration(entry);
            await this.fs.writeFile(join(entry, 'inblob'), reportData);
            const quote = await this.fs.readFile(join(entry, 'outblob'));
            const after = await this.readGeneration(entry);
            if (after !== before + 1) throw new TsmGenerationMismatchError(before + 1, after);
            if (quote.length === 0) throw new TsmError('configfs-tsm returned an empty outblob; the host quoting service may be down');
            return { quote, provider, generation: after };
        } finally {
            await this.fs.rmdir(entry).catch(() => undefined);
        }
    }

    private async readGeneration(entry: string): Promise<number> {
        const text = (await this.fs.readFile(join(entry, 'generation'))).toString('utf8').trim();
        const generation = Number.parseInt(text, 10);
        if (!Number.isSafeInteger(generation) || String(generation) !== text) throw new TsmError(`configfs-tsm generation "${text}" is not a number`);
        return generation;
    }
}

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { main } from '../../agents/cli';
import { runModelHashCommand } from '../../agents/inference/model-hash-command';
import { MANIFEST_FILE_NAME, modelHash } from '../../agents/inference/model-identity';
import { cleanup, tinyModelCopy } from './helpers';

async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runModelHashCommand(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('cocoon model hash DIR', () => {
    let dir: string;
    beforeEach(async () => {
        dir = await tinyModelCopy();
    });
    afterEach(async () => cleanup(path.dirname(dir)));

    it('prints the model hash of a folder', async () => {
        const r = await run([dir]);
        expect(r).toEqual({ code: 0, out: await modelHash(dir), err: '' });
    });

    it('prints the manifest and the uint256 form as JSON', async () => {
        const r = await run([dir, '--json']);
        const parsed = JSON.parse(r.out);
        expect(parsed.hash).toBe(await modelHash(dir));
        expect(parsed.uint256).toBe(BigInt('0x' + parsed.hash).toString());
        expect(parsed.files.map((f: { path: string }) => f.path)).toContain('onnx/model.onnx');
    });

    it('writes the manifest beside the files and verifies against it', async () => {
        const written = await run([dir, '--write']);
        expect(written.code).toBe(0);
        const manifestFile = path.join(dir, MANIFEST_FILE_NAME);
        expect(await fs.readFile(manifestFile, 'utf8')).toMatch(/^cocoon-model-manifest v1\n/);
        expect((await run([dir, '--verify', manifestFile])).code).toBe(0);
        expect((await run([dir, '--verify', written.out])).code).toBe(0);
    });

    it('exits 3 naming the changed file when the folder was tampered with', async () => {
        await run([dir, '--write']);
        await fs.appendFile(path.join(dir, 'config.json'), ' ');
        const r = await run([dir, '--verify', path.join(dir, MANIFEST_FILE_NAME)]);
        expect(r.code).toBe(3);
        expect(r.out).toBe('');
        expect(r.err).toMatch(/MODEL_IDENTITY_MISMATCH.*changed: config\.json/);
    });

    it('exits 1 for a missing folder and 2 for bad usage', async () => {
        expect(await run([path.join(dir, 'nope')])).toMatchObject({ code: 1, err: expect.stringMatching(/MODEL_NOT_FOUND/) });
        expect(await run([])).toMatchObject({ code: 2, err: expect.stringMatching(/missing DIR/) });
        expect(await run([dir, '--frobnicate'])).toMatchObject({ code: 2, err: expect.stringMatching(/unknown option/) });
        expect(await run([dir, '--verify'])).toMatchObject({ code: 2 });
    });

    it('is the `cocoon model hash` command of the CLI', async () => {
        const out: string[] = [];
        const err: string[] = [];
        const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {}, signal: new AbortController().signal };
        expect(await main(['model', 'hash', dir], io)).toBe(0);
        expect(out).toEqual([await modelHash(dir)]);
        expect(await main(['--help'], io)).toBe(0);
        expect(out.at(-1)).toMatch(/model hash +print a model folder's hash/);
        expect(await main(['model', 'hash', '--help'], io)).toBe(0);
        expect(out.at(-1)).toMatch(/^Usage: cocoon model hash DIR/);
        expect(err).toEqual([]);
    });
});

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ManifestFormatError, ModelFilesError, ModelIdentityMismatchError, ModelNotFoundError } from '../../agents/inference/errors';
import {
    computeManifest,
    MANIFEST_FILE_NAME,
    modelHash,
    modelHashToUint256,
    parseManifest,
    readManifest,
    verifyModelFolder,
    writeManifest,
} from '../../agents/inference/model-identity';
import { cleanup, tempDir } from './helpers';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function makeFolder(files: Record<string, string>): Promise<string> {
    const dir = await tempDir('identity');
    for (const [rel, content] of Object.entries(files)) {
        await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fs.writeFile(path.join(dir, rel), content);
    }
    return dir;
}

describe('model identity', () => {
    const files = { 'config.json': '{"model_type":"llama"}', 'tokenizer.json': '{}', 'onnx/model.onnx': 'weights' };
    let dir: string;
    beforeEach(async () => {
        dir = await makeFolder(files);
    });
    afterEach(async () => cleanup(dir));

    it('is the sha256 of a canonical manifest: one "sha256 size path" line per file, sorted by path', async () => {
        const manifest = await computeManifest(dir);
        const expected =
            'cocoon-model-manifest v1\n' +
            `${sha('{"model_type":"llama"}')} 22 config.json\n` +
            `${sha('weights')} 7 onnx/model.onnx\n` +
            `${sha('{}')} 2 tokenizer.json\n`;
        expect(manifest.text).toBe(expected);
        expect(manifest.hash).toBe(sha(expected));
        expect(await modelHash(dir)).toBe(manifest.hash);
        expect(modelHashToUint256(manifest.hash)).toBe(BigInt('0x' + manifest.hash));
    });

    it('does not depend on where the folder is or when its files were written', async () => {
        const other = await makeFolder(Object.fromEntries(Object.entries(files).reverse()));
        try {
            expect(await modelHash(other)).toBe(await modelHash(dir));
        } finally {
            await cleanup(other);
        }
    });

    it.each([
        ['a changed file', (d: string) => fs.writeFile(path.join(d, 'onnx/model.onnx'), 'weightz')],
        ['an added file', (d: string) => fs.writeFile(path.join(d, 'onnx/model_q4.onnx'), 'more')],
        ['a removed file', (d: string) => fs.rm(path.join(d, 'tokenizer.json'))],
        ['a renamed file', (d: string) => fs.rename(path.join(d, 'tokenizer.json'), path.join(d, 'tokenizer2.json'))],
        ['an added empty file', (d: string) => fs.writeFile(path.join(d, 'quant.json'), '')],
    ])('changes with %s', async (_what, change) => {
        const before = await modelHash(dir);
        await change(dir);
        expect(await modelHash(dir)).not.toBe(before);
    });

    it('writes a manifest whose own sha256 is the model hash and which the hash then skips', async () => {
        const before = await modelHash(dir);
        const manifest = await writeManifest(dir);
        const onDisk = await fs.readFile(path.join(dir, MANIFEST_FILE_NAME));
        expect(sha(onDisk)).toBe(before);
        expect(manifest.hash).toBe(before);
        expect(await modelHash(dir)).toBe(before);
        expect((await readManifest(path.join(dir, MANIFEST_FILE_NAME))).entries).toEqual(manifest.entries);
    });

    it('accepts an untouched folder and returns its manifest', async () => {
        const file = path.join(await tempDir('manifest'), 'm.txt');
        const written = await writeManifest(dir, file);
        await expect(verifyModelFolder(dir, { manifestFile: file })).resolves.toEqual(written);
        await expect(verifyModelFolder(dir, { hash: written.hash.toUpperCase() })).resolves.toEqual(written);
        await cleanup(path.dirname(file));
    });

    it('refuses a folder tampered with after registration, naming what changed', async () => {
        const registered = await writeManifest(dir);
        await fs.writeFile(path.join(dir, 'onnx/model.onnx'), 'backdoored weights');
        await fs.writeFile(path.join(dir, 'extra.bin'), 'x');
        await fs.rm(path.join(dir, 'tokenizer.json'));
        const err = await verifyModelFolder(dir, { manifestFile: path.join(dir, MANIFEST_FILE_NAME) }).catch((e) => e);
        expect(err).toBeInstanceOf(ModelIdentityMismatchError);
        expect(err.code).toBe('MODEL_IDENTITY_MISMATCH');
        expect(err.expectedHash).toBe(registered.hash);
        expect(err.changes).toEqual({ added: ['extra.bin'], removed: ['tokenizer.json'], changed: ['onnx/model.onnx'] });
        expect(err.message).toMatch(/does not match its registered identity/);
        expect(err.message).toContain('changed: onnx/model.onnx');
    });

    it('refuses a tampered folder checked against a bare hash', async () => {
        const hash = await modelHash(dir);
        await fs.appendFile(path.join(dir, 'config.json'), ' ');
        const err = await verifyModelFolder(dir, { hash }).catch((e) => e);
        expect(err).toBeInstanceOf(ModelIdentityMismatchError);
        expect(err.changes).toBeNull();
        expect(err.actualHash).toBe(await modelHash(dir));
    });

    it('refuses manifests that are not canonical', () => {
        const good = `cocoon-model-manifest v1\n${sha('a')} 1 a\n${sha('b')} 1 b\n`;
        expect(parseManifest(good).entries.map((e) => e.path)).toEqual(['a', 'b']);
        const bad = [
            `${sha('a')} 1 a\n`, // no header
            `cocoon-model-manifest v1\n${sha('b')} 1 b\n${sha('a')} 1 a\n`, // unsorted
            `cocoon-model-manifest v1\n${sha('a')} 1 a\n${sha('a')} 1 a\n`, // duplicate
            `cocoon-model-manifest v1\n${sha('a').toUpperCase()} 1 a\n`, // uppercase hex
            `cocoon-model-manifest v1\n${sha('a')} 01 a\n`, // leading zero
            `cocoon-model-manifest v1\n${sha('a')} 1 a`, // no final newline
            'cocoon-model-manifest v1\n', // no files
        ];
        for (const text of bad) expect(() => parseManifest(text)).toThrow(ManifestFormatError);
    });

    it('names a missing folder, a file given as a folder, and an empty folder', async () => {
        await expect(computeManifest(path.join(dir, 'nope'))).rejects.toThrow(ModelNotFoundError);
        await expect(computeManifest(path.join(dir, 'config.json'))).rejects.toThrow(ModelNotFoundError);
        const empty = await tempDir('empty');
        await expect(computeManifest(empty)).rejects.toThrow(ModelFilesError);
        await cleanup(empty);
    });

    it('follows symbolic links to files (as in Hugging Face cache folders) and refuses link loops', async () => {
        const before = await modelHash(dir);
        const linked = await tempDir('linked');
        try {
            for (const rel of Object.keys(files)) {
                await fs.mkdir(path.dirname(path.join(linked, rel)), { recursive: true });
                await fs.symlink(path.join(dir, rel), path.join(linked, rel));
            }
            expect(await modelHash(linked)).toBe(before);
            await fs.symlink(linked, path.join(linked, 'onnx', 'loop'));
            await expect(modelHash(linked)).rejects.toThrow(/link loop/);
        } finally {
            await cleanup(linked);
        }
    });

    it('rejects a malformed hash', () => {
        expect(() => modelHashToUint256('xyz')).toThrow(ManifestFormatError);
    });
});

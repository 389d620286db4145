import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ManifestChanges, ManifestFormatError, ModelFilesError, ModelIdentityMismatchError, ModelNotFoundError } from './errors';

/**
 * A model's identity is the sha256 of a canonical manifest listing every file of its folder
 * (weights, tokenizer, config, quantization tables...) with its size and sha256. Any added,
 * removed or changed file changes the identity. This is the hash Root's model allow-list holds
 * and Receipts carry (as a uint256).
 *
 * Canonical manifest (UTF-8, `\n` line ends, no trailing spaces):
 *
 *     cocoon-model-manifest v1
 *     <sha256 hex> <size in bytes> <relative/path>
 *     ...
 *
 * one line per regular file, paths relative to the folder with `/` separators, sorted by their
 * UTF-8 bytes. The model hash is the sha256 of exactly these bytes, so
 * `sha256sum cocoon-model-manifest.txt` reproduces it. Symbolic links are followed (Hugging Face
 * cache folders are links to blobs). A manifest written into the folder itself under
 * {@link MANIFEST_FILE_NAME} is not part of the listing, so writing it does not change the hash.
 */
export const MANIFEST_FILE_NAME = 'cocoon-model-manifest.txt';
export const MANIFEST_HEADER = 'cocoon-model-manifest v1';

export interface ManifestEntry {
    /** Relative path with `/` separators. */
    path: string;
    size: number;
    /** Lowercase hex sha256 of the file's bytes. */
    sha256: string;
}

export interface ModelManifest {
    entries: ManifestEntry[];
    /** The canonical text (see the module comment). */
    text: string;
    /** sha256 of `text`, lowercase hex: the model hash. */
    hash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function compareUtf8(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sha256Hex(data: string | Buffer): string {
    return createHash('sha256').update(data).digest('hex');
}

/** Renders entries as the canonical manifest (sorting them) and computes the hash. */
export function manifestFromEntries(entries: ManifestEntry[]): ModelManifest {
    const sorted = [...entries].sort((a, b) => compareUtf8(a.path, b.path));
    for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].path === sorted[i - 1].path) throw new ManifestFormatError(`manifest lists "${sorted[i].path}" twice`);
    }
    for (const e of sorted) {
        if (/[\r\n]/.test(e.path)) throw new ManifestFormatError(`file name ${JSON.stringify(e.path)} contains a line break`);
        if (!HEX64.test(e.sha256)) throw new ManifestFormatError(`"${e.path}": sha256 must be 64 lowercase hex digits`);
        if (!Number.isSafeInteger(e.size) || e.size < 0) throw new ManifestFormatError(`"${e.path}": size must be a non-negative integer`);
    }
    const text = [MANIFEST_HEADER, ...sorted.map((e) => `${e.sha256} ${e.size} ${e.path}`)].join('\n') + '\n';
    return { entries: sorted, text, hash: sha256Hex(text) };
}

/**
 * Parses a manifest and checks it is canonical (header, line format, sorted, no duplicates),
 * so that a manifest file always hashes to the identity of the folder it describes.
 */
export function parseManifest(text: string): ModelManifest {
    if (!text.endsWith('\n')) throw new ManifestFormatError('manifest must end with a newline');
    const lines = text.slice(0, -1).split('\n');
    if (lines[0] !== MANIFEST_HEADER) {
        throw new ManifestFormatError(`manifest must start with the line "${MANIFEST_HEADER}" (write it with writeManifest or \`cocoon model hash --write\`)`);
    }
    const entries: ManifestEntry[] = lines.slice(1).map((line, i) => {
        const m = /^([0-9a-f]{64}) (0|[1-9][0-9]*) (.+)$/.exec(line);
        if (!m) throw new ManifestFormatError(`manifest line ${i + 2} is not "<sha256> <size> <path>": ${JSON.stringify(line.slice(0, 120))}`);
        return { sha256: m[1], size: Number(m[2]), path: m[3] };
    });
    if (entries.length === 0) throw new ManifestFormatError('manifest lists no files');
    const manifest = manifestFromEntries(entries);
    if (manifest.text !== text) throw new ManifestFormatError('manifest lines are not sorted by path (not canonical)');
    return manifest;
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    await new Promise<void>((resolve, reject) => {
        createReadStream(file)
            .on('data', (chunk) => {
                const buf = chunk as Buffer;
                size += buf.length;
                hash.update(buf);
            })
            .on('error', reject)
            .on('end', resolve);
    });
    return { sha256: hash.digest('hex'), size };
}

/** Computes the manifest of every file under `dir`. */
export async function computeManifest(dir: string): Promise<ModelManifest> {
    const root = path.resolve(dir);
    const rootStat = await fs.stat(root).catch(() => null);
    if (!rootStat) throw new ModelNotFoundError(`model folder ${root} does not exist`);
    if (!rootStat.isDirectory()) throw new ModelNotFoundError(`${root} is not a folder: a model is identified by the folder holding its files`);

    const entries: ManifestEntry[] = [];
    const visitedDirs = new Set<string>();
    const walk = async (abs: string, rel: string): Promise<void> => {
        const real = await fs.realpath(abs);
        if (visitedDirs.has(real)) throw new ModelFilesError(`symbolic link loop at ${abs}`);
        visitedDirs.add(real);
        const names = (await fs.readdir(abs)).sort(compareUtf8);
        for (const name of names) {
            const childAbs = path.join(abs, name);
            const childRel = rel ? `${rel}/${name}` : name;
            if (!rel && name === MANIFEST_FILE_NAME) continue;
            const st = await fs.stat(childAbs).catch((e: NodeJS.ErrnoException) => {
                throw new ModelFilesError(`cannot read ${childAbs} (${e.code ?? e.message}): fix or remove it`, { cause: e });
            });
            if (st.isDirectory()) {
                await walk(childAbs, childRel);
            } else if (st.isFile()) {
                const { sha256, size } = await hashFile(childAbs);
                entries.push({ path: childRel, size, sha256 });
            } else {
                throw new ModelFilesError(`${childAbs} is neither a file nor a folder: a model folder holds only files`);
            }
        }
        visitedDirs.delete(real);
    };
    await walk(root, '');
    if (entries.length === 0) throw new ModelFilesError(`model folder ${root} holds no files`);
    return manifestFromEntries(entries);
}

/** The model hash of a folder: sha256 of its canonical manifest, lowercase hex. */
export async function modelHash(dir: string): Promise<string> {
    return (await computeManifest(dir)).hash;
}

/** The model hash as the uint256 that Root's allow-list and Receipts hold. */
export function modelHashToUint256(hash: string): bigint {
    if (!HEX64.test(hash)) throw new ManifestFormatError(`a model hash is 64 lowercase hex digits, got ${JSON.stringify(hash)}`);
    return BigInt('0x' + hash);
}

/**
 * Computes the manifest of `dir` and writes it to `file` (default: `dir/cocoon-model-manifest.txt`,
 * which the listing skips). Returns the manifest.
 */
export async function writeManifest(dir: string, file = path.join(dir, MANIFEST_FILE_NAME)): Promise<ModelManifest> {
    const manifest = await computeManifest(dir);
    await fs.writeFile(file, manifest.text, 'utf8');
    return manifest;
}

/** Reads and validates a manifest file. Its hash is the identity of the folder it describes. */
export async function readManifest(file: string): Promise<ModelManifest> {
    const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new ManifestFormatError(`cannot read manifest ${file} (${e.code ?? e.message})`);
    });
    return parseManifest(text);
}

export function diffManifests(expected: ModelManifest, actual: ModelManifest): ManifestChanges {
    const before = new Map(expected.entries.map((e) => [e.path, e]));
    const after = new Map(actual.entries.map((e) => [e.path, e]));
    return {
        added: [...after.keys()].filter((p) => !before.has(p)),
        removed: [...before.keys()].filter((p) => !after.has(p)),
        changed: [...after.values()]
            .filter((e) => before.has(e.path) && (before.get(e.path)!.sha256 !== e.sha256 || before.get(e.path)!.size !== e.size))
            .map((e) => e.path),
    };
}

/** What a folder is checked against: a registered hash, a manifest, or a manifest file. */
export type ExpectedIdentity = { hash: string } | { manifest: ModelManifest } | { manifestFile: string };

/**
 * Recomputes the identity of `dir` and refuses (ModelIdentityMismatchError) if it differs from
 * the expected one, naming the added, removed and changed files when a manifest is known.
 * Returns the folder's manifest when it matches.
 */
export async function verifyModelFolder(dir: string, expected: ExpectedIdentity): Promise<ModelManifest> {
    const expectedManifest =
        'manifest' in expected ? expected.manifest : 'manifestFile' in expected ? await readManifest(expected.manifestFile) : null;
    const expectedHash = expectedManifest ? expectedManifest.hash : (expected as { hash: string }).hash.toLowerCase();
    if (!HEX64.test(expectedHash)) throw new ManifestFormatError(`expected model hash must be 64 hex digits, got ${JSON.stringify(expectedHash)}`);
    const actual = await computeManifest(dir);
    if (actual.hash === expectedHash) return actual;
    const changes = expectedManifest ? diffManifests(expectedManifest, actual) : null;
    const detail = changes
        ? [
              changes.added.length ? `added: ${changes.added.join(', ')}` : '',
              changes.removed.length ? `removed: ${changes.removed.join(', ')}` : '',
              changes.changed.length ? `changed: ${changes.changed.join(', ')}` : '',
          ]
              .filter(Boolean)
              .join('; ')
        : 'no manifest to compare file by file';
    throw new ModelIdentityMismatchError(
        `model folder ${path.resolve(dir)} does not match its registered identity (expected ${expectedHash}, found ${actual.hash}; ${detail}): ` +
            'restore the registered files, or register the new model hash',
        expectedHash,
        actual.hash,
        changes,
    );
}

import * as path from 'node:path';
import { InferenceError } from './errors';
import { computeManifest, MANIFEST_FILE_NAME, modelHashToUint256, verifyModelFolder, writeManifest } from './model-identity';

export const MODEL_HASH_USAGE = `Usage: cocoon model hash DIR [--write [FILE]] [--verify HASH|MANIFEST] [--json]

Prints the model hash of DIR: the sha256 of the canonical manifest of every file in it
(path, size, sha256). This is the value Root's model allow-list holds.

  --write [FILE]     also write the manifest (default DIR/${MANIFEST_FILE_NAME}, which the hash skips)
  --verify X         refuse (exit 3) unless DIR matches hash X or manifest file X
  --json             print {"hash", "uint256", "files": [...]} instead of the bare hash`;

export interface CommandIo {
    stdout: (line: string) => void;
    stderr: (line: string) => void;
}

const defaultIo: CommandIo = {
    stdout: (line) => process.stdout.write(line + '\n'),
    stderr: (line) => process.stderr.write(line + '\n'),
};

/** Exit codes: 0 ok, 2 usage error, 3 identity mismatch, 1 any other failure (message on stderr). */
export async function runModelHashCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
    let dir: string | undefined;
    let write: string | true | undefined;
    let verify: string | undefined;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--help' || arg === '-h') {
            io.stdout(MODEL_HASH_USAGE);
            return 0;
        } else if (arg === '--json') json = true;
        else if (arg === '--write') {
            const next = argv[i + 1];
            if (next !== undefined && !next.startsWith('--') && dir !== undefined) {
                write = next;
                i++;
            } else write = true;
        } else if (arg === '--verify') {
            verify = argv[++i];
            if (verify === undefined) return usageError(io, '--verify needs a hash or a manifest file');
        } else if (arg.startsWith('--')) return usageError(io, `unknown option ${arg}`);
        else if (dir === undefined) dir = arg;
        else return usageError(io, `unexpected argument ${arg}`);
    }
    if (dir === undefined) return usageError(io, 'missing DIR');

    try {
        const manifest = verify
            ? await verifyModelFolder(dir, /^[0-9a-fA-F]{64}$/.test(verify) ? { hash: verify } : { manifestFile: verify })
            : await computeManifest(dir);
        if (write !== undefined) {
            const file = write === true ? path.join(dir, MANIFEST_FILE_NAME) : write;
            await writeManifest(dir, file);
            io.stderr(`wrote ${file}`);
        }
        if (json) {
            io.stdout(JSON.stringify({ hash: manifest.hash, uint256: modelHashToUint256(manifest.hash).toString(), files: manifest.entries }, null, 2));
        } else {
            io.stdout(manifest.hash);
        }
        return 0;
    } catch (e) {
        if (e instanceof InferenceError) {
            io.stderr(`error ${e.code}: ${e.message}`);
            return e.code === 'MODEL_IDENTITY_MISMATCH' ? 3 : 1;
        }
        throw e;
    }
}

function usageError(io: CommandIo, message: string): number {
    io.stderr(`error: ${message}`);
    io.stderr(MODEL_HASH_USAGE);
    return 2;
}

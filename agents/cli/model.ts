import { MODEL_HASH_USAGE, runModelHashCommand } from '../inference/model-hash-command';
import { CliCommand } from './registry';

/** `cocoon model hash DIR`: the identity of a model folder (see docs/inference.md, Model identity). */
export const modelHashCommand: CliCommand = {
    name: 'model hash',
    summary: "print a model folder's hash (the identity Root's model allow-list holds)",
    help: MODEL_HASH_USAGE,
    run: (args, io) => runModelHashCommand(args, { stdout: io.stdout, stderr: io.stderr }),
};

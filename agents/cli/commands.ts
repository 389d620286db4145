import { devnetCommand } from './devnet';
import { modelHashCommand } from './model';
import { CliCommand } from './registry';
import { workerCommands } from './worker';

/** Every `cocoon` command; add yours here (one import, one entry). */
export const commands: CliCommand[] = [devnetCommand, modelHashCommand, ...workerCommands];

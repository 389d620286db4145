import { auditorStartCommand } from './auditor';
import { clientChannelCommands } from './client-channel';
import { clientChatCommand } from './client-chat';
import { clientServeCommand } from './client-serve';
import { deployCommand } from './deploy';
import { devnetCommand } from './devnet';
import { modelHashCommand } from './model';
import { CliCommand } from './registry';
import { workerCommands } from './worker';

/** Every `cocoon` command; add yours here (one import, one entry). */
export const commands: CliCommand[] = [
    devnetCommand,
    modelHashCommand,
    ...workerCommands,
    deployCommand,
    clientChatCommand,
    clientServeCommand,
    ...clientChannelCommands,
    auditorStartCommand,
];

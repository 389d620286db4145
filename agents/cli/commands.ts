/* eslint-disable @typescript-eslint/no-require-imports -- each command's module loads when that command runs */
import { CliCommand } from './registry';

/**
 * Every `cocoon` command, with the module that defines it; add yours here (its names, and how to
 * load it). A module is loaded only when one of its commands runs, or when help lists them all:
 * `cocoon devnet` then never loads the worker, client and auditor code, which took 37 MiB of RSS
 * and 0.4 s of start-up (measured: 109 vs 72 MiB after loading the whole CLI or the devnet's
 * module alone). The registry checks that a loaded module defines exactly the names given here.
 */
export const commandModules: { names: string[]; load: () => CliCommand[] }[] = [
    { names: ['devnet'], load: () => [(require('./devnet') as typeof import('./devnet')).devnetCommand] },
    { names: ['model hash'], load: () => [(require('./model') as typeof import('./model')).modelHashCommand] },
    {
        names: ['worker start', 'worker register', 'worker status', 'worker unbond', 'worker withdraw'],
        load: () => (require('./worker') as typeof import('./worker')).workerCommands,
    },
    { names: ['deploy'], load: () => [(require('./deploy') as typeof import('./deploy')).deployCommand] },
    { names: ['client chat'], load: () => [(require('./client-chat') as typeof import('./client-chat')).clientChatCommand] },
    { names: ['client serve'], load: () => [(require('./client-serve') as typeof import('./client-serve')).clientServeCommand] },
    {
        names: ['client channel open', 'client channel topup', 'client channel close'],
        load: () => (require('./client-channel') as typeof import('./client-channel')).clientChannelCommands,
    },
    { names: ['auditor start'], load: () => [(require('./auditor') as typeof import('./auditor')).auditorStartCommand] },
];

/**
 * A watcher in its own process, for the kill -9 test. Environment: ENDPOINT (toncenter JSON-RPC),
 * STORE (journal path), TARGET (address), EXPECTED (events to wait for), HANDLER_DELAY_MS.
 * Prints "handling <text>" before staging each event, and "done" once EXPECTED are committed.
 */
import { Address } from '@ton/core';
import { ToncenterChain } from '../../../agents/chain/toncenter';
import { Watcher } from '../../../agents/chain/watcher';
import { JournalStore } from '../../../agents/store/store';
import { commentDecoder } from './events';

const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
};

const store = JournalStore.open(env('STORE'));
const expected = Number(env('EXPECTED'));
const delay = Number(process.env.HANDLER_DELAY_MS ?? '0');
const watcher = new Watcher({
    chain: new ToncenterChain({ endpoint: env('ENDPOINT'), timeoutMs: 2000 }),
    store,
    accounts: [Address.parse(env('TARGET'))],
    decoder: commentDecoder,
    pageSize: 5,
    pollIntervalMs: 50,
    handler: async ({ event, tx }, effects) => {
        process.stdout.write(`handling ${event.text}\n`);
        await new Promise((r) => setTimeout(r, delay));
        effects.put(`effects/${event.text}`, tx.lt);
        effects.put('count', (effects.get<number>('count') ?? 0) + 1);
    },
});

void (async () => {
    for (;;) {
        await watcher.pollOnce().catch((error) => process.stderr.write(`poll failed: ${error.message}\n`));
        if ((store.get<number>('count') ?? 0) >= expected) {
            process.stdout.write('done\n');
            store.close();
            process.exit(0);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
})();

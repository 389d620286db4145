import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { commentDecoder, sendComments } from '../../tests/agents/helpers/events';
import { JournalStore } from '../store/store';
import { readBodyHead } from './decoders';
import { SandboxChain } from './sandbox';
import { CursorMismatchError, Watcher } from './watcher';
import { Wallet } from './wallet';

describe('watcher on the in-process sandbox chain', () => {
    let dir: string;
    let chain: SandboxChain;
    let source: Wallet;
    const target = new Address(0, Buffer.alloc(32, 0x55));
    const texts = Array.from({ length: 25 }, (_, i) => `c${i}`);

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-watcher-'));
        chain = await SandboxChain.create();
        source = await Wallet.fromMnemonic(await mnemonicNew(), { version: 'v5r1' });
        await (await chain.blockchain.treasury('funder')).send({ to: source.address, value: toNano('100'), bounce: false });
        await sendComments(chain, source, target, texts);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function watcherOn(store: JournalStore, seen: string[], options: { failOn?: string; startFrom?: 'latest' } = {}) {
        let failed = false;
        return new Watcher({
            chain,
            store,
            accounts: [target],
            decoder: commentDecoder,
            pageSize: 4,
            startFrom: options.startFrom,
            handler: ({ event, tx }, effects) => {
                if (event.text === options.failOn && !failed) {
                    failed = true;
                    throw new Error(`handler failed on ${event.text}`);
                }
                seen.push(event.text);
                effects.put(`effects/${event.text}`, tx.lt);
                effects.put('count', (effects.get<number>('count') ?? 0) + 1);
            },
        });
    }

    it('delivers every event once, oldest first, across many pages, and nothing on the next poll', async () => {
        const store = JournalStore.open(join(dir, 'a.journal'));
        const seen: string[] = [];
        const watcher = watcherOn(store, seen);
        expect(await watcher.pollOnce()).toBe(25);
        expect(seen).toEqual(texts);
        expect(store.get('count')).toBe(25);
        expect(await watcher.pollOnce()).toBe(0);
        const [newest] = await chain.getTransactions(target, { limit: 1 });
        expect(watcher.cursor(target)).toEqual({ lt: newest.lt, hash: newest.hash() });
        store.close();
    });

    it('resumes from its durable cursor after a restart and delivers only what is new', async () => {
        const seen: string[] = [];
        const store = JournalStore.open(join(dir, 'a.journal'));
        const watcher = watcherOn(store, seen);
        expect(await watcher.pollOnce()).toBe(0);
        await sendComments(chain, source, target, ['n1', 'n2', 'n3']);
        expect(await watcher.pollOnce()).toBe(3);
        expect(seen).toEqual(['n1', 'n2', 'n3']);
        expect(store.get('count')).toBe(28);
        store.close();
    });

    it('an account with nothing new costs one getAccount per poll and no page of transactions', async () => {
        const calls = { getAccount: 0, getTransactions: 0 };
        const counted = new Proxy(chain, {
            get(target, name, receiver) {
                const value = Reflect.get(target, name, receiver);
                if (name !== 'getAccount' && name !== 'getTransactions') return typeof value === 'function' ? value.bind(target) : value;
                return (...args: unknown[]) => {
                    calls[name]++;
                    return (value as (...a: unknown[]) => unknown).apply(target, args);
                };
            },
        });
        // An account of its own: the other tests count this file's comments to `target`.
        const quiet = new Address(0, Buffer.alloc(32, 0x56));
        await sendComments(chain, source, quiet, ['q0', 'q1', 'q2', 'q3', 'q4']);
        const store = JournalStore.open(join(dir, 'idle.journal'));
        const seen: string[] = [];
        const watcher = new Watcher({ chain: counted, store, accounts: [quiet], decoder: commentDecoder, pageSize: 4, handler: ({ event }) => void seen.push(event.text) });
        expect(await watcher.pollOnce()).toBe(5);
        calls.getAccount = calls.getTransactions = 0;
        expect(await watcher.pollOnce()).toBe(0);
        expect(await watcher.pollOnce()).toBe(0);
        expect(calls).toEqual({ getAccount: 2, getTransactions: 0 });
        await sendComments(chain, source, quiet, ['idle-1']);
        expect(await watcher.pollOnce()).toBe(1);
        expect(seen.slice(-1)).toEqual(['idle-1']);
        expect(calls.getTransactions).toBeGreaterThan(0);
        store.close();
    });

    it('a failing handler moves neither the cursor nor the effects; the event is delivered on the next poll', async () => {
        const store = JournalStore.open(join(dir, 'b.journal'));
        const seen: string[] = [];
        const watcher = watcherOn(store, seen, { failOn: 'c5' });
        await expect(watcher.pollOnce()).rejects.toThrow('handler failed on c5');
        expect(store.get('count')).toBe(5);
        expect(store.has('effects/c5')).toBe(false);
        expect(await watcher.pollOnce()).toBe(28 - 5);
        expect(store.get('count')).toBe(28);
        expect(seen.filter((t) => t === 'c5')).toHaveLength(1);
        store.close();
    });

    it('can start from the latest transaction, skipping history', async () => {
        const store = JournalStore.open(join(dir, 'c.journal'));
        const seen: string[] = [];
        const watcher = watcherOn(store, seen, { startFrom: 'latest' });
        expect(await watcher.pollOnce()).toBe(0);
        await sendComments(chain, source, target, ['fresh']);
        expect(await watcher.pollOnce()).toBe(1);
        expect(seen).toEqual(['fresh']);
        store.close();
    });

    it('starting from the latest on an account with no history yet still delivers its first event', async () => {
        const store = JournalStore.open(join(dir, 'e.journal'));
        const empty = new Address(0, Buffer.alloc(32, 0x56));
        const seen: string[] = [];
        const watcher = new Watcher({
            chain,
            store,
            accounts: [empty],
            decoder: commentDecoder,
            startFrom: 'latest',
            handler: ({ event }) => void seen.push(event.text),
        });
        expect(await watcher.pollOnce()).toBe(0);
        await sendComments(chain, source, empty, ['very first']);
        expect(await watcher.pollOnce()).toBe(1);
        expect(seen).toEqual(['very first']);
        store.close();
    });

    it('refuses to continue when the chain disagrees with its cursor (another chain, or a reset devnet), and stops its loop', async () => {
        const store = JournalStore.open(join(dir, 'd.journal'));
        const [, second] = await chain.getTransactions(target, { limit: 2 });
        store.update((b) => b.put(`watcher/cursor/${target.toRawString()}`, { lt: second.lt, hash: Buffer.alloc(32, 1) }));
        await expect(watcherOn(store, []).pollOnce()).rejects.toThrow(CursorMismatchError);
        const fatal: Error[] = [];
        const looping = new Watcher({ chain, store, accounts: [target], decoder: commentDecoder, handler: () => undefined, pollIntervalMs: 10, onFatal: (e) => fatal.push(e) });
        looping.start();
        while (fatal.length === 0) await new Promise((r) => setTimeout(r, 10));
        await looping.stop();
        expect(fatal[0]).toBeInstanceOf(CursorMismatchError);
        expect(looping.fatalError).toBe(fatal[0]);
        store.close();
    });

    it('reads op, query id and comment from a message body', () => {
        expect(readBodyHead(beginCell().storeUint(0x57000013, 32).storeUint(99, 64).endCell())).toEqual({ op: 0x57000013, queryId: 99n, comment: null });
        expect(readBodyHead(beginCell().storeUint(0, 32).storeStringTail('hi').endCell())).toEqual({ op: 0, queryId: null, comment: 'hi' });
        expect(readBodyHead(beginCell().endCell())).toEqual({ op: null, queryId: null, comment: null });
    });
});

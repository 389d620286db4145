// Bad input: fuzzed bodies for every receiver of Root, Worker and Channel (random opcodes,
// truncated and oversized cells, flipped bits (integer bounds and malformed addresses), fields at
// their integer bounds), sent by a stranger. Each is refused cleanly (aborted, only the bounce
// leaves) or accepted as what it is; either way no contract's balance drops and no contract's
// data changes on a refusal. The cases are counted for the audit report.
import fc from 'fast-check';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { flattenTransaction } from '@ton/test-utils';
import * as W from '../../wrappers';
import { snapshotOf } from '../helpers/cocoon';
import { owed } from '../helpers/channel';
import { abiReceivers, balances, bodies, ContractName, contractsOf, createSecurityNet, dataHash, SecurityNet, sendFrom, targetOf } from './fixture';
import { Tally } from './record';

const tally = new Tally('fuzz');
const CASES_PER_RECEIVER = Number(process.env.SECURITY_FUZZ ?? 5);
const KNOWN_OPCODES = new Set<number>();

let s: SecurityNet;
let restore: () => Promise<void>;
let body: ReturnType<typeof bodies>;

beforeAll(async () => {
    s = await createSecurityNet();
    body = bodies(s);
    for (const name of Object.keys(body)) {
        const b = body[name]().beginParse();
        if (b.remainingBits >= 32) KNOWN_OPCODES.add(b.loadUint(32));
    }
    restore = await snapshotOf(s.blockchain);
}, 120_000);
afterAll(() => tally.write());

type Mutation = 'opcode' | 'truncate' | 'oversize' | 'flip' | 'bounds';

/** Copies `cell`'s bits (cut to `bits`) and refs (cut to `refs`), optionally appending. */
function rebuild(cell: Cell, bits: number, refs: number, extraBits: bigint[] = [], extraRefs = 0): Cell {
    const s2 = cell.beginParse();
    const b = beginCell().storeBits(s2.loadBits(Math.min(bits, cell.bits.length)));
    for (let i = 0; i < Math.min(refs, cell.refs.length); i++) b.storeRef(cell.refs[i]);
    for (const word of extraBits) if (b.availableBits >= 64) b.storeUint(word, 64);
    for (let i = 0; i < extraRefs && b.availableRefs > 0; i++) b.storeRef(beginCell().storeUint(0xdead, 16).endCell());
    return b.endCell();
}

function mutate(valid: Cell, m: Mutation, r: { a: number; b: number; words: bigint[] }): Cell {
    const bits = valid.bits.length;
    switch (m) {
        case 'opcode': {
            let code = r.a >>> 0;
            while (KNOWN_OPCODES.has(code)) code = (code + 1) >>> 0;
            const rest = valid.beginParse();
            if (rest.remainingBits >= 32) rest.skip(32);
            return beginCell().storeUint(code, 32).storeBits(rest.loadBits(rest.remainingBits)).endCell();
        }
        case 'truncate':
            return rebuild(valid, bits === 0 ? 0 : r.a % bits, r.b % (valid.refs.length + 1));
        case 'oversize':
            return rebuild(valid, bits, 4, r.words, 4);
        case 'flip': {
            if (bits <= 32) return rebuild(valid, bits, 4, r.words.slice(0, 1));
            const at = 32 + (r.a % (bits - 32));
            const s2 = valid.beginParse();
            const b = beginCell().storeBits(s2.loadBits(at));
            b.storeBit(!s2.loadBit());
            b.storeBits(s2.loadBits(s2.remainingBits));
            for (const ref of valid.refs) b.storeRef(ref);
            return b.endCell();
        }
        case 'bounds': {
            // The fields after the opcode overwritten with all ones (uint64 queryId, coins and
            // uint256 at their maximum, addresses with invalid tags) for a random span.
            if (bits <= 32) return rebuild(valid, bits, 4);
            const at = 32 + (r.a % (bits - 32));
            const span = Math.min(bits - at, 1 + (r.b % 300));
            const s2 = valid.beginParse();
            const b = beginCell().storeBits(s2.loadBits(at));
            s2.skip(span);
            for (let i = 0; i < span; i++) b.storeBit(true);
            b.storeBits(s2.loadBits(s2.remainingBits));
            for (const ref of valid.refs) b.storeRef(ref);
            return b.endCell();
        }
    }
}

const DOCUMENTED = new Set(Object.entries(W).filter(([k, v]) => k.startsWith('ERR_') && typeof v === 'bigint').map(([, v]) => Number(v)));
// TVM/Tact codes a malformed body may end with: cell underflow (9), range check (5), type check
// (7), cell overflow (8), null reference (128), invalid serialization prefix (129, a nested
// message struct with a wrong opcode), unknown opcode (130), invalid argument (134), invalid
// standard address (136), masterchain address (137).
const RUNTIME = new Set([5, 7, 8, 9, 128, 129, 130, 134, 136, 137]);

describe('fuzzed message bodies', () => {
    for (const contract of ['Root', 'Worker', 'Channel'] as ContractName[]) {
        it(`${contract}: every receiver refuses malformed bodies cleanly and no money moves`, async () => {
            const mutations: Mutation[] = ['opcode', 'truncate', 'oversize', 'flip', 'bounds'];
            const seed = { Root: 11, Worker: 22, Channel: 33 }[contract];
            const rand = fc.sample(
                fc.record({ a: fc.integer({ min: 0, max: 0x7fffffff }), b: fc.integer({ min: 0, max: 1000 }), words: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { minLength: 1, maxLength: 8 }) }),
                { seed, numRuns: 10_000 },
            );
            let k = 0;
            for (const receiver of abiReceivers(contract)) {
                for (let i = 0; i < CASES_PER_RECEIVER; i++) {
                    const m = mutations[(i + receiver.length) % mutations.length];
                    const msg = mutate(body[receiver](), m, rand[k++ % rand.length]);
                    const target = targetOf(s, contract);
                    const contracts = contractsOf(s);
                    const before = await balances(s.blockchain, contracts);
                    const hashes = await Promise.all(contracts.map((a) => dataHash(s.blockchain, a)));
                    const result = await sendFrom(s.blockchain, s.stranger.address, target, msg, toNano('1'));
                    const tx = result.transactions.find((t) => t.inMessage?.info.dest instanceof Address && (t.inMessage.info.dest as Address).equals(target))!;
                    const flat = flattenTransaction(tx);
                    const after = await balances(s.blockchain, contracts);
                    if (flat.aborted) {
                        contracts.forEach((_, j) => expect(after[j]).toBeGreaterThanOrEqual(before[j]));
                        const code = flat.exitCode ?? -1;
                        if (!DOCUMENTED.has(code) && !RUNTIME.has(code)) throw new Error(`${contract}.${receiver} ${m}: undocumented exit code ${code}`);
                        for (const out of tx.outMessages.values()) expect(out.info.type === 'internal' && out.info.bounced).toBe(true);
                        const hashesAfter = await Promise.all(contracts.map((a) => dataHash(s.blockchain, a)));
                        expect(hashesAfter).toEqual(hashes);
                        tally.add(`refused.exit${code}`);
                    } else {
                        // Accepted as what it is (a donation, a params request, a relayed voucher or
                        // verdict that is still valid after the mutation, ...): the books hold and
                        // money only went to the parties of the fixture.
                        const known = [...contracts, s.stranger.address, s.client.address, s.client2.address, s.workerA.owner.address, s.workerB.owner.address];
                        for (const t of result.transactions) {
                            for (const out of t.outMessages.values()) {
                                if (out.info.type === 'internal') expect(known.some((a) => a.equals((out.info as { dest: Address }).dest))).toBe(true);
                            }
                        }
                        for (const c of [s.channel, s.otherChannel, s.channelB]) {
                            const st = await c.channel.getState();
                            expect((await s.blockchain.getContract(c.channel.address)).balance).toBeGreaterThanOrEqual(owed(st));
                        }
                        tally.add('accepted');
                        tally.note(`${contract}.${receiver} ${m}: accepted (a stranger's well-typed message)`);
                        await restore();
                    }
                    tally.add('cases');
                    tally.add(`mutation.${m}`);
                }
            }
        }, 300_000);
    }
});

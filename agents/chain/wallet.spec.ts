import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Address, internal, toNano } from '@ton/core';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { parseExternalBoc } from './messages';
import { loadMnemonic, Wallet, WalletConfigError } from './wallet';

const FIXED_MNEMONIC = 'knock exchange trap spend civil tiny gadget mobile choose festival silver bread sense nurse enhance indoor trophy hover alcohol space grace update lake true'.split(' ');

describe('agent wallets from a mnemonic', () => {
    let dir: string;
    let words: string[];
    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-wallet-'));
        // Fixed test data: a random mnemonic could share a word with an error message by chance.
        words = FIXED_MNEMONIC;
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('loads the words from a file or an environment variable, and derives the standard v4 / v5r1 addresses', async () => {
        const file = join(dir, 'm.txt');
        writeFileSync(file, `  ${words.join('\n')}\n`, { mode: 0o600 });
        expect(await loadMnemonic({ file })).toEqual(words);
        expect(await loadMnemonic({}, { COCOON_WALLET_MNEMONIC: words.join(' ') })).toEqual(words);
        expect(await loadMnemonic({ envVar: 'MY_WORDS' }, { MY_WORDS: words.join(' ') })).toEqual(words);
        const keys = await mnemonicToPrivateKey(words);
        const v4 = await Wallet.fromMnemonic(words);
        const v5 = await Wallet.fromMnemonic(words, { version: 'v5r1' });
        expect(v4.address.equals(WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey }).address)).toBe(true);
        expect(v5.address.equals(WalletContractV5R1.create({ publicKey: keys.publicKey }).address)).toBe(true);
    });

    it('says where the mnemonic is wrong without ever printing the words', async () => {
        const bad = [...words];
        [bad[0], bad[1]] = [bad[1], bad[0]];
        const attempts: [() => Promise<unknown>, RegExp][] = [
            [() => loadMnemonic({}, {}), /environment variable COCOON_WALLET_MNEMONIC is not set/],
            [() => loadMnemonic({ envVar: 'W' }, { W: words.slice(0, 12).join(' ') }), /must hold 24 words, it holds 12/],
            [() => loadMnemonic({ envVar: 'W' }, { W: bad.join(' ') }), /not a valid TON mnemonic/],
            [() => loadMnemonic({ file: join(dir, 'missing') }), /cannot read mnemonic file .*ENOENT/],
        ];
        for (const [attempt, message] of attempts) {
            const error = await attempt().then(
                () => undefined,
                (e: Error) => e,
            );
            expect(error).toBeInstanceOf(WalletConfigError);
            expect(error!.message).toMatch(message);
            for (const word of words) expect(error!.message.split(/\W+/)).not.toContain(word);
        }
    });

    it('never shows the secret key in JSON or inspect output', async () => {
        const wallet = await Wallet.fromMnemonic(words);
        const secret = (await mnemonicToPrivateKey(words)).secretKey.subarray(0, 32).toString('hex');
        for (const text of [JSON.stringify(wallet), inspect(wallet, { depth: 10 }), JSON.stringify(wallet.key), inspect(wallet.key, { depth: 10 })]) {
            expect(text).not.toContain(secret);
            for (const word of words) expect(text.split(/\W+/)).not.toContain(word);
        }
    });

    it('signs an external transfer that carries the StateInit only when deploying', async () => {
        const wallet = await Wallet.fromMnemonic(words, { version: 'v5r1' });
        const messages = [internal({ to: new Address(0, Buffer.alloc(32)), value: toNano('1') })];
        const deploy = parseExternalBoc(await wallet.createTransfer({ seqno: 0, validUntil: 2_000_000_000, messages, deploy: true }));
        expect(deploy.init).toBeTruthy();
        expect(deploy.info.dest?.toString()).toBe(wallet.address.toString());
        const later = parseExternalBoc(await wallet.createTransfer({ seqno: 1, validUntil: 2_000_000_000, messages, deploy: false }));
        expect(later.init).toBeFalsy();
    });
});

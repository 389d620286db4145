// Fixtures for tests and benchmarks that run the agents as processes: a free TCP port on
// 127.0.0.1 and a wallet whose mnemonic lives in a 0600 file (how operators give it to the CLI).
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { mnemonicNew } from '@ton/crypto';
import { Wallet } from '../../agents/chain/wallet';

export async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** A fresh wallet whose mnemonic is written to `<dir>/<name>.mnemonic` (mode 0600). */
export async function walletWithMnemonicFile(dir: string, name: string): Promise<{ wallet: Wallet; file: string }> {
    const file = join(dir, `${name}.mnemonic`);
    writeFileSync(file, (await mnemonicNew()).join(' '), { mode: 0o600 });
    chmodSync(file, 0o600);
    return { wallet: await Wallet.load({ file }), file };
}

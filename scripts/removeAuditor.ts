// npx blueprint run removeAuditor <root-address> <auditor-ed25519-public-key-hex>
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, parseHash, runScript } from './lib';

const USAGE = 'removeAuditor <root-address> <auditor-ed25519-public-key-hex>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const key = parseHash(argAt(args, 1, USAGE), 'auditor public key');
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'RemoveAuditor', queryId: 0n, key });
        await provider.waitForLastTransaction();
        if (await root.getIsAuditor(key)) throw new Error('Root did not remove the auditor (are you its owner? was it listed?)');
        provider.ui().write('auditor removed');
    });
}

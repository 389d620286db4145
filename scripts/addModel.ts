// npx blueprint run addModel <root-address> <model-hash-hex> [flags]
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, parseHash, parseUint, runScript } from './lib';

const USAGE = 'addModel <root-address> <model-hash-hex> [flags]';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const model = parseHash(argAt(args, 1, USAGE), 'model hash');
        const flags = parseUint(args[2] ?? '0', 'flags', 32);
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'AddModel', queryId: 0n, model, flags });
        await provider.waitForLastTransaction();
        if (!(await root.getIsModelAllowed(model))) throw new Error('Root did not add the model (are you its owner? is the list full?)');
        provider.ui().write('model allowed');
    });
}

// npx blueprint run removeModel <root-address> <model-hash-hex>
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, parseHash, runScript } from './lib';

const USAGE = 'removeModel <root-address> <model-hash-hex>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const model = parseHash(argAt(args, 1, USAGE), 'model hash');
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'RemoveModel', queryId: 0n, model });
        await provider.waitForLastTransaction();
        if (await root.getIsModelAllowed(model)) throw new Error('Root did not remove the model (are you its owner? was it listed?)');
        provider.ui().write('model removed');
    });
}

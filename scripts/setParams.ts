// npx blueprint run setParams <root> <params-file>
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, readParamsFile, runScript } from './lib';

const USAGE = 'setParams <root-address> <params-file>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const { params } = readParamsFile(argAt(args, 1, USAGE));
        const before = await root.getParamsVersion();
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'SetParams', queryId: 0n, params });
        await provider.waitForLastTransaction();
        const after = await root.getParamsVersion();
        if (after === before) throw new Error('Root did not apply the params (are you its owner?)');
        provider.ui().write(`params version ${before} -> ${after}; workers pick them up on their next SyncParams`);
    });
}

// npx blueprint run deployRoot [params-file]   (default scripts/params/dev.json)
// Deploys Root owned by the connected wallet: StateInit plus a SetParams body, which Root
// validates (an invalid file is refused here first, with what to fix).
import path from 'node:path';
import { toNano } from '@ton/core';
import { NetworkProvider } from '@ton/blueprint';
import { rootFor } from '../wrappers';
import { readParamsFile, runScript } from './lib';

export const DEPLOY_VALUE = toNano('1');

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const file = args[0] ?? path.join(__dirname, 'params', 'dev.json');
        const { instance, params } = readParamsFile(file);
        const owner = provider.sender().address;
        if (!owner) throw new Error('the connected wallet has no address');
        const root = provider.open(await rootFor(owner, instance));
        if (await provider.isContractDeployed(root.address)) {
            provider.ui().write(`Root for this owner and instance ${instance} already exists at ${root.address.toString()}; use setParams to change its params.`);
            return;
        }
        await root.send(provider.sender(), { value: DEPLOY_VALUE }, { $$type: 'SetParams', queryId: 0n, params });
        await provider.waitForDeploy(root.address);
        const state = await root.getState();
        if (!state.configured) throw new Error(`Root at ${root.address.toString()} was deployed but refused the params`);
        provider.ui().write(`Root deployed at ${root.address.toString()} (owner ${owner.toString()}, instance ${instance}, params version ${state.paramsVersion})`);
    });
}

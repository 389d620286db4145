// npx blueprint run withdraw <root-address> <slot>
// Withdraws the stake of the connected wallet's worker in <slot> once unbondAt has passed.
import { fromNano } from '@ton/core';
import { NetworkProvider } from '@ton/blueprint';
import { workerFor } from '../wrappers';
import { argAt, parseAddress, parseUint, runScript, ScriptError } from './lib';

const USAGE = 'withdraw <root-address> <slot>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = parseAddress(argAt(args, 0, USAGE), 'root');
        const slot = parseUint(argAt(args, 1, USAGE), 'slot', 32);
        const worker = provider.open(await workerFor(root, provider.sender().address!, slot));
        if (!(await provider.isContractDeployed(worker.address))) throw new ScriptError(`no worker of yours in slot ${slot} (expected at ${worker.address.toString()})`);
        const info = await worker.getInfo();
        if (info.unbondAt === 0n) throw new ScriptError('the worker is not unbonding: run unbond first');
        await worker.send(provider.sender(), { value: 50_000_000n }, { $$type: 'Withdraw', queryId: 0n });
        await provider.waitForLastTransaction();
        const after = await worker.getStake();
        if (after !== 0n) throw new Error(`the worker refused the withdrawal (stake still ${fromNano(after)} TON): unbondAt is ${info.unbondAt}`);
        provider.ui().write(`withdrew ${fromNano(info.stake)} TON to ${provider.sender().address!.toString()}`);
    });
}

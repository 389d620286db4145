// npx blueprint run unbond <root-address> <slot>
// Starts unbonding the connected wallet's worker in <slot>; prints when Withdraw becomes possible.
import { NetworkProvider } from '@ton/blueprint';
import { workerFor } from '../wrappers';
import { argAt, parseAddress, parseUint, runScript, ScriptError } from './lib';

const USAGE = 'unbond <root-address> <slot>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = parseAddress(argAt(args, 0, USAGE), 'root');
        const slot = parseUint(argAt(args, 1, USAGE), 'slot', 32);
        const worker = provider.open(await workerFor(root, provider.sender().address!, slot));
        if (!(await provider.isContractDeployed(worker.address))) throw new ScriptError(`no worker of yours in slot ${slot} (expected at ${worker.address.toString()})`);
        await worker.send(provider.sender(), { value: 50_000_000n }, { $$type: 'RequestUnbond', queryId: 0n });
        await provider.waitForLastTransaction();
        const info = await worker.getInfo();
        if (info.unbondAt === 0n) throw new Error(`the worker refused to unbond (status ${info.status}); see docs/worker.md`);
        provider.ui().write(`unbonding; Withdraw possible from ${new Date(Number(info.unbondAt) * 1000).toISOString()} (unix ${info.unbondAt})`);
    });
}

// npx blueprint run removeMeasurement <root-address> <measurement-hex>
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, parseHash, runScript } from './lib';

const USAGE = 'removeMeasurement <root-address> <measurement-hex>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const measurement = parseHash(argAt(args, 1, USAGE), 'measurement');
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement });
        await provider.waitForLastTransaction();
        if ((await root.getMeasurementTeeType(measurement)) !== 0n) throw new Error('Root did not remove the measurement (are you its owner? was it listed?)');
        provider.ui().write('measurement removed');
    });
}

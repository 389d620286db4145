// npx blueprint run addMeasurement <root-address> <measurement-hex> <tdx|simulated>
import { NetworkProvider } from '@ton/blueprint';
import { Root } from '../wrappers';
import { argAt, GOVERNANCE_VALUE, parseAddress, parseHash, parseTeeType, runScript } from './lib';

const USAGE = 'addMeasurement <root-address> <measurement-hex> <tdx|simulated>';

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const measurement = parseHash(argAt(args, 1, USAGE), 'measurement');
        const teeType = parseTeeType(argAt(args, 2, USAGE));
        await root.send(provider.sender(), { value: GOVERNANCE_VALUE }, { $$type: 'AddMeasurement', queryId: 0n, measurement, teeType });
        await provider.waitForLastTransaction();
        if ((await root.getMeasurementTeeType(measurement)) !== teeType) throw new Error('Root did not add the measurement (are you its owner? is the list full?)');
        provider.ui().write('measurement allowed for ' + args[2]);
    });
}

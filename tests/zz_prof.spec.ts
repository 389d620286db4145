import { createNetwork, registerWorker } from './helpers/cocoon';
import fs from 'fs';
it('prof', async () => {
    const net = await createNetwork();
    const owner = await net.blockchain.treasury('o');
    net.blockchain.verbosity = { print: false, blockchainLogs: false, vmLogs: 'vm_logs_gas', debugLogs: false };
    const { result } = await registerWorker(net, owner);
    fs.writeFileSync('/tmp/prof/reg.txt', (result.transactions[1] as any).vmLogs ?? '');
    fs.writeFileSync('/tmp/prof/dep.txt', (result.transactions[2] as any).vmLogs ?? '');
});

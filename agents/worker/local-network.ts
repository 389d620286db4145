import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { SandboxChain } from '../chain/sandbox';
import { Wallet, WalletKey } from '../chain/wallet';
import { simulatedMeasurement } from '../enclave/binding';
import { modelHashToUint256 } from '../inference/model-identity';
import { rootFor, TEE_SIMULATED } from '../../wrappers';
import { devParams } from './dev-network';

/**
 * Network "local": a throwaway in-process chain (@ton/sandbox, time following the wall clock)
 * with a dev Root deployed by an in-process governance account, the simulated enclave image and
 * the worker's model allowed, and the worker's wallet funded. Nothing is persisted: it is for
 * trying a worker alone (`cocoon worker start --network local`); several processes share a chain
 * with `cocoon devnet` instead.
 */
export interface LocalNetwork {
    chain: SandboxChain;
    root: Address;
    wallet: Wallet;
}

export async function startLocalNetwork(options: { modelHash: string; imageName: string; wallet?: Wallet }): Promise<LocalNetwork> {
    const chain = await SandboxChain.create({ clock: 'wall' });
    chain.tick();
    const blockchain = chain.blockchain;
    const governance = await blockchain.treasury('governance');
    const root = blockchain.openContract(await rootFor(governance.address, 0n));
    const via = governance.getSender();
    await root.send(via, { value: toNano('1') }, { $$type: 'SetParams', queryId: 0n, params: devParams() });
    await root.send(
        via,
        { value: toNano('0.05') },
        { $$type: 'AddMeasurement', queryId: 0n, measurement: BigInt('0x' + simulatedMeasurement(options.imageName).toString('hex')), teeType: TEE_SIMULATED },
    );
    await root.send(via, { value: toNano('0.05') }, { $$type: 'AddModel', queryId: 0n, model: modelHashToUint256(options.modelHash), flags: 0n });
    if (!(await root.getIsModelAllowed(modelHashToUint256(options.modelHash)))) throw new Error('local network: Root did not take the dev setup');
    const wallet = options.wallet ?? Wallet.fromKey(new WalletKey(randomBytes(32)));
    const faucet = await blockchain.treasury('faucet');
    await faucet.send({ to: wallet.address, value: toNano('1000'), bounce: false });
    return { chain, root: root.address, wallet };
}

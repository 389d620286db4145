import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { SandboxChain } from '../chain/sandbox';
import { Wallet, WalletKey } from '../chain/wallet';
import { simulatedMeasurement } from '../enclave/binding';
import { modelHashToUint256 } from '../inference/model-identity';
import { Params, Root, rootFor, TEE_SIMULATED } from '../../wrappers';
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

export interface LocalRootOptions {
    /** The simulated enclave image whose measurement Root allows. */
    imageName: string;
    /** Model hashes (hex) Root allows. */
    modelHashes: string[];
    params?: Params;
    /** Auditor public keys (uint256) Root trusts. */
    auditorKeys?: bigint[];
}

/**
 * Deploys a dev Root from the sandbox's "governance" treasury and fills its allow-lists (also
 * used by the one-process demo, `npm start`). Throws when Root did not take the setup.
 */
export async function deployLocalRoot(blockchain: Blockchain, options: LocalRootOptions): Promise<{ root: SandboxContract<Root>; governance: SandboxContract<TreasuryContract> }> {
    const governance = await blockchain.treasury('governance');
    const root = blockchain.openContract(await rootFor(governance.address, 0n));
    const via = governance.getSender();
    const value = toNano('0.05');
    await root.send(via, { value: toNano('1') }, { $$type: 'SetParams', queryId: 0n, params: options.params ?? devParams() });
    const measurement = BigInt('0x' + simulatedMeasurement(options.imageName).toString('hex'));
    await root.send(via, { value }, { $$type: 'AddMeasurement', queryId: 0n, measurement, teeType: TEE_SIMULATED });
    for (const hash of options.modelHashes) await root.send(via, { value }, { $$type: 'AddModel', queryId: 0n, model: modelHashToUint256(hash), flags: 0n });
    for (const key of options.auditorKeys ?? []) await root.send(via, { value }, { $$type: 'AddAuditor', queryId: 0n, key });
    const state = await root.getState();
    const modelsAllowed = await Promise.all(options.modelHashes.map((h) => root.getIsModelAllowed(modelHashToUint256(h))));
    if (!state.configured || modelsAllowed.includes(false) || state.auditorCount !== BigInt(options.auditorKeys?.length ?? 0) || (await root.getMeasurementTeeType(measurement)) !== TEE_SIMULATED) {
        throw new Error('local network: Root did not take the dev setup');
    }
    return { root, governance };
}

export async function startLocalNetwork(options: { modelHash: string; imageName: string; wallet?: Wallet }): Promise<LocalNetwork> {
    const chain = await SandboxChain.create({ clock: 'wall' });
    chain.tick();
    const blockchain = chain.blockchain;
    const { root } = await deployLocalRoot(blockchain, { imageName: options.imageName, modelHashes: [options.modelHash] });
    const wallet = options.wallet ?? Wallet.fromKey(new WalletKey(randomBytes(32)));
    const faucet = await blockchain.treasury('faucet');
    await faucet.send({ to: wallet.address, value: toNano('1000'), bounce: false });
    return { chain, root: root.address, wallet };
}

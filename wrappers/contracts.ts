// The initial state of each contract, so that addresses are computed in one place. Both Root
// Worker and Channel use Tact contract parameters: their address is that of this initial state.
import { Address, beginCell, Dictionary } from '@ton/core';
import { Root } from '../build/Cocoon/Cocoon_Root';
import { Worker } from '../build/Cocoon/Cocoon_Worker';
import { Channel, storeChannelConfig } from '../build/Cocoon/Cocoon_Channel';

/**
 * Root of governance `owner`, network `instance` (not yet deployed, or deployed: same address).
 * Deploy it by sending a SetParams body with the StateInit (see scripts/deployRoot.ts).
 */
export function rootFor(owner: Address, instance: bigint = 0n): Promise<Root> {
    return Root.fromInit(
        owner,
        instance,
        null,
        false,
        null,
        0n,
        1n,
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Uint(8)),
        0n,
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Uint(32)),
        0n,
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool()),
        0n,
        0n,
        0n,
    );
}

/** The Worker that Root deploys for (owner, slot): initOf Worker(root, owner, slot, <initial state>). */
export function workerFor(root: Address, owner: Address, slot: bigint): Promise<Worker> {
    return Worker.fromInit(root, owner, slot, 0n, 0n, 0n, 0n, 0n, 0n, false, 0n, null, null, null, null);
}

/**
 * The Channel between `client` and `worker` under `root`: initOf Channel(<initial state>), the
 * same as channelInit() in contracts/channel.tact. The client deploys it with Open.
 */
export function channelFor(root: Address, client: Address, worker: Address): Promise<Channel> {
    return Channel.fromInit(
        0n,
        0n, 0n, 0n,
        0n, 0n,
        worker,
        null,
        beginCell()
            .store(storeChannelConfig({ $$type: 'ChannelConfig', terms: null, root, client, worker, closeAt: 0n }))
            .endCell(),
    );
}

import { Address, beginCell, Cell, internal, toNano } from '@ton/core';
import { IdempotentSender, newQueryId } from '../chain/sender';
import { Chain } from '../chain/types';
import { Params, rootFor, storeAddMeasurement, storeAddModel, storeSetParams } from '../../wrappers';
import { isDeployed, openOnChain } from './chain-access';

/**
 * A Root for a dev network, deployed from a governance wallet through the idempotent sender:
 * dev params (workers Active at once, simulated enclaves allowed), the given measurements and
 * models allowed. Used by `cocoon worker start --network local` (a throwaway in-process chain)
 * and by tests that run agents against the devnet.
 */
export function devParams(overrides: Partial<Omit<Params, 'channel'>> & { channel?: Partial<Params['channel']> } = {}): Params {
    const { channel, ...rest } = overrides;
    return {
        $$type: 'Params',
        minWorkerStake: toNano('10'),
        unbondingDelay: 14_400n,
        attestationTtl: 30n * 24n * 3600n,
        attestationApprovals: 0n,
        allowSimulatedTee: true,
        timeoutSlash: toNano('1'),
        equivocationSlashBps: 5000n,
        faultSlashBps: 1000n,
        reporterRewardBps: 1000n,
        ...rest,
        channel: {
            $$type: 'ChannelParams',
            challengeWindow: 600n,
            disputeWindow: 3600n,
            maxJobDeadline: 3600n,
            clientCloseDelay: 3600n,
            protocolFeeBps: 100n,
            minChannelDeposit: toNano('1'),
            maxOpenJobs: 16n,
            disputeBond: toNano('1'),
            ...(channel ?? {}),
        },
    };
}

export interface DevRootOptions {
    chain: Chain;
    /** The governance wallet's sender (its wallet owns the Root). */
    sender: IdempotentSender;
    owner: Address;
    params?: Params;
    instance?: bigint;
    measurements?: { measurement: bigint; teeType: bigint }[];
    models?: bigint[];
}

const GOVERNANCE_VALUE = toNano('0.05');

async function send(sender: IdempotentSender, to: Address, value: bigint, body: Cell, init?: { code: Cell; data: Cell }): Promise<void> {
    const outcome = await sender.send({ queryId: newQueryId(), messages: [internal({ to, value, bounce: !init, body, init })] });
    if (!outcome.succeeded) throw new Error(`governance send to ${to.toString()} failed (is the governance wallet funded?)`);
}

/** Deploys (or reuses) the Root of `owner` and allow-lists the measurements and models. */
export async function deployDevRoot(options: DevRootOptions): Promise<Address> {
    const root = await rootFor(options.owner, options.instance ?? 0n);
    if (!(await isDeployed(options.chain, root.address))) {
        const body = beginCell().store(storeSetParams({ $$type: 'SetParams', queryId: 0n, params: options.params ?? devParams() })).endCell();
        await send(options.sender, root.address, toNano('1'), body, root.init!);
    }
    const opened = openOnChain(options.chain, root);
    for (const m of options.measurements ?? []) {
        if ((await opened.getMeasurementTeeType(m.measurement)) === m.teeType) continue;
        const body = beginCell().store(storeAddMeasurement({ $$type: 'AddMeasurement', queryId: 0n, measurement: m.measurement, teeType: m.teeType })).endCell();
        await send(options.sender, root.address, GOVERNANCE_VALUE, body);
    }
    for (const model of options.models ?? []) {
        if (await opened.getIsModelAllowed(model)) continue;
        const body = beginCell().store(storeAddModel({ $$type: 'AddModel', queryId: 0n, model, flags: 0n })).endCell();
        await send(options.sender, root.address, GOVERNANCE_VALUE, body);
    }
    return root.address;
}

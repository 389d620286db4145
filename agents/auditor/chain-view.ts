import { Address } from '@ton/core';
import { Chain } from '../chain/types';
import { allowList } from '../enclave/policy';
import { teeTypeFromCode, TeeType } from '../enclave/types';
import { isDeployed, openOnChain } from '../worker/chain-access';
import { Params, Root, Worker, WorkerInfo, workerFor } from '../../wrappers';

/** What the auditor needs from Root for one decision: params, allow-list, auditors, quorum. */
export interface RootView {
    address: Address;
    params: Params;
    paused: boolean;
    quorum: number;
    /** Measurement (lowercase hex) → TEE type: the attestation policy's allow-list. */
    measurements: Map<string, TeeType>;
    /** Enabled auditor keys (lowercase hex). */
    auditors: Set<string>;
}

export const hex256 = (value: bigint): string => value.toString(16).padStart(64, '0');
export const bufferOf256 = (value: bigint): Buffer => Buffer.from(hex256(value), 'hex');
export const uint256Of = (bytes: Buffer): bigint => BigInt('0x' + bytes.toString('hex'));

export async function readRoot(chain: Chain, root: Address): Promise<RootView> {
    const contract = openOnChain(chain, Root.fromAddress(root));
    const [state, params, measurements, auditors] = await Promise.all([
        contract.getState(),
        contract.getParams(),
        contract.getMeasurements(),
        contract.getAuditors(),
    ]);
    const allowed: { measurement: bigint; teeType: TeeType }[] = [];
    for (const [measurement, code] of measurements) {
        try {
            allowed.push({ measurement, teeType: teeTypeFromCode(Number(code)) });
        } catch {
            /* a TEE type this agent does not know is never allowed by it */
        }
    }
    const enabled = new Set<string>();
    for (const [key, on] of auditors) if (on) enabled.add(hex256(key));
    return { address: root, params, paused: state.paused, quorum: Number(state.quorum), measurements: allowList(allowed), auditors: enabled };
}

/**
 * The on-chain record of a Worker that genuinely belongs to `root` (its address is
 * `Worker(root, owner, slot)`), or undefined when there is no such contract.
 */
export async function readGenuineWorker(chain: Chain, root: Address, worker: Address): Promise<WorkerInfo | undefined> {
    if (!(await isDeployed(chain, worker))) return undefined;
    let info: WorkerInfo;
    try {
        info = await openOnChain(chain, Worker.fromAddress(worker)).getInfo();
    } catch {
        return undefined; // not a Worker contract at all
    }
    if (!info.root.equals(root)) return undefined;
    const expected = await workerFor(root, info.owner, info.slot);
    return expected.address.equals(worker) ? info : undefined;
}

/**
 * Polls `read` until `done` holds or `timeoutMs` passes (a message's cascade takes a few blocks
 * on a real network; on the sandbox and the devnet it has already run). Returns the last value.
 */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, intervalMs = 1000): Promise<T> {
    const started = Date.now();
    for (;;) {
        const value = await read();
        if (done(value) || Date.now() - started >= timeoutMs) return value;
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

// Shared helpers of the blueprint scripts: argument parsing with errors that say what to do,
// the params file format, and a TypeScript mirror of Root's params validation (so a bad file
// is refused before anything is sent; Root refuses it on-chain anyway).
import fs from 'node:fs';
import { Address, fromNano, toNano } from '@ton/core';
import { NetworkProvider } from '@ton/blueprint';
import { Params, TEE_SIMULATED, TEE_TDX } from '../wrappers';

export class ScriptError extends Error {}

export function argAt(args: string[], index: number, usage: string): string {
    const value = args[index];
    if (value === undefined || value === '') throw new ScriptError(`missing argument #${index + 1}. Usage: ${usage}`);
    return value;
}

export function parseAddress(value: string, what: string): Address {
    try {
        return Address.parse(value);
    } catch {
        throw new ScriptError(`${what} "${value}" is not a TON address (use the EQ.../UQ... or 0:... form)`);
    }
}

/** A 256-bit hash or key given as 64 hex digits (an optional 0x prefix is accepted). */
export function parseHash(value: string, what: string): bigint {
    const hex = value.startsWith('0x') ? value.slice(2) : value;
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ScriptError(`${what} must be 64 hex digits, got "${value}"`);
    return BigInt('0x' + hex);
}

export function parseTeeType(value: string): bigint {
    if (value === 'tdx') return TEE_TDX;
    if (value === 'simulated') return TEE_SIMULATED;
    throw new ScriptError(`TEE type must be "tdx" or "simulated", got "${value}"`);
}

export function parseUint(value: string, what: string, bits: number): bigint {
    if (!/^\d+$/.test(value)) throw new ScriptError(`${what} must be a whole number, got "${value}"`);
    const n = BigInt(value);
    if (n >= 1n << BigInt(bits)) throw new ScriptError(`${what} must be below 2^${bits}, got ${value}`);
    return n;
}

export function parseTon(value: unknown, what: string): bigint {
    if (typeof value !== 'string' || !/^\d+(\.\d{1,9})?$/.test(value)) {
        throw new ScriptError(`${what} must be an amount of TON as a string, like "10" or "0.5"; got ${JSON.stringify(value)}`);
    }
    return toNano(value);
}

function wholeNumber(value: unknown, what: string, bits: number): bigint {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new ScriptError(`${what} must be a non-negative whole number, got ${JSON.stringify(value)}`);
    }
    return parseUint(String(value), what, bits);
}

function only(obj: Record<string, unknown>, keys: string[], where: string): void {
    for (const key of Object.keys(obj)) {
        if (!keys.includes(key)) throw new ScriptError(`${where}: unknown field "${key}" (known: ${keys.join(', ')})`);
    }
    for (const key of keys) {
        if (!(key in obj)) throw new ScriptError(`${where}: missing field "${key}"`);
    }
}

export interface ParamsFile {
    instance: bigint;
    params: Params;
}

/**
 * Reads a params file (see scripts/params/dev.json): TON amounts as strings in TON, durations
 * in seconds, shares in basis points.
 */
export function readParamsFile(path: string): ParamsFile {
    let raw: unknown;
    try {
        raw = JSON.parse(fs.readFileSync(path, 'utf8'));
    } catch (error) {
        throw new ScriptError(`cannot read params file ${path}: ${(error as Error).message}`);
    }
    const file = raw as Record<string, unknown>;
    only(file, ['instance', 'params'], path);
    const p = file.params as Record<string, unknown>;
    only(
        p,
        ['minWorkerStake', 'unbondingDelay', 'attestationTtl', 'attestationApprovals', 'allowSimulatedTee', 'timeoutSlash', 'equivocationSlashBps', 'faultSlashBps', 'reporterRewardBps', 'channel'],
        `${path} params`,
    );
    const c = p.channel as Record<string, unknown>;
    only(c, ['challengeWindow', 'disputeWindow', 'maxJobDeadline', 'clientCloseDelay', 'protocolFeeBps', 'minChannelDeposit', 'maxOpenJobs', 'disputeBond'], `${path} params.channel`);
    if (typeof p.allowSimulatedTee !== 'boolean') throw new ScriptError(`${path}: allowSimulatedTee must be true or false`);
    const params: Params = {
        $$type: 'Params',
        minWorkerStake: parseTon(p.minWorkerStake, 'minWorkerStake'),
        unbondingDelay: wholeNumber(p.unbondingDelay, 'unbondingDelay', 32),
        attestationTtl: wholeNumber(p.attestationTtl, 'attestationTtl', 32),
        attestationApprovals: wholeNumber(p.attestationApprovals, 'attestationApprovals', 8),
        allowSimulatedTee: p.allowSimulatedTee,
        timeoutSlash: parseTon(p.timeoutSlash, 'timeoutSlash'),
        equivocationSlashBps: wholeNumber(p.equivocationSlashBps, 'equivocationSlashBps', 16),
        faultSlashBps: wholeNumber(p.faultSlashBps, 'faultSlashBps', 16),
        reporterRewardBps: wholeNumber(p.reporterRewardBps, 'reporterRewardBps', 16),
        channel: {
            $$type: 'ChannelParams',
            challengeWindow: wholeNumber(c.challengeWindow, 'channel.challengeWindow', 32),
            disputeWindow: wholeNumber(c.disputeWindow, 'channel.disputeWindow', 32),
            maxJobDeadline: wholeNumber(c.maxJobDeadline, 'channel.maxJobDeadline', 32),
            clientCloseDelay: wholeNumber(c.clientCloseDelay, 'channel.clientCloseDelay', 32),
            protocolFeeBps: wholeNumber(c.protocolFeeBps, 'channel.protocolFeeBps', 16),
            minChannelDeposit: parseTon(c.minChannelDeposit, 'channel.minChannelDeposit'),
            maxOpenJobs: wholeNumber(c.maxOpenJobs, 'channel.maxOpenJobs', 16),
            disputeBond: parseTon(c.disputeBond, 'channel.disputeBond'),
        },
    };
    validateParams(params);
    return { instance: wholeNumber(file.instance, 'instance', 32), params };
}

/** The same rules as validateParams in contracts/root.tact, with messages that say what to fix. */
export function validateParams(p: Params): void {
    const c = p.channel;
    const positive: [string, bigint][] = [
        ['minWorkerStake', p.minWorkerStake],
        ['unbondingDelay', p.unbondingDelay],
        ['attestationTtl', p.attestationTtl],
        ['channel.challengeWindow', c.challengeWindow],
        ['channel.disputeWindow', c.disputeWindow],
        ['channel.maxJobDeadline', c.maxJobDeadline],
        ['channel.clientCloseDelay', c.clientCloseDelay],
        ['channel.minChannelDeposit', c.minChannelDeposit],
        ['channel.maxOpenJobs', c.maxOpenJobs],
        ['equivocationSlashBps', p.equivocationSlashBps],
    ];
    for (const [name, value] of positive) if (value <= 0n) throw new ScriptError(`params: ${name} must be positive`);
    if (c.protocolFeeBps > 5000n) throw new ScriptError('params: channel.protocolFeeBps must be at most 5000 (50%)');
    for (const [name, value] of [['equivocationSlashBps', p.equivocationSlashBps], ['faultSlashBps', p.faultSlashBps], ['reporterRewardBps', p.reporterRewardBps]] as const) {
        if (value > 10000n) throw new ScriptError(`params: ${name} must be at most 10000 (100%)`);
    }
    if (p.attestationApprovals > 10n) throw new ScriptError('params: attestationApprovals must be at most 10 (signatures per verdict)');
    if (p.timeoutSlash > p.minWorkerStake) {
        throw new ScriptError(`params: timeoutSlash (${fromNano(p.timeoutSlash)} TON) must not exceed minWorkerStake (${fromNano(p.minWorkerStake)} TON)`);
    }
    const claimWindow = c.maxJobDeadline + c.challengeWindow + c.disputeWindow;
    if (p.unbondingDelay <= claimWindow) {
        throw new ScriptError(
            `params: unbondingDelay (${p.unbondingDelay} s) must exceed maxJobDeadline + challengeWindow + disputeWindow (${claimWindow} s), ` +
                'or a worker could withdraw stake an open job may still claim',
        );
    }
}

/** Runs a script body, printing a ScriptError's message (not a stack) to the user. */
export async function runScript(provider: NetworkProvider, body: () => Promise<void>): Promise<void> {
    try {
        await body();
    } catch (error) {
        if (error instanceof ScriptError) {
            provider.ui().write(`Error: ${error.message}`);
        }
        throw error;
    }
}

export const GOVERNANCE_VALUE = toNano('0.05');

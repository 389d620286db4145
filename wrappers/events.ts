// Decodes the events (external out messages) of the contracts into typed objects, by opcode.
// Each event type is a Tact message with a fixed opcode (0xE052xxxx Root, 0xE057xxxx Worker,
// 0xE043xxxx Channel); decoding uses only the generated load functions.
import { Cell, Slice, Transaction } from '@ton/core';
import {
    AttestationApproved,
    AttestationRejected,
    AttestationRenewed,
    AuditorAdded,
    AuditorRemoved,
    EndpointChanged,
    EquivocationProven,
    FeesWithdrawn,
    loadAttestationApproved,
    loadAttestationRejected,
    loadAttestationRenewed,
    loadAuditorAdded,
    loadAuditorRemoved,
    loadEndpointChanged,
    loadEquivocationProven,
    loadFeesWithdrawn,
    loadMeasurementAdded,
    loadMeasurementRemoved,
    loadModelAdded,
    loadModelRemoved,
    loadOwnershipProposed,
    loadOwnershipTransferred,
    loadParamsChanged,
    loadParamsSynced,
    loadPricesChanged,
    loadQuorumChanged,
    loadRegistrationRefused,
    loadRootPaused,
    loadRootUnpaused,
    loadStakeAdded,
    loadStakeWithdrawn,
    loadStatusChanged,
    loadTreasuryCredited,
    loadUnbondRequested,
    loadUpdateRefused,
    loadJobNotBinding,
    loadVerdictForwarded,
    loadWorkerActivated,
    loadWorkerRegistered,
    loadWorkerSlashed,
    MeasurementAdded,
    MeasurementRemoved,
    ModelAdded,
    ModelRemoved,
    OwnershipProposed,
    OwnershipTransferred,
    ParamsChanged,
    ParamsSynced,
    PricesChanged,
    QuorumChanged,
    RegistrationRefused,
    RootPaused,
    RootUnpaused,
    StakeAdded,
    StakeWithdrawn,
    StatusChanged,
    TreasuryCredited,
    UnbondRequested,
    UpdateRefused,
    JobNotBinding,
    VerdictForwarded,
    WorkerActivated,
    WorkerRegistered,
    WorkerSlashed,
} from '../build/Cocoon/Cocoon_Root';
import {
    ChannelOpenRequested,
    loadChannelOpenRequested,
    ChannelOpened,
    loadChannelOpened,
    ChannelOpenFailed,
    loadChannelOpenFailed,
    ToppedUp,
    loadToppedUp,
    ChannelSettled,
    loadChannelSettled,
    JobPosted,
    loadJobPosted,
    ResultCommitted,
    loadResultCommitted,
    JobFinalized,
    loadJobFinalized,
    JobTimedOut,
    loadJobTimedOut,
    JobDisputed,
    loadJobDisputed,
    DisputeResolved,
    loadDisputeResolved,
    CloseRequested,
    loadCloseRequested,
    ChannelClosed,
    loadChannelClosed,
    FeesSwept,
    loadFeesSwept,
    WorkerNoticeBounced,
    loadWorkerNoticeBounced,
    EarningsReported,
    loadEarningsReported,
} from '../build/Cocoon/Cocoon_Root';

export type RootEvent =
    | ParamsChanged
    | MeasurementAdded
    | MeasurementRemoved
    | ModelAdded
    | ModelRemoved
    | AuditorAdded
    | AuditorRemoved
    | QuorumChanged
    | OwnershipProposed
    | OwnershipTransferred
    | RootPaused
    | RootUnpaused
    | FeesWithdrawn
    | WorkerRegistered
    | VerdictForwarded
    | TreasuryCredited;

export type WorkerEvent =
    | WorkerActivated
    | RegistrationRefused
    | StatusChanged
    | StakeAdded
    | EndpointChanged
    | PricesChanged
    | AttestationRenewed
    | AttestationApproved
    | AttestationRejected
    | UnbondRequested
    | StakeWithdrawn
    | ParamsSynced
    | EquivocationProven
    | WorkerSlashed
    | UpdateRefused
    | JobNotBinding;

export type ChannelEvent =
    | ChannelOpenRequested
    | ChannelOpened
    | ChannelOpenFailed
    | ToppedUp
    | ChannelSettled
    | JobPosted
    | ResultCommitted
    | JobFinalized
    | JobTimedOut
    | JobDisputed
    | DisputeResolved
    | CloseRequested
    | ChannelClosed
    | FeesSwept
    | WorkerNoticeBounced
    | EarningsReported;

/** Every event of the protocol. */
export type CocoonEvent = RootEvent | WorkerEvent | ChannelEvent;

export type EventDecoder = (slice: Slice) => CocoonEvent;

export const ROOT_EVENT_DECODERS: ReadonlyMap<number, EventDecoder> = new Map<number, EventDecoder>([
    [0xe0520001, loadParamsChanged],
    [0xe0520002, loadMeasurementAdded],
    [0xe0520003, loadMeasurementRemoved],
    [0xe0520004, loadModelAdded],
    [0xe0520005, loadModelRemoved],
    [0xe0520006, loadAuditorAdded],
    [0xe0520007, loadAuditorRemoved],
    [0xe0520008, loadQuorumChanged],
    [0xe0520009, loadOwnershipProposed],
    [0xe052000a, loadOwnershipTransferred],
    [0xe052000b, loadRootPaused],
    [0xe052000c, loadRootUnpaused],
    [0xe052000d, loadFeesWithdrawn],
    [0xe052000e, loadWorkerRegistered],
    [0xe052000f, loadVerdictForwarded],
    [0xe0520010, loadTreasuryCredited],
]);

export const WORKER_EVENT_DECODERS: ReadonlyMap<number, EventDecoder> = new Map<number, EventDecoder>([
    [0xe0570001, loadWorkerActivated],
    [0xe0570002, loadRegistrationRefused],
    [0xe0570003, loadStatusChanged],
    [0xe0570004, loadStakeAdded],
    [0xe0570005, loadEndpointChanged],
    [0xe0570006, loadPricesChanged],
    [0xe0570007, loadAttestationRenewed],
    [0xe0570008, loadAttestationApproved],
    [0xe0570009, loadAttestationRejected],
    [0xe057000a, loadUnbondRequested],
    [0xe057000b, loadStakeWithdrawn],
    [0xe057000c, loadParamsSynced],
    [0xe057000d, loadEquivocationProven],
    [0xe057000e, loadWorkerSlashed],
    [0xe057000f, loadUpdateRefused],
    [0xe0570010, loadJobNotBinding],
]);

export const CHANNEL_EVENT_DECODERS: ReadonlyMap<number, EventDecoder> = new Map<number, EventDecoder>([
    [0xe0430001, loadChannelOpenRequested],
    [0xe0430002, loadChannelOpened],
    [0xe0430003, loadChannelOpenFailed],
    [0xe0430004, loadToppedUp],
    [0xe0430005, loadChannelSettled],
    [0xe0430006, loadJobPosted],
    [0xe0430008, loadResultCommitted],
    [0xe0430009, loadJobFinalized],
    [0xe043000a, loadJobTimedOut],
    [0xe043000b, loadJobDisputed],
    [0xe043000c, loadDisputeResolved],
    [0xe043000d, loadCloseRequested],
    [0xe043000e, loadChannelClosed],
    [0xe043000f, loadFeesSwept],
    [0xe0430010, loadWorkerNoticeBounced],
    [0xe0430011, loadEarningsReported],
]);

const ALL_DECODERS = new Map<number, EventDecoder>([
    ...ROOT_EVENT_DECODERS,
    ...WORKER_EVENT_DECODERS,
    ...CHANNEL_EVENT_DECODERS,
]);

/** Opcode (first 32 bits) of an event body, or null when the body is shorter. */
export function eventOpcode(body: Cell): number | null {
    const slice = body.beginParse();
    return slice.remainingBits >= 32 ? slice.preloadUint(32) : null;
}

/**
 * Decodes one event body. Returns null for a body whose opcode is not a protocol event;
 * throws when the opcode is known but the body does not parse (a corrupt event).
 */
export function decodeEvent(body: Cell): CocoonEvent | null {
    const op = eventOpcode(body);
    if (op === null) return null;
    const decoder = ALL_DECODERS.get(op);
    if (!decoder) return null;
    const slice = body.beginParse();
    const event = decoder(slice);
    if (slice.remainingBits !== 0 || slice.remainingRefs !== 0) {
        throw new Error(`event 0x${op.toString(16)} has ${slice.remainingBits} bits / ${slice.remainingRefs} refs left over`);
    }
    return event;
}

/**
 * Opcodes of the settlement records a Channel puts in the body of its payout to the payee (an
 * internal message) instead of a separate external message: ChannelSettled, JobFinalized.
 */
export const PAYOUT_RECORD_OPCODES: ReadonlySet<number> = new Set([0xe0430005, 0xe0430009]);

/**
 * The decoded events of one transaction, in emission order: its external out messages, and the
 * settlement records carried by its internal out messages (PAYOUT_RECORD_OPCODES).
 */
export function eventsOf(tx: Transaction): CocoonEvent[] {
    const events: CocoonEvent[] = [];
    for (const message of tx.outMessages.values()) {
        if (message.info.type === 'external-in') continue;
        if (message.info.type === 'internal') {
            const op = eventOpcode(message.body);
            if (op === null || !PAYOUT_RECORD_OPCODES.has(op)) continue;
        }
        const event = decodeEvent(message.body);
        if (event) events.push(event);
    }
    return events;
}

/** The decoded events of many transactions (e.g. a sandbox SendMessageResult's), in order. */
export function eventsOfAll(txs: readonly Transaction[]): CocoonEvent[] {
    return txs.flatMap(eventsOf);
}

/** Narrows a list of events to one type: `eventsOfType(events, 'StakeAdded')`. */
export function eventsOfType<K extends CocoonEvent['$$type']>(
    events: readonly CocoonEvent[],
    type: K,
): Extract<CocoonEvent, { $$type: K }>[] {
    return events.filter((e): e is Extract<CocoonEvent, { $$type: K }> => e.$$type === type);
}

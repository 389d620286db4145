import { Address, Cell, Transaction } from '@ton/core';
import { Decoder } from './watcher';

/**
 * Generic decoders for the watcher. The protocol's own decoder (wrappers/events.ts: typed Root,
 * Worker and Channel events and messages) plugs in the same way.
 */
export interface BodyHead {
    /** First 32 bits, or null for an empty body. */
    op: number | null;
    /** The 64 bits after the op, when present (the protocol's messages put queryId first). */
    queryId: bigint | null;
    /** Text of a comment (op 0). */
    comment: string | null;
}

export function readBodyHead(body: Cell): BodyHead {
    const s = body.beginParse();
    if (s.remainingBits < 32) return { op: null, queryId: null, comment: null };
    const op = s.loadUint(32);
    if (op === 0) {
        try {
            return { op, queryId: null, comment: s.loadStringTail() };
        } catch {
            return { op, queryId: null, comment: null };
        }
    }
    return { op, queryId: s.remainingBits >= 64 ? s.loadUintBig(64) : null, comment: null };
}

/**
 * Whether the transaction did what its message asked: the code ran without an exception and its
 * actions were applied. A message to an account without code (compute phase skipped) is a plain
 * credit and counts as succeeded, although TON marks such transactions "aborted".
 */
export function transactionSucceeded(tx: Transaction): boolean {
    const d = tx.description;
    if (d.type !== 'generic') return true;
    if (d.computePhase.type === 'skipped') return true;
    if (!d.computePhase.success) return false;
    return d.actionPhase ? d.actionPhase.success : true;
}

export interface IncomingMessage extends BodyHead {
    kind: 'incoming';
    from: Address;
    value: bigint;
    bounced: boolean;
    /** False if the receiving transaction failed (its effects were rolled back). */
    succeeded: boolean;
    body: Cell;
}

export interface ContractEvent {
    kind: 'event';
    /** First 32 bits of the external-out body: the event's opcode. */
    op: number | null;
    body: Cell;
}

/** Internal messages received by the watched account. */
export const incomingMessages: Decoder<IncomingMessage> = (tx) => {
    const msg = tx.inMessage;
    if (!msg || msg.info.type !== 'internal') return [];
    return [
        {
            kind: 'incoming',
            from: msg.info.src,
            value: msg.info.value.coins,
            bounced: msg.info.bounced,
            succeeded: transactionSucceeded(tx),
            body: msg.body,
            ...readBodyHead(msg.body),
        },
    ];
};

/** Events the watched contract emitted (external out messages), in emission order. */
export const contractEvents: Decoder<ContractEvent> = (tx) =>
    [...tx.outMessages.values()]
        .filter((m) => m.info.type === 'external-out')
        .map((m) => ({ kind: 'event' as const, op: readBodyHead(m.body).op, body: m.body }));

export function combineDecoders<A, B>(a: Decoder<A>, b: Decoder<B>): Decoder<A | B> {
    return (tx, account) => [...a(tx, account), ...b(tx, account)];
}

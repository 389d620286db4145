import { Address, beginCell, Cell, loadMessage, Message } from '@ton/core';

/**
 * TEP-467 normalized hash of an external-in message: src = addr_none, import_fee = 0, no
 * StateInit, body always in a ref. Wallet front-ends and indexers key external messages by it,
 * and it does not change if a relay re-wraps the message.
 */
export function normalizedExternalHash(message: Message): Buffer {
    if (message.info.type !== 'external-in') throw new TypeError('only external-in messages have a normalized hash');
    return beginCell()
        .storeUint(2, 2) // ext_in_msg_info$10
        .storeUint(0, 2) // src: addr_none
        .storeAddress(message.info.dest)
        .storeCoins(0) // import_fee
        .storeBit(false) // no init
        .storeBit(true) // body as a ref
        .storeRef(message.body)
        .endCell()
        .hash();
}

export function parseExternalBoc(boc: Buffer): Message {
    let cells: Cell[];
    try {
        cells = Cell.fromBoc(boc);
    } catch (error) {
        throw new TypeError(`not a valid BOC: ${(error as Error).message}`);
    }
    if (cells.length !== 1) throw new TypeError(`a message BOC must hold exactly one root cell, this one has ${cells.length}`);
    let message: Message;
    try {
        message = loadMessage(cells[0].beginParse());
    } catch (error) {
        throw new TypeError(`BOC is not a message: ${(error as Error).message}`);
    }
    if (message.info.type !== 'external-in') throw new TypeError(`only external-in messages can be sent, got ${message.info.type}`);
    return message;
}

export function destinationOf(message: Message): Address {
    if (message.info.type === 'external-out') throw new TypeError('external-out messages have no account destination');
    return message.info.dest;
}

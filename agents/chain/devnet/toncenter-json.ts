import { Address, beginCell, Cell, Message, storeMessage, storeStateInit, Transaction } from '@ton/core';
import { createHash } from 'node:crypto';
import { AccountState } from '../types';

/** JSON shapes of the toncenter v2 API, as far as @ton/ton's TonClient and the agents read them. */

export const MASTERCHAIN_SHARD = '-9223372036854775808';

export interface BlockIdJson {
    '@type': 'ton.blockIdExt';
    workchain: number;
    shard: string;
    seqno: number;
    root_hash: string;
    file_hash: string;
}

/** The devnet has no real blocks: each change is one "masterchain block" with a synthetic id. */
export function devnetBlockId(seqno: number): BlockIdJson {
    const digest = (tag: string) => createHash('sha256').update(`cocoon-devnet-${tag}-${seqno}`).digest('base64');
    return { '@type': 'ton.blockIdExt', workchain: -1, shard: MASTERCHAIN_SHARD, seqno, root_hash: digest('root'), file_hash: digest('file') };
}

function addressString(address: Address | null | undefined | { toString(): string }): string {
    if (!address) return '';
    return address instanceof Address ? address.toString({ urlSafe: true, bounceable: true }) : '';
}

function commentOf(body: Cell): string | undefined {
    try {
        const s = body.beginParse();
        if (s.remainingBits < 32 || s.loadUint(32) !== 0) return undefined;
        return s.loadStringTail();
    } catch {
        return undefined;
    }
}

export function messageJson(message: Message): Record<string, unknown> {
    const info = message.info;
    const body = message.body;
    const comment = commentOf(body);
    const base = {
        '@type': 'raw.message',
        hash: beginCell().store(storeMessage(message)).endCell().hash().toString('base64'),
        body_hash: body.hash().toString('base64'),
        msg_data: {
            '@type': 'msg.dataRaw',
            body: body.toBoc().toString('base64'),
            init_state: message.init ? beginCell().store(storeStateInit(message.init)).endCell().toBoc().toString('base64') : '',
        },
        ...(comment !== undefined ? { message: comment } : {}),
    };
    if (info.type === 'internal') {
        return {
            ...base,
            source: addressString(info.src),
            destination: addressString(info.dest),
            value: info.value.coins.toString(),
            extra_currencies: [],
            fwd_fee: info.forwardFee.toString(),
            ihr_fee: info.ihrFee.toString(),
            created_lt: info.createdLt.toString(),
            bounce: info.bounce,
            bounced: info.bounced,
        };
    }
    if (info.type === 'external-in') {
        return { ...base, source: '', destination: addressString(info.dest), value: '0', extra_currencies: [], fwd_fee: '0', ihr_fee: '0', created_lt: '0' };
    }
    return { ...base, source: addressString(info.src), destination: '', value: '0', extra_currencies: [], fwd_fee: '0', ihr_fee: '0', created_lt: info.createdLt.toString() };
}

export function transactionJson(account: Address, tx: Transaction): Record<string, unknown> {
    const description = tx.description;
    const storageFee = description.type === 'generic' ? (description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
    return {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: addressString(account) },
        utime: tx.now,
        data: tx.raw.toBoc().toString('base64'),
        transaction_id: { '@type': 'internal.transactionId', lt: tx.lt.toString(), hash: tx.hash().toString('base64') },
        fee: tx.totalFees.coins.toString(),
        storage_fee: storageFee.toString(),
        other_fee: (tx.totalFees.coins - storageFee).toString(),
        in_msg: tx.inMessage ? messageJson(tx.inMessage) : undefined,
        out_msgs: [...tx.outMessages.values()].map(messageJson),
    };
}

const ZERO_HASH = Buffer.alloc(32).toString('base64');

export function accountStatusJson(state: AccountState): 'active' | 'uninitialized' | 'frozen' {
    return state.status === 'active' ? 'active' : state.status === 'frozen' ? 'frozen' : 'uninitialized';
}

export function addressInformationJson(state: AccountState, block: BlockIdJson, syncUtime: number): Record<string, unknown> {
    return {
        '@type': 'raw.fullAccountState',
        balance: state.balance.toString(),
        extra_currencies: [],
        code: state.code ? state.code.toBoc().toString('base64') : '',
        data: state.data ? state.data.toBoc().toString('base64') : '',
        last_transaction_id: {
            '@type': 'internal.transactionId',
            lt: state.lastTransaction ? state.lastTransaction.lt.toString() : '0',
            hash: state.lastTransaction ? state.lastTransaction.hash.toString('base64') : ZERO_HASH,
        },
        block_id: block,
        frozen_hash: '',
        sync_utime: syncUtime,
        state: accountStatusJson(state),
    };
}

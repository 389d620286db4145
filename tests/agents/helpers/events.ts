import { Address, internal, SendMode, toNano } from '@ton/core';
import { incomingMessages } from '../../../agents/chain/decoders';
import { Decoder } from '../../../agents/chain/watcher';
import { Chain } from '../../../agents/chain/types';
import { Wallet } from '../../../agents/chain/wallet';

/** Test events: comments received by the watched account. */
export interface CommentEvent {
    text: string;
    from: Address;
}

/** The tests' own decoder: incoming comments only (everything else is not an event). */
export const commentDecoder: Decoder<CommentEvent> = (tx, account) =>
    incomingMessages(tx, account)
        .filter((m) => m.comment !== null && m.succeeded)
        .map((m) => ({ text: m.comment!, from: m.from }));

/** Sends one comment per text from a v5r1 wallet to `to` (up to 200 per external message). */
export async function sendComments(chain: Chain, wallet: Wallet, to: Address, texts: string[]): Promise<void> {
    for (let i = 0; i < texts.length; i += 200) {
        const batch = texts.slice(i, i + 200);
        const account = await chain.getAccount(wallet.address);
        const seqno = await wallet.getSeqno(chain);
        const boc = await wallet.createTransfer({
            seqno,
            validUntil: (await chain.now()) + 60,
            deploy: account.status !== 'active',
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            messages: batch.map((text) => internal({ to, value: toNano('0.01'), bounce: false, body: text })),
        });
        await chain.sendExternal(boc);
        // On a network the transactions appear later; wait until the wallet's seqno moved.
        for (let n = 0; (await wallet.getSeqno(chain)) === seqno; n++) {
            if (n > 200) throw new Error('comment batch did not land');
            await new Promise((r) => setTimeout(r, 50));
        }
    }
}

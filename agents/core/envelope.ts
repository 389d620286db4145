import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import nacl from 'tweetnacl';
import { naclBoxKey, X25519Backend, x25519FromSecret, x25519Generate, X25519KeyPair, X25519KeyError } from './x25519';

/**
 * Prompt and answer envelopes: NaCl box (X25519 + XSalsa20-Poly1305, the construction TON
 * Connect uses) bound to one job.
 *
 * A request is sealed by the client to the enclave's attested X25519 key with a fresh ephemeral
 * key pair; the answer is sealed by the enclave to that ephemeral public key, so only the client
 * that sent the request can read it, and box authenticates the enclave as its author.
 *
 * Layout (all integers big-endian):
 *
 *   offset  size  field
 *   0       1     version = 1
 *   1       1     kind: 1 = request (client → enclave), 2 = response (enclave → client)
 *   2       1     channel workchain (int8)
 *   3       32    channel address hash
 *   35      8     job seq (uint64)
 *   43      32    sender's X25519 public key (request: ephemeral; response: the enclave's key)
 *   75      24    nonce (random)
 *   99      ...   nacl.box(header[0..43) ‖ payload, nonce, recipient public key, sender secret key)
 *
 * The first 43 bytes (the context header) are in clear so the worker can route the envelope,
 * and are repeated inside the authenticated plaintext: moving a ciphertext to another channel
 * or job (or relabelling it) is detected after decryption and refused as a replay.
 *
 * Two backends produce identical bytes: `native` (default: node:crypto X25519
 * for the key agreement, tweetnacl's XSalsa20-Poly1305 for the rest; several times faster) and `tweetnacl`
 * (pure JS, the reference; the known-answer tests check both).
 */
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_KIND_REQUEST = 1;
export const ENVELOPE_KIND_RESPONSE = 2;
const CONTEXT_BYTES = 43;
const KEY_OFFSET = 43;
const NONCE_OFFSET = 75;
const BOX_OFFSET = 99;
export const ENVELOPE_OVERHEAD = BOX_OFFSET + nacl.box.overheadLength + CONTEXT_BYTES;

export type EnvelopeBackend = X25519Backend;
export type EnvelopeKind = 'request' | 'response';

/** The job an envelope belongs to. */
export interface EnvelopeContext {
    channel: Address;
    seq: bigint;
}

export class EnvelopeError extends Error {
    constructor(
        readonly code: 'malformed' | 'authentication' | 'replay' | 'wrong-sender' | 'key',
        message: string,
    ) {
        super(message);
        this.name = 'EnvelopeError';
    }
}

export class EnvelopeMalformedError extends EnvelopeError {
    constructor(message: string) {
        super('malformed', message);
        this.name = 'EnvelopeMalformedError';
    }
}

/** Decryption failed: the envelope was altered, cut short, or sealed to another key. */
export class EnvelopeAuthenticationError extends EnvelopeError {
    constructor(kind: EnvelopeKind) {
        super(
            'authentication',
            `the ${kind} envelope does not decrypt: it was altered or truncated in transit, or sealed to another key ` +
                `(check that the client used the worker's attested encryption key)`,
        );
        this.name = 'EnvelopeAuthenticationError';
    }
}

/** The envelope was sealed for another channel or job than the one it is being opened for. */
export class EnvelopeReplayError extends EnvelopeError {
    constructor(
        readonly sealedFor: EnvelopeContext,
        readonly openedFor: EnvelopeContext,
    ) {
        super(
            'replay',
            `envelope was sealed for channel ${sealedFor.channel.toRawString()} seq ${sealedFor.seq}, ` +
                `not for channel ${openedFor.channel.toRawString()} seq ${openedFor.seq}; refusing a replayed or misrouted ciphertext`,
        );
        this.name = 'EnvelopeReplayError';
    }
}

export class EnvelopeWrongSenderError extends EnvelopeError {
    constructor() {
        super('wrong-sender', 'response envelope was not sealed by the expected enclave key');
        this.name = 'EnvelopeWrongSenderError';
    }
}

export class EnvelopeKeyError extends EnvelopeError {
    constructor(message: string) {
        super('key', message);
        this.name = 'EnvelopeKeyError';
    }
}

export function encodeEnvelopeContext(kind: EnvelopeKind, context: EnvelopeContext): Buffer {
    if (context.seq < 0n || context.seq >= 1n << 64n) throw new RangeError(`job seq ${context.seq} does not fit in uint64`);
    const header = Buffer.alloc(CONTEXT_BYTES);
    header[0] = ENVELOPE_VERSION;
    header[1] = kind === 'request' ? ENVELOPE_KIND_REQUEST : ENVELOPE_KIND_RESPONSE;
    header.writeInt8(context.channel.workChain, 2);
    context.channel.hash.copy(header, 3);
    header.writeBigUInt64BE(context.seq, 35);
    return header;
}

function decodeContext(header: Buffer): { kind: EnvelopeKind; context: EnvelopeContext } {
    if (header[0] !== ENVELOPE_VERSION) {
        throw new EnvelopeMalformedError(`unsupported envelope version ${header[0]} (this agent reads version ${ENVELOPE_VERSION})`);
    }
    if (header[1] !== ENVELOPE_KIND_REQUEST && header[1] !== ENVELOPE_KIND_RESPONSE) {
        throw new EnvelopeMalformedError(`unknown envelope kind ${header[1]}`);
    }
    return {
        kind: header[1] === ENVELOPE_KIND_REQUEST ? 'request' : 'response',
        context: {
            channel: new Address(header.readInt8(2), Buffer.from(header.subarray(3, 35))),
            seq: header.readBigUInt64BE(35),
        },
    };
}

function sameContext(a: EnvelopeContext, b: EnvelopeContext): boolean {
    return a.seq === b.seq && a.channel.equals(b.channel);
}

/** Reads the clear-text routing header (unauthenticated until the envelope is opened). */
export function peekEnvelope(envelope: Buffer): { kind: EnvelopeKind; context: EnvelopeContext; senderKey: Buffer } {
    if (!Buffer.isBuffer(envelope) || envelope.length < ENVELOPE_OVERHEAD) {
        throw new EnvelopeMalformedError(
            `envelope is ${Buffer.isBuffer(envelope) ? envelope.length : 0} bytes, shorter than the ${ENVELOPE_OVERHEAD}-byte minimum (truncated?)`,
        );
    }
    return { ...decodeContext(envelope.subarray(0, CONTEXT_BYTES)), senderKey: Buffer.from(envelope.subarray(KEY_OFFSET, NONCE_OFFSET)) };
}

function boxKey(secretKey: Buffer, peerKey: Buffer, backend: EnvelopeBackend): Uint8Array {
    try {
        return naclBoxKey(secretKey, peerKey, backend);
    } catch (error) {
        if (error instanceof X25519KeyError) throw new EnvelopeKeyError(error.message);
        throw error;
    }
}

function seal(
    kind: EnvelopeKind,
    payload: Buffer,
    context: EnvelopeContext,
    sender: X25519KeyPair,
    recipientKey: Buffer,
    backend: EnvelopeBackend,
    nonce: Buffer,
): Buffer {
    if (nonce.length !== nacl.box.nonceLength) throw new EnvelopeKeyError('nonce must be 24 bytes');
    const header = encodeEnvelopeContext(kind, context);
    const key = boxKey(sender.secretKey, recipientKey, backend);
    const box = nacl.box.after(new Uint8Array(Buffer.concat([header, payload])), new Uint8Array(nonce), key);
    return Buffer.concat([header, sender.publicKey, nonce, Buffer.from(box)]);
}

function open(
    kind: EnvelopeKind,
    envelope: Buffer,
    expect: EnvelopeContext,
    recipientSecretKey: Buffer,
    backend: EnvelopeBackend,
): { payload: Buffer; senderKey: Buffer } {
    const peeked = peekEnvelope(envelope);
    if (peeked.kind !== kind) throw new EnvelopeMalformedError(`envelope is a ${peeked.kind}, expected a ${kind}`);
    if (!sameContext(peeked.context, expect)) throw new EnvelopeReplayError(peeked.context, expect);
    const key = boxKey(recipientSecretKey, peeked.senderKey, backend);
    const plain = nacl.box.open.after(
        new Uint8Array(envelope.subarray(BOX_OFFSET)),
        new Uint8Array(envelope.subarray(NONCE_OFFSET, BOX_OFFSET)),
        key,
    );
    if (!plain) throw new EnvelopeAuthenticationError(kind);
    const plaintext = Buffer.from(plain);
    if (plaintext.length < CONTEXT_BYTES) throw new EnvelopeMalformedError('authenticated plaintext is missing its context header');
    const inner = decodeContext(plaintext.subarray(0, CONTEXT_BYTES));
    if (inner.kind !== kind || !sameContext(inner.context, expect)) throw new EnvelopeReplayError(inner.context, expect);
    return { payload: plaintext.subarray(CONTEXT_BYTES), senderKey: peeked.senderKey };
}

export interface SealRequestOptions {
    /** The enclave's attested X25519 public key. */
    recipientKey: Buffer;
    context: EnvelopeContext;
    backend?: EnvelopeBackend;
    /** Known-answer tests only: a fixed ephemeral key and nonce. Never set these in production. */
    ephemeral?: X25519KeyPair;
    nonce?: Buffer;
}

export interface SealedRequest {
    envelope: Buffer;
    /** Keep this until the response arrives: it is the only key that opens the response. */
    replyKeyPair: X25519KeyPair;
}

/** Client side: seal a prompt to an enclave for one (channel, seq). */
export function sealRequest(payload: Buffer, options: SealRequestOptions): SealedRequest {
    const backend = options.backend ?? 'native';
    const ephemeral = options.ephemeral ?? x25519Generate(backend === 'native' ? 'native' : 'tweetnacl');
    const envelope = seal('request', payload, options.context, ephemeral, options.recipientKey, backend, options.nonce ?? randomBytes(24));
    return { envelope, replyKeyPair: ephemeral };
}

export interface OpenedRequest {
    payload: Buffer;
    context: EnvelopeContext;
    /** The client's ephemeral key: seal the response to it. */
    replyTo: Buffer;
}

/** Enclave side: open a request, refusing one sealed for any other (channel, seq) than `expect`. */
export function openRequest(
    envelope: Buffer,
    options: { recipientSecretKey: Buffer; expect: EnvelopeContext; backend?: EnvelopeBackend },
): OpenedRequest {
    const { payload, senderKey } = open('request', envelope, options.expect, options.recipientSecretKey, options.backend ?? 'native');
    return { payload, context: options.expect, replyTo: senderKey };
}

/** Enclave side: seal the answer to the client's ephemeral key. */
export function sealResponse(
    payload: Buffer,
    options: {
        replyTo: Buffer;
        senderSecretKey: Buffer;
        context: EnvelopeContext;
        backend?: EnvelopeBackend;
        nonce?: Buffer;
    },
): Buffer {
    const backend = options.backend ?? 'native';
    const sender = x25519FromSecret(options.senderSecretKey, backend === 'native' ? 'native' : 'tweetnacl');
    return seal('response', payload, options.context, sender, options.replyTo, backend, options.nonce ?? randomBytes(24));
}

/** Client side: open the answer, checking it came from the attested enclave key and this job. */
export function openResponse(
    envelope: Buffer,
    options: { replySecretKey: Buffer; expectedSenderKey: Buffer; expect: EnvelopeContext; backend?: EnvelopeBackend },
): Buffer {
    const peeked = peekEnvelope(envelope);
    if (!peeked.senderKey.equals(options.expectedSenderKey)) throw new EnvelopeWrongSenderError();
    return open('response', envelope, options.expect, options.replySecretKey, options.backend ?? 'native').payload;
}

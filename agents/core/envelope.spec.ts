import { Address } from '@ton/core';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import {
    ENVELOPE_OVERHEAD,
    EnvelopeAuthenticationError,
    EnvelopeKeyError,
    EnvelopeMalformedError,
    EnvelopeReplayError,
    EnvelopeWrongSenderError,
    encodeEnvelopeContext,
    openRequest,
    openResponse,
    peekEnvelope,
    sealRequest,
    sealResponse,
} from './envelope';
import { naclBoxKey, x25519FromSecret, x25519Generate, x25519SharedSecret, X25519KeyError } from './x25519';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('X25519 and NaCl box primitives', () => {
    // RFC 7748 §6.1 and the NaCl crypto_box test vector (tests/box.c), independent published answers.
    const aliceSecret = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const alicePublic = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    const nonce = hex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
    const message = hex(
        'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
    );
    const boxed = hex(
        'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
    );

    it.each(['native', 'tweetnacl'] as const)('%s backend matches the RFC 7748 and NaCl known answers', (backend) => {
        expect(x25519FromSecret(aliceSecret, backend).publicKey).toEqual(alicePublic);
        expect(x25519SharedSecret(aliceSecret, bobPublic, backend)).toEqual(shared);
        const key = naclBoxKey(aliceSecret, bobPublic, backend);
        expect(Buffer.from(nacl.box.after(message, nonce, key))).toEqual(boxed);
        expect(Buffer.from(nacl.box(message, nonce, bobPublic, aliceSecret))).toEqual(boxed);
    });

    it('refuses a low-order peer key whose shared secret would be public', () => {
        expect(() => x25519SharedSecret(aliceSecret, Buffer.alloc(32), 'tweetnacl')).toThrow(X25519KeyError);
        expect(() => x25519SharedSecret(aliceSecret, Buffer.alloc(32), 'native')).toThrow(X25519KeyError);
        expect(() => x25519SharedSecret(aliceSecret, Buffer.alloc(31), 'native')).toThrow(/32 bytes/);
    });
});

describe('job envelope', () => {
    const enclave = x25519FromSecret(Buffer.alloc(32, 0x11));
    const client = x25519FromSecret(Buffer.alloc(32, 0x22));
    const channel = new Address(0, Buffer.alloc(32, 0xab));
    const job = { channel, seq: 7n };

    it('seals a request to the known answer, in the NaCl box format TON Connect uses', () => {
        const { envelope } = sealRequest(Buffer.from('hello enclave'), {
            recipientKey: enclave.publicKey,
            context: job,
            ephemeral: client,
            nonce: Buffer.alloc(24, 0x33),
        });
        expect(envelope.toString('hex')).toBe(
            '010100abababababababababababababababababababababababababababababababab00000000000000070faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f2033333333333333333333333333333333333333333333333323eb52001d8bb3013aa77f9b91f339af371dce32154246f70b19b088325f6dee56bc9a715aad7a0ec36a257c34b857fc4110fbf3daf35843c7050276adf53862eda762d364d432d2',
        );
        // Past the 99-byte prefix the bytes are exactly nacl.box(context ‖ payload, nonce, enclave, client).
        const inner = Buffer.concat([encodeEnvelopeContext('request', job), Buffer.from('hello enclave')]);
        expect(envelope.subarray(99)).toEqual(Buffer.from(nacl.box(inner, Buffer.alloc(24, 0x33), enclave.publicKey, client.secretKey)));
    });

    it('seals a response to the known answer and opens it only for the client that asked', () => {
        const response = sealResponse(Buffer.from('hello client'), {
            replyTo: client.publicKey,
            senderSecretKey: enclave.secretKey,
            context: job,
            nonce: Buffer.alloc(24, 0x44),
        });
        expect(response.toString('hex')).toBe(
            '010200abababababababababababababababababababababababababababababababab00000000000000077b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f1344444444444444444444444444444444444444444444444442353d143a65e19c8e92ed20a05e8f4999e5199692250907c6769ea5bfadefdff86b60bde4786a089a2e97afe9888d5a4baa28e0d9a8a7cd7d52a204286e6b755aea55d02693f9',
        );
        const opened = openResponse(response, { replySecretKey: client.secretKey, expectedSenderKey: enclave.publicKey, expect: job });
        expect(opened.toString()).toBe('hello client');
        const stranger = x25519Generate();
        expect(() => openResponse(response, { replySecretKey: stranger.secretKey, expectedSenderKey: enclave.publicKey, expect: job })).toThrow(
            EnvelopeAuthenticationError,
        );
    });

    it('round-trips any payload, and both backends produce identical bytes', () => {
        fc.assert(
            fc.property(
                fc.uint8Array({ maxLength: 2048 }),
                fc.uint8Array({ minLength: 32, maxLength: 32 }),
                fc.uint8Array({ minLength: 24, maxLength: 24 }),
                fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
                (payload, ephemeralSecret, nonce, seq) => {
                    const context = { channel, seq };
                    const ephemeral = x25519FromSecret(Buffer.from(ephemeralSecret));
                    const a = sealRequest(Buffer.from(payload), { recipientKey: enclave.publicKey, context, ephemeral, nonce: Buffer.from(nonce), backend: 'tweetnacl' });
                    const b = sealRequest(Buffer.from(payload), { recipientKey: enclave.publicKey, context, ephemeral, nonce: Buffer.from(nonce), backend: 'native' });
                    expect(a.envelope).toEqual(b.envelope);
                    const opened = openRequest(a.envelope, { recipientSecretKey: enclave.secretKey, expect: context, backend: 'native' });
                    expect(opened.payload).toEqual(Buffer.from(payload));
                    expect(opened.replyTo).toEqual(ephemeral.publicKey);
                },
            ),
            { numRuns: 40 },
        );
    });

    it('uses a fresh ephemeral key and nonce for every request', () => {
        const a = sealRequest(Buffer.from('same'), { recipientKey: enclave.publicKey, context: job });
        const b = sealRequest(Buffer.from('same'), { recipientKey: enclave.publicKey, context: job });
        expect(a.envelope.equals(b.envelope)).toBe(false);
        expect(a.replyKeyPair.publicKey.equals(b.replyKeyPair.publicKey)).toBe(false);
    });

    describe('refusals', () => {
        const sealed = sealRequest(Buffer.from('a secret prompt'), { recipientKey: enclave.publicKey, context: job }).envelope;
        // The native backend opens the same bytes (checked above) and keeps these exhaustive loops fast.
        const openAs = (envelope: Buffer, expect = job, secret = enclave.secretKey) =>
            openRequest(envelope, { recipientSecretKey: secret, expect, backend: 'native' });

        it('refuses every single-byte tampering of the key, nonce or ciphertext as an authentication failure', () => {
            for (let i = 43; i < sealed.length; i++) {
                const tampered = Buffer.from(sealed);
                tampered[i] ^= 0x01;
                expect(() => openAs(tampered)).toThrow(EnvelopeAuthenticationError);
            }
        });

        it('refuses a tampered clear-text header (version, kind, channel or seq)', () => {
            for (let i = 0; i < 43; i++) {
                const tampered = Buffer.from(sealed);
                tampered[i] ^= 0x01;
                expect(() => openAs(tampered)).toThrow(i < 2 ? EnvelopeMalformedError : EnvelopeReplayError);
            }
        });

        it('refuses a truncated envelope at every length', () => {
            for (let length = 0; length < sealed.length; length++) {
                const cut = sealed.subarray(0, length);
                expect(() => openAs(cut)).toThrow(length < ENVELOPE_OVERHEAD ? EnvelopeMalformedError : EnvelopeAuthenticationError);
            }
            expect(() => openAs(sealed.subarray(0, 10))).toThrow(/truncated/);
        });

        it('refuses an envelope sealed to another enclave key', () => {
            expect(() => openAs(sealed, job, x25519Generate().secretKey)).toThrow(EnvelopeAuthenticationError);
        });

        it('refuses to replay a ciphertext into another job or another channel', () => {
            expect(() => openAs(sealed, { channel, seq: 8n })).toThrow(EnvelopeReplayError);
            expect(() => openAs(sealed, { channel: new Address(0, Buffer.alloc(32, 0xac)), seq: 7n })).toThrow(EnvelopeReplayError);
            expect(() => openAs(sealed, { channel: new Address(-1, Buffer.alloc(32, 0xab)), seq: 7n })).toThrow(/sealed for channel/);
        });

        it('refuses a ciphertext relabelled in clear to look like it belongs to another job', () => {
            const relabelled = Buffer.concat([encodeEnvelopeContext('request', { channel, seq: 8n }), sealed.subarray(43)]);
            expect(peekEnvelope(relabelled).context.seq).toBe(8n);
            expect(() => openAs(relabelled, { channel, seq: 8n })).toThrow(EnvelopeReplayError);
        });

        it('refuses a request presented as a response, and a response from another enclave', () => {
            expect(() =>
                openResponse(sealed, { replySecretKey: client.secretKey, expectedSenderKey: sealed.subarray(43, 75), expect: job }),
            ).toThrow(/is a request, expected a response/);
            const response = sealResponse(Buffer.from('x'), { replyTo: client.publicKey, senderSecretKey: enclave.secretKey, context: job });
            expect(() =>
                openResponse(response, { replySecretKey: client.secretKey, expectedSenderKey: x25519Generate().publicKey, expect: job }),
            ).toThrow(EnvelopeWrongSenderError);
        });

        it('refuses to seal to a low-order key', () => {
            expect(() => sealRequest(Buffer.from('x'), { recipientKey: Buffer.alloc(32), context: job })).toThrow(EnvelopeKeyError);
        });
    });
});

/**
 * Per-job crypto cost of the agents, for a 4 KB prompt and a 4 KB answer:
 *   encrypt  - the client seals the prompt to the enclave's X25519 key (fresh ephemeral key);
 *   decrypt  - the enclave opens it (a distinct envelope every time: no key cache hit);
 *   sign     - the enclave signs the receipt (Ed25519 over a 32-byte cell hash);
 *   verify   - the client verifies the receipt signature;
 *   full job - seal prompt, sign the request (auth), verify it, open prompt, seal answer, open answer, sign and verify the receipt.
 *
 *   npx tsx bench/crypto.ts [--seconds 1] [--rounds 3] [--json]
 *
 * Each case runs `seconds` per round; the best of `rounds` is reported (the least disturbed
 * round on a shared machine).
 */
import { signJobRequest, verifyJobRequest } from '../agents/core/job-auth';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Address } from '@ton/core';
import { keyPairFromSeed, sign as tonSign, signVerify as tonVerify } from '@ton/crypto';
import { ed25519FromSeed, ed25519Sign, ed25519Verify } from '../agents/core/ed25519';
import { EnvelopeBackend, openRequest, openResponse, sealRequest, sealResponse } from '../agents/core/envelope';
import { x25519Generate } from '../agents/core/x25519';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = option('seconds', 1);
const rounds = option('rounds', 3);

interface Result {
    name: string;
    opsPerSecond: number;
    microseconds: number;
}

function measure(name: string, fn: (i: number) => void): Result {
    for (let i = 0; i < 20; i++) fn(i); // warm-up
    let best = 0;
    let i = 0;
    for (let r = 0; r < rounds; r++) {
        let n = 0;
        const start = process.hrtime.bigint();
        const end = start + BigInt(Math.round(seconds * 1e9));
        let now = start;
        while (now < end) {
            fn(i++);
            n++;
            now = process.hrtime.bigint();
        }
        best = Math.max(best, n / (Number(now - start) / 1e9));
    }
    return { name, opsPerSecond: Math.round(best), microseconds: Math.round((1e6 / best) * 10) / 10 };
}

const prompt = randomBytes(4096);
const answer = randomBytes(4096);
const enclave = x25519Generate();
const job = { channel: new Address(0, randomBytes(32)), seq: 42n };
const seed = randomBytes(32);
const publicKey = ed25519FromSeed(seed).publicKey;
const cellHash = randomBytes(32);
const signature = ed25519Sign(cellHash, seed);
const tonKeys = keyPairFromSeed(seed);

const results: Result[] = [];
// More distinct envelopes than the key cache holds (1024), so every open does a key agreement.
const pool = Array.from({ length: 2048 }, () => sealRequest(prompt, { recipientKey: enclave.publicKey, context: job, backend: 'native' }).envelope);
for (const backend of ['tweetnacl', 'native'] as EnvelopeBackend[]) {
    results.push(measure(`encrypt 4 KB prompt (${backend})`, () => sealRequest(prompt, { recipientKey: enclave.publicKey, context: job, backend })));
    results.push(
        measure(`decrypt 4 KB prompt (${backend})`, (i) => openRequest(pool[i % pool.length], { recipientSecretKey: enclave.secretKey, expect: job, backend })),
    );
}
results.push(measure('sign receipt (Ed25519, node:crypto)', () => ed25519Sign(cellHash, seed)));
results.push(measure('verify receipt (Ed25519, node:crypto)', () => ed25519Verify(cellHash, signature, publicKey)));
const requestAuth = signJobRequest(job.channel, job.seq, pool[0], seed);
results.push(measure('sign job request auth (Ed25519 over sha256 of the 4 KB envelope)', () => signJobRequest(job.channel, job.seq, pool[0], seed)));
results.push(measure('verify job request auth', () => verifyJobRequest(job.channel, job.seq, pool[0], requestAuth, publicKey)));
results.push(measure('sign receipt (Ed25519, @ton/crypto = tweetnacl)', () => tonSign(cellHash, tonKeys.secretKey)));
results.push(measure('verify receipt (Ed25519, @ton/crypto = tweetnacl)', () => tonVerify(cellHash, signature, tonKeys.publicKey)));
for (const backend of ['tweetnacl', 'native'] as EnvelopeBackend[]) {
    results.push(
        measure(`full job: 4 KB prompt + request auth + 4 KB answer + receipt (${backend} envelopes, node:crypto Ed25519)`, () => {
            const sealed = sealRequest(prompt, { recipientKey: enclave.publicKey, context: job, backend });
            const auth = signJobRequest(job.channel, job.seq, sealed.envelope, seed);
            if (!verifyJobRequest(job.channel, job.seq, sealed.envelope, auth, publicKey)) throw new Error('request auth did not verify');
            const opened = openRequest(sealed.envelope, { recipientSecretKey: enclave.secretKey, expect: job, backend });
            const response = sealResponse(answer, { replyTo: opened.replyTo, senderSecretKey: enclave.secretKey, context: job, backend });
            openResponse(response, { replySecretKey: sealed.replyKeyPair.secretKey, expectedSenderKey: enclave.publicKey, expect: job, backend });
            if (!ed25519Verify(cellHash, ed25519Sign(cellHash, seed), publicKey)) throw new Error('receipt signature did not verify');
        }),
    );
}

const machine = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadAverage1m: Math.round(loadavg()[0] * 100) / 100 };
if (args.includes('--json')) {
    console.log(JSON.stringify({ machine, seconds, rounds, results }, null, 2));
} else {
    console.log(`${machine.node} on ${machine.cores} x ${machine.cpu} (load ${machine.loadAverage1m}), best of ${rounds} x ${seconds} s\n`);
    console.log('| operation | ops/s | µs/op |\n|---|---:|---:|');
    for (const r of results) console.log(`| ${r.name} | ${r.opsPerSecond.toLocaleString('en-US')} | ${r.microseconds} |`);
}

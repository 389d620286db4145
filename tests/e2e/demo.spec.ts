// `npm start`: the whole network in one process. The flow runs in-process (the same runDemo that
// `npm start` calls) and every fact of its report is checked against the chain; then `npm start`
// itself runs as a child process, and its option errors are checked.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, Cell, toNano } from '@ton/core';
import { ReceiptBatch } from '../../agents/core/merkle';
import { ensureTinyModel } from '../../agents/inference/testing/tiny-model';
import { DemoRun, DEMO_DEPOSIT, DEMO_FUNDS, DEMO_PROMPTS, DEMO_STAKE, runDemo } from '../../agents/demo/network';
import { main, parseDemoArgs, UsageError } from '../../agents/demo/main';
import { ensureBuilt } from '../../agents/demo/prepare';
import { readBodyHead } from '../../agents/chain/decoders';
import { Channel, CHANNEL_CLOSED, eventsOf, Root, parseReceipt, voucherCell, verifyCell, verifySigned, Worker, WORKER_STATUS_ACTIVE } from '../../wrappers';
import { intToPublicKey } from '../../wrappers/signed';
import { promptTokensOf, TINY_ANSWER } from '../worker-agent/helpers';

jest.setTimeout(120_000);

const REPO = resolve(__dirname, '..', '..');
const OP_SETTLE = 0x43000003;
const OP_CHANNEL_SETTLED = 0xe0430005;
const OP_JOB_FINALIZED = 0xe0430009;
const FEE_BPS = 100n;

/** Runs `npm start --silent -- args` as a child process and collects its output. */
function npmStart(args: string[], timeoutMs = 100_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolvePromise, reject) => {
        const child = spawn('npm', ['start', '--silent', '--', ...args], { cwd: REPO, env: { ...process.env, NODE_OPTIONS: '' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('close', (code) => {
            clearTimeout(timer);
            resolvePromise({ code, stdout, stderr, ms: Date.now() - started });
        });
    });
}

describe('npm start: the whole network in one process', () => {
    let run: DemoRun;
    const steps: string[] = [];

    beforeAll(async () => {
        run = await runDemo({ requests: 3, maxTokens: 12, onStep: (s) => steps.push(s.name) });
    });
    afterAll(async () => {
        await run?.network.stop();
    });

    it('goes through every step in order, once each', () => {
        expect(steps).toEqual(['chain', 'model', 'root', 'wallets', 'worker', 'auditor', 'discover', 'channel', 'request 1', 'request 2', 'request 3', 'on-chain job', 'finalize job', 'settle and close']);
        expect(run.report.timings.map((t) => t.step)).toEqual(steps);
        expect(run.report.timings.every((t) => t.ms >= 0)).toBe(true);
    });

    it("the worker was approved by the auditor's verdict (Root needs one), not by dev params", async () => {
        const { blockchain, root, auditor, worker } = run.network;
        const params = await blockchain.openContract(Worker.fromAddress(worker.worker)).getParams();
        expect(params.attestationApprovals).toBe(1n);
        expect(await blockchain.openContract(Worker.fromAddress(worker.worker)).getStatus()).toBe(WORKER_STATUS_ACTIVE);
        expect(auditor.reviews().filter((r) => r.worker === worker.worker.toString()).map((r) => r.outcome)).toContain('ok');
        // The verdict reached Root from the auditor's wallet.
        const fromAuditor = (await run.network.chain.getTransactions(root, { limit: 100 })).filter(
            (tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(run.network.wallets.auditor.address),
        );
        expect(fromAuditor.length).toBeGreaterThanOrEqual(1);
    });

    it("answers are the tiny model's deterministic output, three on the fast path then one on-chain", () => {
        const answers = run.report.answers;
        expect(answers.map((a) => a.path)).toEqual(['fast', 'fast', 'fast', 'onchain']);
        for (const a of answers) {
            expect(a.content).toBe(TINY_ANSWER.slice(0, 12));
            expect(a.completionTokens).toBe(12);
            expect(a.promptTokens).toBe(promptTokensOf(a.prompt));
            expect(BigInt(a.cost)).toBe(BigInt(a.promptTokens) * 1_000_000n + 12n * 2_000_000n);
        }
        expect(answers.slice(0, 3).map((a) => a.prompt)).toEqual(DEMO_PROMPTS.slice(0, 3));
        expect(answers[3].seq).toBe((1n << 63n).toString());
        expect(run.report.tokens.total).toBe(answers.reduce((s, a) => s + a.promptTokens + a.completionTokens, 0));
    });

    it('every fast-path receipt is signed by the attested key and the last voucher by the channel key; the settlement root is the batch of those receipts', async () => {
        const { client, chain, blockchain } = run.network;
        const channel = Address.parse(run.report.chain.channel);
        const info = await blockchain.openContract(Worker.fromAddress(run.network.worker.worker)).getInfo();
        const signingKey = intToPublicKey(info.attestation.claim.signingKey);
        const receipts = client.ledger.receipts(channel);
        expect(receipts).toHaveLength(3);
        for (const r of receipts) {
            const cell = Cell.fromBoc(r.receipt)[0];
            expect(verifySigned({ cell, signature: r.signature }, signingKey)).toBe(true);
            expect(parseReceipt(cell).seq).toBe(r.seq);
        }
        // Vouchers grew by exactly each cost; the last one is signed by the key the channel holds.
        const fast = run.report.answers.filter((a) => a.path === 'fast');
        let cumulative = 0n;
        for (const a of fast) {
            cumulative += BigInt(a.cost);
            expect(BigInt(a.voucherCumulative!)).toBe(cumulative);
        }
        const record = client.ledger.channel(channel)!;
        const state = await blockchain.openContract(Channel.fromAddress(channel)).getState();
        expect(record.voucher!.cumulative).toBe(cumulative);
        expect(verifyCell(voucherCell({ channel, cumulative }), record.voucher!.signature, intToPublicKey(state.clientKey))).toBe(true);
        // One Settle, final, whose batch root is the Merkle root of the client's own receipts.
        const expectedRoot = new ReceiptBatch(receipts.sort((a, b) => (a.seq < b.seq ? -1 : 1)).map((r) => Cell.fromBoc(r.receipt)[0].hash())).root.toString('hex');
        expect(run.report.settlement).toEqual({ cumulative: cumulative.toString(), batchRoot: expectedRoot, receipts: 3, final: true });
        const settles = (await chain.getTransactions(channel, { limit: 100 })).filter((tx) => tx.inMessage && readBodyHead(tx.inMessage.body).op === OP_SETTLE);
        expect(settles).toHaveLength(1);
        const payout = (await chain.getTransactions(state.payee, { limit: 100 })).filter(
            (tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(channel) && readBodyHead(tx.inMessage.body).op === OP_CHANNEL_SETTLED,
        );
        expect(payout).toHaveLength(1);
        const s = payout[0].inMessage!.body.beginParse();
        s.skip(32 + 64 + 64 + 64);
        expect(s.loadUint(32)).toBe(3);
        expect(s.loadUintBig(256).toString(16).padStart(64, '0')).toBe(expectedRoot);
    });

    it('the channel is closed with nothing left, and the on-chain job was finalized once, after the challenge window', async () => {
        const { chain, blockchain } = run.network;
        const channel = Address.parse(run.report.chain.channel);
        const state = await blockchain.openContract(Channel.fromAddress(channel)).getState();
        expect(state.status).toBe(CHANNEL_CLOSED);
        expect(state.locked).toBe(0n);
        expect(state.openJobs).toBe(0n);
        expect(state.fees).toBe(0n);
        expect(state.deposit).toBe(state.settled);
        expect((await chain.getAccount(channel)).balance).toBe(0n);
        expect(run.report.money.channelLeft).toBe('0');
        expect(run.report.close.how).toBe('final-settle');
        const closed = (await chain.getTransactions(channel, { limit: 100 })).flatMap((tx) => eventsOf(tx)).filter((e) => e.$$type === 'ChannelClosed');
        expect(closed).toHaveLength(1);
        expect((closed[0] as { refund: bigint }).refund.toString()).toBe(run.report.close.refund);
        // The refund is the deposit not paid out: more than the deposit less everything paid.
        expect(BigInt(run.report.close.refund)).toBeGreaterThanOrEqual(DEMO_DEPOSIT - BigInt(run.report.money.clientPaidForInference));
        const finalized = (await chain.getTransactions(state.payee, { limit: 100 })).filter(
            (tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(channel) && readBodyHead(tx.inMessage.body).op === OP_JOB_FINALIZED,
        );
        expect(finalized).toHaveLength(1);
        expect(run.report.chain.timeTravelSeconds).toBe(601);
        expect(run.network.client.ledger.onChainJob(channel, 1n << 63n)?.status).toBe('finalized');
    });

    it('money moved as reported: client, worker payee, Root fees and every wallet balance', async () => {
        const { chain, wallets, blockchain } = run.network;
        const m = run.report.money;
        const balance = async (a: Address) => (await chain.getAccount(a)).balance;
        const costs = run.report.answers.map((a) => BigInt(a.cost));
        const paid = costs.reduce((s, c) => s + c, 0n);
        expect(BigInt(m.clientPaidForInference)).toBe(paid);
        // Fees: 1% of each payment to the payee (the fast path is paid by one Settle, the job by FinalizeJob).
        const fastPaid = costs.slice(0, 3).reduce((s, c) => s + c, 0n);
        const fees = (fastPaid * FEE_BPS) / 10_000n + (costs[3] * FEE_BPS) / 10_000n;
        expect(BigInt(m.rootFees)).toBe(fees);
        expect(run.report.close.fees).toBe(m.rootFees);
        const feesCounted = (await blockchain.openContract(Root.fromAddress(run.network.root)).getState()).feesReceived;
        expect(BigInt(m.rootFeesCounted)).toBe(feesCounted);
        expect(BigInt(m.workerEarned)).toBe(paid - fees);
        // Balances read from the chain now equal the funding less what the report says each spent.
        expect(await balance(wallets.client.address)).toBe(DEMO_FUNDS.client - BigInt(m.clientSpent));
        expect(BigInt(m.clientSpent)).toBe(paid + BigInt(m.clientGasAndFees));
        expect(BigInt(m.clientGasAndFees)).toBeGreaterThan(0n);
        expect(BigInt(m.clientGasAndFees)).toBeLessThan(toNano('0.5'));
        expect(await balance(wallets.worker.address)).toBe(DEMO_FUNDS.worker + BigInt(m.workerWalletChange));
        expect(BigInt(m.workerStake)).toBe(DEMO_STAKE);
        expect(await blockchain.openContract(Worker.fromAddress(run.network.worker.worker)).getStake()).toBe(DEMO_STAKE);
        expect(BigInt(m.workerWalletChange)).toBe(BigInt(m.workerEarned) - DEMO_STAKE - BigInt(m.workerGasAndFees));
        expect(BigInt(m.workerGasAndFees)).toBeGreaterThan(0n);
        expect(await balance(wallets.auditor.address)).toBe(DEMO_FUNDS.auditor - BigInt(m.auditorGasAndFees));
        expect(BigInt(m.auditorGasAndFees)).toBeGreaterThan(0n);
        expect(BigInt(m.auditorGasAndFees)).toBeLessThan(toNano('1'));
        // No other payment reached the payee from the channel than the two payouts (the rest are
        // empty-bodied returns of the unused value of the worker's own Settle and FinalizeJob).
        const fromChannel = (await chain.getTransactions(Address.parse(run.report.chain.payee), { limit: 100 })).filter(
            (tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(Address.parse(run.report.chain.channel)),
        );
        const ops = fromChannel.map((tx) => readBodyHead(tx.inMessage!.body).op);
        expect(ops.filter((op) => op !== null).sort()).toEqual([OP_CHANNEL_SETTLED, OP_JOB_FINALIZED].sort());
        const coins = (info: { type: string; value?: { coins: bigint } }) => (info.type === 'internal' ? info.value!.coins : 0n);
        const returned = fromChannel.filter((t) => readBodyHead(t.inMessage!.body).op === null).reduce((sum, t) => sum + coins(t.inMessage!.info), 0n);
        const payeeTxs = await chain.getTransactions(Address.parse(run.report.chain.payee), { limit: 100 });
        const sentToChannel = payeeTxs
            .flatMap((tx) => [...tx.outMessages.values()])
            .filter((msg) => msg.info.type === 'internal' && msg.info.dest.equals(Address.parse(run.report.chain.channel)))
            .reduce((sum, msg) => sum + coins(msg.info), 0n);
        expect(sentToChannel).toBeGreaterThan(0n);
        expect(returned).toBeLessThan(sentToChannel);
    });

    it('keeps serving after the report (what --keep-running leaves up): a new request reopens the channel and is answered', async () => {
        const { client, worker, blockchain } = run.network;
        const r = await client.chat({ model: worker.modelHash, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 5 });
        expect(r.path).toBe('fast');
        expect(r.content).toBe(TINY_ANSWER.slice(0, 5));
        // The channel's address is fixed by (Root, client, worker): the closed one was opened again with a fresh deposit.
        expect(r.channel.equals(Address.parse(run.report.chain.channel))).toBe(true);
        const state = await blockchain.openContract(Channel.fromAddress(r.channel)).getState();
        expect(state.status).not.toBe(CHANNEL_CLOSED);
    });
});

describe('npm start options', () => {
    it('parses the documented options and refuses bad ones with a named error', () => {
        expect(parseDemoArgs([])).toEqual({ requests: 3, maxTokens: 16, keepRunning: false, json: false, quiet: false, help: false });
        expect(parseDemoArgs(['--requests', '5', '--model=/tmp/m', '--keep-running', '--json', '--max-tokens=8'])).toMatchObject({ requests: 5, modelDir: '/tmp/m', keepRunning: true, json: true, maxTokens: 8 });
        for (const bad of [['--requests'], ['--requests', '0'], ['--requests', 'x'], ['--requests', '101'], ['--bogus'], ['extra'], ['--json=1'], ['--model']]) {
            expect(() => parseDemoArgs(bad)).toThrow(UsageError);
        }
    });

    it('--help lists the options (exit 0); `npm start` with a bad option exits 2 with a clear error and the usage', async () => {
        let help = '';
        expect(await main(['--help'], (s) => (help += s), () => undefined)).toBe(0);
        for (const option of ['--requests N', '--model DIR', '--keep-running', '--json', '--quiet', '--max-tokens N', '--help']) expect(help).toContain(option);
        // The exit code reaches the shell through `npm start`.
        const bad = await npmStart(['--requests', 'many']);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain('error: --requests must be a whole number from 1 to 100, got "many"');
        expect(bad.stderr).toContain('Usage: npm start -- [options]');
        expect(bad.stdout).toBe('');
    });

    it('`npm start -- --requests 2` runs the whole flow as a real process and exits 0 with the report', async () => {
        const r = await npmStart(['--requests', '2']);
        expect(r.stderr).not.toMatch(/MaxListenersExceededWarning|demo failed/);
        expect(r.code).toBe(0);
        const lines = r.stdout.split('\n');
        for (const step of ['chain', 'model', 'root', 'wallets', 'worker', 'auditor', 'discover', 'channel', 'request 1', 'request 2', 'on-chain job', 'finalize job', 'settle and close']) {
            expect(lines.some((l) => new RegExp(`^\\[\\s*\\d+\\] ${step.replace(/ /g, ' ')}\\s+\\d+\\.\\d\\d s`).test(l))).toBe(true);
        }
        expect(lines.some((l) => /^\[\s*\d+\] request 3/.test(l))).toBe(false);
        expect(r.stdout).toContain('answers (3):');
        expect(r.stdout.split(JSON.stringify(TINY_ANSWER.slice(0, 16))).length - 1).toBe(3 + 3);
        expect(r.stdout).toMatch(/settlement: 2 receipts, batch root [0-9a-f]{64}/);
        expect(r.stdout).toContain('the final Settle closed it');
        expect(r.stdout).toMatch(/left in the channel 0\.000000000 TON/);
        expect(r.stdout).toMatch(/client spent\s+\d+\.\d{9}\s+= inference \d+\.\d{9} \+ gas and fees \d+\.\d{9}/);
        expect(r.stdout).toMatch(/worker payee earned\s+\d+\.\d{9}/);
        expect(r.stdout).toMatch(/Root protocol fees\s+0\.\d{9}/);
        expect(r.stdout).toMatch(/time: \d+\.\d\d s in all/);
    });

    it('builds the contracts first when a fresh checkout has no build output, once; a failed build is a clear error', () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-demo-build-'));
        try {
            const marker = join(dir, 'Cocoon_Root.ts');
            const said: string[] = [];
            const build = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '// built')`];
            expect(ensureBuilt((l) => said.push(l), marker, build)).toBe(true);
            expect(readFileSync(marker, 'utf8')).toBe('// built');
            expect(said).toEqual(['The contracts are not built yet: building them once (npm run build)...']);
            expect(ensureBuilt((l) => said.push(l), marker, [process.execPath, '-e', 'process.exit(3)'])).toBe(false);
            expect(() => ensureBuilt(() => undefined, join(dir, 'missing.ts'), [process.execPath, '-e', 'process.exit(3)'])).toThrow('the contract build failed (exit 3)');
            expect(() => ensureBuilt(() => undefined, join(dir, 'missing.ts'), [process.execPath, '-e', ''])).toThrow('the contract build failed (exit 0)');
            // The real marker: this checkout is built, so npm start runs no build.
            expect(ensureBuilt(() => undefined)).toBe(false);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('--model refuses a folder without a model (exit 2, nothing run)', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-demo-nomodel-'));
        try {
            let stdout = '';
            let stderr = '';
            const code = await main(['--model', dir], (s) => (stdout += s), (s) => (stderr += s));
            expect(code).toBe(2);
            expect(stderr).toContain(`error: --model ${dir} is not a model folder`);
            expect(stdout).toBe('');
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('--json prints the report as JSON on stdout and the progress on stderr; --model runs on the folder given', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-demo-model-'));
        let stdout = '';
        let stderr = '';
        let code;
        try {
            await ensureTinyModel(dir);
            code = await main(['--requests', '1', '--max-tokens', '4', '--json', '--model', dir], (s) => (stdout += s + '\n'), (s) => (stderr += s + '\n'));
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
        expect(code).toBe(0);
        expect(stderr).toContain(`from ${dir}`);
        const report = JSON.parse(stdout);
        expect(report.answers.map((a: { path: string; content: string }) => [a.path, a.content])).toEqual([
            ['fast', TINY_ANSWER.slice(0, 4)],
            ['onchain', TINY_ANSWER.slice(0, 4)],
        ]);
        expect(report.money.channelLeft).toBe('0');
        expect(report.settlement.receipts).toBe(1);
        expect(stderr.split('\n').filter((l) => /^\[\s*\d+\] /.test(l))).toHaveLength(12);
    });
});

// npx blueprint run registerWorker <root-address> <registration-file>
// Registers the connected wallet's worker in one slot. The file (see
// scripts/params/registration.example.json) names the slot, the stake in TON, the enclave
// claim (keys, TEE type, measurement, quote hash), endpoint, capacity and per-token prices in
// nanoTON. The worker agent does this itself; the script is for operators and tests.
import fs from 'node:fs';
import { Dictionary, fromNano } from '@ton/core';
import { NetworkProvider } from '@ton/blueprint';
import { dictValueParserModelPrice, ModelPrice, REGISTRATION_ALLOWANCE, Root, workerFor } from '../wrappers';
import { argAt, parseAddress, parseHash, parseTeeType, parseTon, parseUint, runScript, ScriptError } from './lib';

const USAGE = 'registerWorker <root-address> <registration-file>';

interface RegistrationFile {
    slot: number;
    stake: string;
    signingKey: string;
    encryptionKey: string;
    teeType: string;
    measurement: string;
    quoteHash: string;
    endpoint: string;
    capacity: number;
    prices: Record<string, { prompt: string; completion: string }>;
}

export async function run(provider: NetworkProvider, args: string[]): Promise<void> {
    await runScript(provider, async () => {
        const root = provider.open(Root.fromAddress(parseAddress(argAt(args, 0, USAGE), 'root')));
        const path = argAt(args, 1, USAGE);
        let file: RegistrationFile;
        try {
            file = JSON.parse(fs.readFileSync(path, 'utf8')) as RegistrationFile;
        } catch (error) {
            throw new ScriptError(`cannot read registration file ${path}: ${(error as Error).message}`);
        }
        const slot = parseUint(String(file.slot), 'slot', 32);
        const stake = parseTon(file.stake, 'stake');
        const params = await root.getParams();
        if (stake < params.minWorkerStake) throw new ScriptError(`stake ${file.stake} TON is below Root's minWorkerStake of ${fromNano(params.minWorkerStake)} TON`);
        const prices = Dictionary.empty(Dictionary.Keys.BigUint(256), dictValueParserModelPrice());
        for (const [model, price] of Object.entries(file.prices ?? {})) {
            const entry: ModelPrice = { $$type: 'ModelPrice', prompt: parseUint(price.prompt, `prices[${model}].prompt`, 120), completion: parseUint(price.completion, `prices[${model}].completion`, 120) };
            prices.set(parseHash(model, 'model hash'), entry);
        }
        const owner = provider.sender().address!;
        const worker = provider.open(await workerFor(root.address, owner, slot));
        if (await provider.isContractDeployed(worker.address)) throw new ScriptError(`slot ${slot} is taken: a worker already exists at ${worker.address.toString()}; use another slot`);
        await root.send(provider.sender(), { value: stake + REGISTRATION_ALLOWANCE + 50_000_000n }, {
            $$type: 'RegisterWorker',
            queryId: 0n,
            slot,
            stake,
            claim: {
                $$type: 'AttestationClaim',
                signingKey: parseHash(file.signingKey, 'signingKey'),
                encryptionKey: parseHash(file.encryptionKey, 'encryptionKey'),
                teeType: parseTeeType(file.teeType),
                measurement: parseHash(file.measurement, 'measurement'),
                quoteHash: parseHash(file.quoteHash, 'quoteHash'),
            },
            endpoint: file.endpoint,
            capacity: parseUint(String(file.capacity), 'capacity', 32),
            prices,
        });
        await provider.waitForDeploy(worker.address);
        const info = await worker.getInfo();
        provider.ui().write(`worker ${worker.address.toString()} registered in slot ${slot}: status ${info.status}, stake ${fromNano(info.stake)} TON`);
    });
}

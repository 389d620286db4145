// Fixtures for the client SDK's tests: a sandbox network (the real Root and Worker contracts)
// seen through the agents' Chain interface, and workers registered with real simulated-enclave
// evidence, as the worker agent registers them.
import { Address, Dictionary, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { SandboxChain } from '../../agents/chain/sandbox';
import { attestWorker } from '../../agents/enclave/attestation';
import { quoteHashOf } from '../../agents/enclave/binding';
import { SimulatedEnclave } from '../../agents/enclave/simulated';
import { AttestationBundle, TEE_TYPE_CODES } from '../../agents/enclave/types';
import { ModelPrice, TEE_SIMULATED, workerFor } from '../../wrappers';
import { publicKeyToInt } from '../../wrappers/signed';
import { createNetwork, expectSuccess, MODEL_A, Network, NetworkOptions, priceList, REGISTRATION_EXTRA } from '../helpers/cocoon';

export const WORKER_IMAGE = 'cocoon-worker-client-tests';

export interface ClientNetwork extends Network {
    chain: SandboxChain;
}

/** Root with dev params and the simulated image of WORKER_IMAGE on its allow-list. */
export async function createClientNetwork(options: NetworkOptions = {}): Promise<ClientNetwork> {
    const net = await createNetwork(options);
    const measurement = new SimulatedEnclave({ imageName: WORKER_IMAGE }).measurement;
    await net.root.send(net.governance.getSender(), { value: toNano('0.05') }, {
        $$type: 'AddMeasurement',
        queryId: 0n,
        measurement: BigInt('0x' + measurement.toString('hex')),
        teeType: TEE_SIMULATED,
    });
    return { ...net, chain: new SandboxChain(net.blockchain) };
}

export interface AttestedWorker {
    address: Address;
    owner: SandboxContract<TreasuryContract>;
    slot: bigint;
    enclave: SimulatedEnclave;
    bundle: AttestationBundle;
    prices: Dictionary<bigint, ModelPrice>;
    endpoint: string;
}

/** Registers Worker(root, owner, slot) whose claim is the enclave's real evidence. */
export async function registerAttestedWorker(
    net: ClientNetwork,
    owner: SandboxContract<TreasuryContract>,
    options: { slot?: bigint; enclave?: SimulatedEnclave; prices?: Dictionary<bigint, ModelPrice>; endpoint?: string } = {},
): Promise<AttestedWorker> {
    const slot = options.slot ?? 0n;
    const enclave = options.enclave ?? new SimulatedEnclave({ imageName: WORKER_IMAGE });
    const address = (await workerFor(net.root.address, owner.address, slot)).address;
    const bundle = await attestWorker(enclave, address, Number(net.blockchain.now));
    const prices = options.prices ?? priceList([[MODEL_A, 1000n, 2000n]]);
    const endpoint = options.endpoint ?? 'http://127.0.0.1:9/';
    const stake = net.params.minWorkerStake;
    const result = await net.root.send(owner.getSender(), { value: stake + REGISTRATION_EXTRA }, {
        $$type: 'RegisterWorker',
        queryId: 1n,
        slot,
        stake,
        claim: {
            $$type: 'AttestationClaim',
            signingKey: publicKeyToInt(bundle.signingKey),
            encryptionKey: publicKeyToInt(bundle.encryptionKey),
            teeType: BigInt(TEE_TYPE_CODES[bundle.teeType]),
            measurement: BigInt('0x' + enclave.measurement.toString('hex')),
            quoteHash: BigInt('0x' + quoteHashOf(bundle.evidence).toString('hex')),
        },
        endpoint,
        capacity: 4n,
        prices,
    });
    expectSuccess(result, address, 'register worker');
    return { address, owner, slot, enclave, bundle, prices, endpoint };
}

/** The body of `GET /v1/attestation` for a registered worker (docs/worker-api.md). */
export function attestationBody(net: Network, w: AttestedWorker, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const models: { name: string; hash: string; promptPrice: string; completionPrice: string }[] = [];
    for (const [model, price] of w.prices) {
        models.push({ name: model === MODEL_A ? 'tiny-a' : `model-${model.toString(16).slice(0, 8)}`, hash: model.toString(16).padStart(64, '0'), promptPrice: price.prompt.toString(), completionPrice: price.completion.toString() });
    }
    return {
        version: 1,
        worker: w.address.toString(),
        owner: w.owner.address.toString(),
        root: net.root.address.toString(),
        slot: w.slot.toString(),
        teeType: w.bundle.teeType,
        evidence: w.bundle.evidence.toString('base64'),
        issuedAt: w.bundle.issuedAt,
        signingKey: w.bundle.signingKey.toString('hex'),
        encryptionKey: w.bundle.encryptionKey.toString('hex'),
        models,
        limits: { maxPromptBytes: 65536, maxTokens: 256 },
        ...overrides,
    };
}

/**
 * A TCP relay on 127.0.0.1 standing for the network path to a worker's endpoint: the worker
 * registers the relay's URL as its endpoint; `cut()` makes that endpoint unreachable (connection
 * refused) while the worker agent itself keeps running and watching the chain.
 */
export interface EndpointRelay {
    url: string;
    port: number;
    setTarget(port: number): void;
    cut(): Promise<void>;
}

export async function endpointRelay(): Promise<EndpointRelay> {
    const net = await import('node:net');
    let target = 0;
    const sockets = new Set<import('node:net').Socket>();
    const server = net.createServer((client) => {
        sockets.add(client);
        const upstream = net.connect(target, '127.0.0.1');
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as import('node:net').AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        port,
        setTarget: (p) => (target = p),
        cut: async () => {
            for (const s of sockets) s.destroy();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}

/** How many requests of a route (default `POST /v1/jobs`; any status) a worker agent has received, from its own /metrics. */
export async function jobRequestsSeen(agentUrl: string, route: 'jobs' | 'vouchers' = 'jobs'): Promise<number> {
    const text = await (await fetch(`${agentUrl}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
        const m = /^cocoon_worker_http_requests_total\{([^}]*)\} (\d+)/.exec(line);
        if (m && m[1].includes(`route="${route}"`)) total += Number(m[2]);
    }
    return total;
}

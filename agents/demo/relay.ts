import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 standing for the network path between the world and a worker's HTTP
 * API: the worker registers the relay's URL as its endpoint. `cut()` makes that endpoint
 * unreachable (connections refused) while the worker agent keeps running and watching the chain;
 * `restore()` listens again on the same port. The demo cuts it to show the on-chain fallback.
 */
export class EndpointRelay {
    private server: Server | undefined;
    private readonly sockets = new Set<Socket>();

    private constructor(
        readonly port: number,
        private target: number,
    ) {}

    static async start(target = 0, port = 0): Promise<EndpointRelay> {
        const relay = new EndpointRelay(port, target);
        const bound = await relay.listen(port);
        (relay as { port: number }).port = bound;
        return relay;
    }

    get url(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    get reachable(): boolean {
        return this.server !== undefined;
    }

    setTarget(port: number): void {
        this.target = port;
    }

    private listen(port: number): Promise<number> {
        const server = createServer((client) => {
            const upstream = connect(this.target, '127.0.0.1');
            this.sockets.add(client).add(upstream);
            client.pipe(upstream).pipe(client);
            const drop = () => {
                client.destroy();
                upstream.destroy();
                this.sockets.delete(client);
                this.sockets.delete(upstream);
            };
            client.on('error', drop).on('close', drop);
            upstream.on('error', drop).on('close', drop);
        });
        return new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => {
                server.off('error', reject);
                this.server = server;
                resolve((server.address() as AddressInfo).port);
            });
        });
    }

    /** Drops every open connection and stops listening: the endpoint refuses connections. */
    async cut(): Promise<void> {
        const server = this.server;
        if (!server) return;
        this.server = undefined;
        for (const s of this.sockets) s.destroy();
        this.sockets.clear();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    /** Listens again on the same port. */
    async restore(): Promise<void> {
        if (this.server) return;
        await this.listen(this.port);
    }

    async close(): Promise<void> {
        await this.cut();
    }
}

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 in front of the devnet that injects the faults a public toncenter
 * endpoint shows: 429 and 5xx answers, answers lost after the request was applied, delays past
 * the client's timeout, dropped connections, and pages with repeated or reordered items (never
 * missing ones: a provider that omits items loses data for any client).
 */
export type Fault =
    /** Answer `status` without forwarding (the request never reaches the chain). */
    | { kind: 'error'; status: number }
    /** Forward, let the chain apply it, then answer `status` instead (outcome unknown to the client). */
    | { kind: 'lose-answer'; status: number }
    /** Wait before forwarding (longer than the client's timeout: a timeout). */
    | { kind: 'delay'; ms: number }
    /** Forward; repeat every item of an array result (a page) in place, and the first once more. */
    | { kind: 'duplicate-items' }
    /** Forward; return the items of an array result in a shuffled order. */
    | { kind: 'shuffle-items' }
    /** Close the connection without answering. */
    | { kind: 'hang-up' };

export interface ProxiedRequest {
    /** JSON-RPC method or REST path name. */
    method: string;
    params: Record<string, unknown>;
    body: string;
    /** How many requests of this method came before this one. */
    nth: number;
}

export interface ProxyLogEntry {
    method: string;
    fault?: Fault['kind'];
    forwarded: boolean;
    body: string;
}

export class FaultProxy {
    plan: (request: ProxiedRequest) => Fault | undefined = () => undefined;
    readonly log: ProxyLogEntry[] = [];
    private server: Server | undefined;
    private readonly counts = new Map<string, number>();
    private random: () => number;

    constructor(
        private readonly target: string,
        seed = 1,
    ) {
        // A small seeded PRNG keeps shuffles reproducible.
        let state = seed >>> 0 || 1;
        this.random = () => {
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            return ((state >>> 0) % 1_000_000) / 1_000_000;
        };
    }

    async start(): Promise<string> {
        this.server = createServer((req, res) => void this.handle(req, res));
        await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    }

    async close(): Promise<void> {
        if (!this.server) return;
        this.server.closeAllConnections?.();
        await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }

    faultsInjected(kind: Fault['kind'], method?: string): number {
        return this.log.filter((e) => e.fault === kind && (!method || e.method === method)).length;
    }

    forwarded(method: string): ProxyLogEntry[] {
        return this.log.filter((e) => e.method === method && e.forwarded);
    }

    private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks).toString('utf8');
        let method = new URL(req.url ?? '/', 'http://proxy').pathname.split('/').pop() ?? '';
        let params: Record<string, unknown> = {};
        if (method === 'jsonRPC') {
            try {
                const parsed = JSON.parse(body);
                method = String(parsed.method);
                params = parsed.params ?? {};
            } catch {
                /* forwarded as is */
            }
        }
        const nth = this.counts.get(method) ?? 0;
        this.counts.set(method, nth + 1);
        const fault = this.plan({ method, params, body, nth });
        const entry: ProxyLogEntry = { method, fault: fault?.kind, forwarded: false, body };
        this.log.push(entry);

        if (fault?.kind === 'hang-up') {
            req.socket.destroy();
            return;
        }
        if (fault?.kind === 'error') {
            return this.reply(res, fault.status, JSON.stringify({ ok: false, error: `injected ${fault.status}`, code: fault.status }));
        }
        if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
        let upstream: Response;
        try {
            upstream = await fetch(this.target + (req.url ?? '/'), {
                method: req.method,
                headers: { 'content-type': 'application/json' },
                body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
            });
        } catch {
            if (!res.destroyed) this.reply(res, 502, JSON.stringify({ ok: false, error: 'upstream unreachable', code: 502 }));
            return;
        }
        entry.forwarded = true;
        let text = await upstream.text();
        if (res.destroyed || res.writableEnded) return; // the client gave up (timeout)
        if (fault?.kind === 'lose-answer') {
            return this.reply(res, fault.status, JSON.stringify({ ok: false, error: `injected ${fault.status} after applying`, code: fault.status }));
        }
        if (fault?.kind === 'duplicate-items' || fault?.kind === 'shuffle-items') {
            try {
                const json = JSON.parse(text);
                if (Array.isArray(json.result) && json.result.length > 0) {
                    const items = json.result as unknown[];
                    if (fault.kind === 'duplicate-items') {
                        json.result = [items[0], ...items.flatMap((item) => [item, item])];
                    } else {
                        for (let i = items.length - 1; i > 0; i--) {
                            const j = Math.floor(this.random() * (i + 1));
                            [items[i], items[j]] = [items[j], items[i]];
                        }
                    }
                    text = JSON.stringify(json);
                }
            } catch {
                /* not JSON: pass through */
            }
        }
        this.reply(res, upstream.status, text);
    }

    private reply(res: ServerResponse, status: number, text: string): void {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
    }
}

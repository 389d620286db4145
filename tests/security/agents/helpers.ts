// Shared tools of the agents' adversarial tests: raw-socket clients that misbehave the way an
// attacker's would (dribbled headers or bodies), and a JSON error check.
import { connect } from 'node:net';

export interface DribbleOutcome {
    /** Everything the server sent before it closed the connection. */
    response: string;
    /** Milliseconds from the first byte sent to the server closing the connection. */
    closedAfterMs: number;
    /** How many bytes of `text` were written before the server closed. */
    bytesSent: number;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and writes `text` one byte every `intervalMs`
 * (a slowloris client), never finishing faster than the server allows. Resolves once the server
 * closes the connection; rejects if it is still open after `giveUpMs` (the slot was never freed).
 * `prefix` (e.g. complete headers) is written at once before the dribble starts.
 */
export function dribble(port: number, text: string, intervalMs: number, giveUpMs: number, prefix = ''): Promise<DribbleOutcome> {
    return new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const bytes = Buffer.from(text);
        let sent = 0;
        let response = '';
        let started = 0;
        let timer: NodeJS.Timeout | undefined;
        const giveUp = setTimeout(() => {
            clearInterval(timer);
            socket.destroy();
            reject(new Error(`the server still held the connection after ${giveUpMs} ms (${sent} bytes dribbled)`));
        }, giveUpMs);
        socket.on('connect', () => {
            started = Date.now();
            if (prefix) socket.write(prefix);
            timer = setInterval(() => {
                if (sent >= bytes.length || socket.destroyed || !socket.writable) return;
                socket.write(bytes.subarray(sent, sent + 1));
                sent++;
            }, intervalMs);
        });
        socket.on('data', (d) => (response += d.toString('utf8')));
        const done = () => {
            clearInterval(timer);
            clearTimeout(giveUp);
            resolve({ response, closedAfterMs: Date.now() - started, bytesSent: sent });
        };
        socket.on('end', () => socket.destroy());
        socket.on('close', done);
        socket.on('error', () => undefined); // a reset after the answer still ends in 'close'
    });
}

/** Sends `text` at once on a raw connection and collects the answer until the server closes. */
export function rawRequest(port: number, text: string | Buffer, giveUpMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let response = '';
        const giveUp = setTimeout(() => {
            socket.destroy();
            reject(new Error(`no close within ${giveUpMs} ms; got ${JSON.stringify(response.slice(0, 200))}`));
        }, giveUpMs);
        socket.on('connect', () => socket.write(text));
        socket.on('data', (d) => (response += d.toString('utf8')));
        socket.on('end', () => socket.destroy());
        socket.on('close', () => {
            clearTimeout(giveUp);
            resolve(response);
        });
        socket.on('error', () => undefined);
    });
}

/** The JSON body of a raw HTTP/1.1 response text (after the blank line). */
export function rawJsonBody(response: string): any {
    const at = response.indexOf('\r\n\r\n');
    if (at < 0) throw new Error(`not an HTTP response: ${JSON.stringify(response.slice(0, 200))}`);
    return JSON.parse(response.slice(at + 4));
}

/** Status code of a raw HTTP/1.1 response text. */
export function rawStatus(response: string): number {
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(response);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(response.slice(0, 200))}`);
    return Number(m[1]);
}

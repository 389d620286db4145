/**
 * Structured logs: one JSON object per line, `{ ts, level, event, ...fields }`. Secrets never
 * reach a log line: fields whose names look like secrets are replaced by "[redacted]", and
 * Buffers are shown by length only (keys and ciphertexts are Buffers).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
    debug(event: string, fields?: LogFields): void;
    info(event: string, fields?: LogFields): void;
    warn(event: string, fields?: LogFields): void;
    error(event: string, fields?: LogFields): void;
    /** A logger that adds `fields` to every line. */
    child(fields: LogFields): Logger;
}

const SECRET_NAME = /secret|mnemonic|seed|password|passphrase|api[-_]?key|private|seal[-_]?key|token$/i;

function clean(value: unknown, depth = 0): unknown {
    if (value === null || value === undefined) return value;
    if (typeof value === 'bigint') return value.toString();
    if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (typeof value !== 'object') return value;
    if (depth > 4) return '[nested]';
    if (Array.isArray(value)) return value.slice(0, 50).map((v) => clean(v, depth + 1));
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return clean((value as { toJSON(): unknown }).toJSON(), depth + 1);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = SECRET_NAME.test(k) ? '[redacted]' : clean(v, depth + 1);
    return out;
}

/** Fields safe to log: secret-looking names redacted, Buffers and bigints made printable. */
export function redact(fields: LogFields): LogFields {
    return clean(fields) as LogFields;
}

export function createLogger(options: { level?: LogLevel; write?: (line: string) => void; fields?: LogFields } = {}): Logger {
    const min = LEVELS[options.level ?? 'info'];
    const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
    const base = options.fields ?? {};
    const emit = (level: LogLevel, event: string, fields?: LogFields) => {
        if (LEVELS[level] < min) return;
        try {
            write(JSON.stringify({ ts: new Date().toISOString(), level, event, ...redact({ ...base, ...(fields ?? {}) }) }));
        } catch {
            /* a log line must never take the agent down */
        }
    };
    return {
        debug: (e, f) => emit('debug', e, f),
        info: (e, f) => emit('info', e, f),
        warn: (e, f) => emit('warn', e, f),
        error: (e, f) => emit('error', e, f),
        child: (fields) => createLogger({ level: options.level, write, fields: { ...base, ...fields } }),
    };
}

/** Discards everything (tests that do not look at logs). */
export const silentLogger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    child: () => silentLogger,
};

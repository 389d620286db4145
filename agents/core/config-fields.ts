import { Address, toNano } from '@ton/core';

/** One problem of a config file: the dotted path of the field (`http.port`) and what is wrong. */
export interface ConfigIssue {
    /** Dotted path of the field, e.g. `http.port` (`(file)` for the file itself). */
    path: string;
    message: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ConfigObject = { [key: string]: Json };

/**
 * Reads one object of a JSON config file field by field, collecting every problem as a
 * `ConfigIssue` (so a config with three mistakes reports all three) instead of throwing at the
 * first; unknown keys are issues too. Each reader returns the fallback where a field is absent or
 * wrong; a field without a fallback is required. Shared by the worker's, the auditor's and the
 * client's config files.
 */
export class ConfigFields {
    constructor(
        private readonly issues: ConfigIssue[],
        private readonly obj: ConfigObject,
        private readonly prefix: string,
        known: string[],
    ) {
        for (const key of Object.keys(obj)) {
            if (!known.includes(key)) this.issue(key, `unknown field (known fields: ${known.join(', ')})`);
        }
    }

    path(key: string): string {
        return this.prefix ? `${this.prefix}.${key}` : key;
    }

    issue(key: string, message: string): void {
        this.issues.push({ path: this.path(key), message });
    }

    has(key: string): boolean {
        return this.obj[key] !== undefined && this.obj[key] !== null;
    }

    raw(key: string): unknown {
        return this.obj[key];
    }

    string(key: string, fallback?: string): string | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (fallback === undefined) this.issue(key, 'is required');
            return fallback;
        }
        if (typeof v !== 'string' || v.trim() === '') {
            this.issue(key, `must be a non-empty string, got ${JSON.stringify(v)}`);
            return fallback;
        }
        return v;
    }

    optionalString(key: string): string | undefined {
        return this.has(key) ? this.string(key) : undefined;
    }

    strings(key: string): string[] {
        const v = this.obj[key];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.trim() === '')) {
            this.issue(key, `must be an array of non-empty strings, got ${JSON.stringify(v)}`);
            return [];
        }
        return v as string[];
    }

    oneOf<T extends string>(key: string, options: readonly T[], fallback: T): T;
    oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T | undefined;
    oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (fallback === undefined) this.issue(key, `is required (one of ${options.join(', ')})`);
            return fallback;
        }
        if (typeof v !== 'string' || !options.includes(v as T)) {
            this.issue(key, `must be one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
            return fallback;
        }
        return v as T;
    }

    bool(key: string, fallback: boolean): boolean {
        const v = this.obj[key];
        if (v === undefined || v === null) return fallback;
        if (typeof v !== 'boolean') {
            this.issue(key, `must be true or false, got ${JSON.stringify(v)}`);
            return fallback;
        }
        return v;
    }

    int(key: string, fallback: number, min: number, max?: number): number;
    int(key: string, fallback: number | undefined, min: number, max?: number): number | undefined;
    int(key: string, fallback: number | undefined, min: number, max: number = Number.MAX_SAFE_INTEGER): number | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (fallback === undefined) this.issue(key, 'is required');
            return fallback;
        }
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
            this.issue(key, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
            return fallback;
        }
        return v;
    }

    /** A whole amount of nanoTON as a decimal string (or a safe integer). */
    nano(key: string, fallback: bigint | undefined): bigint | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (fallback === undefined) this.issue(key, 'is required (nanoTON as a decimal string, e.g. "1000")');
            return fallback;
        }
        const text = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
        if (typeof text !== 'string' || !/^\d{1,36}$/.test(text)) {
            this.issue(key, `must be a whole number of nanoTON as a decimal string, e.g. "1000"; got ${JSON.stringify(v)}`);
            return fallback;
        }
        return BigInt(text);
    }

    /** An amount of TON as a decimal string ("10", "0.5"); required when there is no fallback. */
    ton(key: string, fallback: bigint): bigint;
    ton(key: string, fallback: bigint | undefined): bigint | undefined;
    ton(key: string, fallback: bigint | undefined): bigint | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (fallback === undefined) this.issue(key, 'is required (TON as a string, e.g. "10")');
            return fallback;
        }
        if (typeof v !== 'string' || !/^\d{1,12}(\.\d{1,9})?$/.test(v)) {
            this.issue(key, `must be an amount of TON as a string with at most 9 decimals, e.g. "10" or "0.5"; got ${JSON.stringify(v)}`);
            return fallback;
        }
        return toNano(v);
    }

    /** An optional positive amount of TON ("2"): undefined when absent. */
    positiveTon(key: string): bigint | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'string' || !/^\d{1,12}(\.\d{1,9})?$/.test(v) || toNano(v) === 0n) {
            this.issue(key, `must be a positive amount of TON as a string with at most 9 decimals, e.g. "2"; got ${JSON.stringify(v)}`);
            return undefined;
        }
        return toNano(v);
    }

    /** `value` as an address, or an issue on `key` (the value may come from an override, not this object). */
    address(key: string, value: unknown): Address | undefined {
        try {
            if (typeof value !== 'string') throw new Error();
            return Address.parse(value.trim());
        } catch {
            this.issue(key, `must be a TON address (EQ.../UQ... or 0:<64 hex>), got ${JSON.stringify(value)}`);
            return undefined;
        }
    }

    object(key: string, required = false): ConfigObject | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) {
            if (required) this.issue(key, 'is required (an object)');
            return undefined;
        }
        if (typeof v !== 'object' || Array.isArray(v)) {
            this.issue(key, `must be an object, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v;
    }

    sub(key: string, known: string[], required = false): ConfigFields {
        return new ConfigFields(this.issues, this.object(key, required) ?? {}, this.path(key), known);
    }
}

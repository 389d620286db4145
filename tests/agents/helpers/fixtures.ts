import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Collateral } from '@phala/dcap-qvl';

/** The shared fixtures live beside the repository root: `<repo>/../shared/fixtures`. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const TDX_FIXTURES = resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'tdx-dcap');

/** A time inside the validity window of `tdx_quote_collateral.json` (see the fixtures' README). */
export const TDX_FIXTURE_NOW = 1751624655;

function fixturePath(name: string): string {
    const path = join(TDX_FIXTURES, name);
    if (!existsSync(path)) {
        throw new Error(`TDX DCAP fixture ${path} is missing: these tests need ../shared/fixtures/tdx-dcap beside the repository root`);
    }
    return path;
}

export function tdxFixture(name: 'tdx_quote' | 'tdx_quote_outdated' | 'sgx_quote'): Buffer {
    return readFileSync(fixturePath(name));
}

export function tdxCollateral(name: 'tdx_quote' | 'tdx_quote_outdated' | 'sgx_quote'): Collateral {
    return JSON.parse(readFileSync(fixturePath(`${name}_collateral.json`), 'utf8')) as Collateral;
}

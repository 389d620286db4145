import path from 'node:path';
import { CompilerConfig } from '@ton/blueprint';
import { buildContracts } from '../scripts/build';

// For `npx blueprint build Worker` and blueprint's `compile('Worker')`. All contracts are compiled at
// once by the Tact project in tact.config.json (`npm run build`, re-run here when stale); this
// then compiles the FunC that Tact generated for Worker with the same FunC version, which yields
// exactly the code in build/Cocoon/Cocoon_Worker.code.boc. (Pointing blueprint at the Tact project
// directly would hand back the first contract the project emits, not necessarily Worker.)
export const compile: CompilerConfig = {
    lang: 'func',
    targets: [
        require.resolve('@tact-lang/compiler/dist/stdlib/stdlib/std/stdlib.fc'),
        path.join(__dirname, '..', 'build', 'Cocoon', 'Cocoon_Worker.fc'),
    ],
    preCompileHook: async () => {
        await buildContracts({ onlyIfStale: true });
    },
};

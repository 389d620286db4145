import { CompilerConfig } from '@ton/blueprint';

// For `npx blueprint build Worker`; see Root.compile.ts.
export const compile: CompilerConfig = {
    lang: 'tact',
    target: 'contracts/worker.tact',
    options: { debug: false, external: false, safety: { nullChecks: true } },
};

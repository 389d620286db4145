import { CompilerConfig } from '@ton/blueprint';

// For `npx blueprint build Channel`; see Root.compile.ts.
export const compile: CompilerConfig = {
    lang: 'tact',
    target: 'contracts/channel.tact',
    options: { debug: false, external: false, safety: { nullChecks: true } },
};

import { CompilerConfig } from '@ton/blueprint';

// For `npx blueprint build Root`. `npm run build` compiles every contract at once from
// tact.config.json (project Cocoon) and is what tests and scripts use.
export const compile: CompilerConfig = {
    lang: 'tact',
    target: 'contracts/root.tact',
    options: { debug: false, external: false, safety: { nullChecks: true } },
};

import { Config } from '@ton/blueprint';

// Blueprint reads contracts from tact.config.json (project Cocoon) and wrappers/*.compile.ts;
// `npx blueprint test` runs jest with jest.config.ts.
export const config: Config = {
    separateCompilables: false,
};

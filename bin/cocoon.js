#!/usr/bin/env node
'use strict';
// The devnet runs V8 with --optimize-for-size (set before anything loads): the sandbox's garbage
// otherwise grows the heap and RSS far past what is live (bench/devnet-memory.ts; docs/agents.md).
if (process.argv[2] === 'devnet' && !process.argv.includes('--optimize-for-speed')) require('node:v8').setFlagsFromString('--optimize-for-size');
// The CLI is TypeScript; tsx (a runtime dependency) compiles it on load.
require('tsx/cjs');
const { main } = require('../agents/cli.ts');

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (error) => {
        process.stderr.write(`cocoon: ${error && error.stack ? error.stack : error}\n`);
        process.exitCode = 1;
    },
);

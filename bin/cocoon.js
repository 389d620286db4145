#!/usr/bin/env node
'use strict';
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

'use strict';
// Entry of the inference thread (embedded-thread.ts): the engine is TypeScript, which tsx (a runtime
// dependency) compiles on load, in this thread as in the main one.
require('tsx/cjs');
require('./embedded-thread-host.ts');

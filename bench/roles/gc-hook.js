'use strict';
// Preloaded (node --expose-gc -r bench/roles/gc-hook.js ...) into every process the bench
// measures: on SIGUSR2 it runs a full garbage collection and appends one JSON line with the
// process's heap and RSS to $BENCH_HEAP_FILE, so the bench reads memory after GC without any
// hook in the agents' code.
const fs = require('node:fs');
const file = process.env.BENCH_HEAP_FILE;
if (file) {
    process.on('SIGUSR2', () => {
        if (typeof global.gc === 'function') {
            global.gc();
            global.gc();
        }
        const m = process.memoryUsage();
        fs.appendFileSync(file, JSON.stringify({ t: Date.now(), heapUsed: m.heapUsed, rss: m.rss, gc: typeof global.gc === 'function' }) + '\n');
    });
}

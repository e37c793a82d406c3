#!/usr/bin/env node
// zlib compression and file I/O share libuv's thread pool (4 threads by default). It must be sized
// before anything starts it, and an ES module entry point is already too late (the module loader
// uses the pool), hence this CommonJS entry that sets it and then loads the ESM program.
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism() + 2));
}
import(pathToFileURL(join(__dirname, '..', 'dist', 'cli.js')).href).catch((err) => {
  process.stderr.write(`pg-backups could not start: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});

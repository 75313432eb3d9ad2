#!/usr/bin/env node
'use strict';
// Launcher: the CLI itself is TypeScript, compiled to dist/ by `npm run prepare`.
let cli;
try {
  cli = require('../dist/cli/index.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('electra-native: dist/ is missing; run `npm run build:ts` (or `npm ci`) first\n');
    process.exit(1);
  }
  throw err;
}
cli.main().catch((err) => {
  const code = err && err.code ? `${err.code}: ` : '';
  process.stderr.write(`electra-native: ${code}${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});

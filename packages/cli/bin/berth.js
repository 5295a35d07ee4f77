#!/usr/bin/env node
// The `berth` bin. Kept outside dist/ so that npm links it at install time, before the first
// build; it loads the compiled CLI.
import('../dist/berth.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('berth: not built yet; run `npm run build` (or `npm start`) first');
    process.exit(1);
  }
  throw err;
});

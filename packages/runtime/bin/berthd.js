#!/usr/bin/env node
// The `berthd` bin. Kept outside dist/ so that npm links it at install time, before the first
// build; it loads the compiled daemon.
import('../dist/cli/berthd.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('berthd: not built yet; run `npm run build` (or `npm start`) first');
    process.exit(1);
  }
  throw err;
});

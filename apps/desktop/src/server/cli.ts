#!/usr/bin/env node
/**
 * `berth-dashboard --engine unix:///run/berth/berth.sock [--port 0]`: starts the dashboard
 * server and prints its URL (one line, `Dashboard: URL`) for scripts/start.mjs and for people.
 */
import { parseArgs } from 'node:util';
import { startDashboard } from './dashboard.js';

const { values } = parseArgs({
  options: {
    engine: {
      type: 'string',
      default: process.env['DOCKER_HOST'] ?? 'unix:///run/berth/berth.sock',
    },
    port: { type: 'string', default: '0' },
  },
});

const dashboard = await startDashboard({ engineHost: values.engine, port: Number(values.port) });
console.log(`Dashboard: ${dashboard.url}`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void dashboard.close().finally(() => process.exit(0));
  });
}

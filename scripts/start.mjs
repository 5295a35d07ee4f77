#!/usr/bin/env node
// `npm start`: builds, then runs Berth's main job. On Linux the engine runs natively (no VM),
// with the dashboard server in front of it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);
// The dashboard's browser bundle (Vite).
const ui = spawnSync('npm', ['run', 'build', '--silent', '-w', 'apps/desktop'], {
  cwd: root,
  stdio: 'inherit',
});
if (ui.status !== 0) process.exit(ui.status ?? 1);

if (platform() !== 'linux') {
  console.error(
    'berth: npm start runs the engine natively on Linux only; elsewhere use `npx berth machine start`.',
  );
  process.exit(1);
}

const isRoot = process.getuid?.() === 0;
const base = isRoot ? null : join(homedir(), '.berth');
const socket = isRoot ? '/run/berth/berth.sock' : join(base, 'run', 'berth.sock');
mkdirSync(dirname(socket), { recursive: true });

const args = [join(root, 'packages/runtime/dist/cli/berthd.js'), '-H', `unix://${socket}`];
console.log(`berth: starting the engine natively on unix://${socket}`);
console.log(`berth: point the docker CLI at it with: export DOCKER_HOST=unix://${socket}`);
const daemon = spawn(process.execPath, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => daemon.kill(sig));
daemon.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));

// Once the engine answers, serve the dashboard on 127.0.0.1 and print its URL (with its token).
const { startDashboard } = await import('../apps/desktop/dist/server/dashboard.js');
const { EngineClient } = await import('../packages/engine-client/dist/index.js');
const engine = new EngineClient({ host: `unix://${socket}` });
const deadline = Date.now() + 30_000;
for (;;) {
  try {
    await engine.request({ method: 'GET', path: '/_ping', timeoutMs: 1000 });
    break;
  } catch {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}
const dashboard = await startDashboard({ engineHost: `unix://${socket}` });
console.log(`berth: dashboard at ${dashboard.url}`);

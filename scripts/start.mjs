#!/usr/bin/env node
// `npm start`: builds, then runs Berth's main job. On Linux the engine runs natively (no VM);
// the desktop UI and the VM for macOS/Windows arrive with their own packages.
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

if (platform() !== 'linux') {
  console.error('berth: on this OS the engine runs in the Berth VM, which is not built yet.');
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

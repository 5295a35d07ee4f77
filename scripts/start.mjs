#!/usr/bin/env node
// `npm start`: builds, then runs Berth the way this host allows (apps/desktop/src/main/
// launch-plan.ts decides, unit-tested per platform): Electron where its binary is installed,
// otherwise the engine plus the dashboard server, whose URL it prints. The engine runs natively
// on Linux as root and in the Berth VM elsewhere (packages/machine, boot progress printed here).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);
// The UI bundle (Vite) and Electron's preload bundle.
const ui = spawnSync('npm', ['run', 'build', '--silent', '-w', 'apps/desktop'], {
  cwd: root,
  stdio: 'inherit',
});
if (ui.status !== 0) process.exit(ui.status ?? 1);

const { findElectron, hostFacts, planLaunch } =
  await import('../apps/desktop/dist/main/launch-plan.js');
const appDir = join(root, 'apps', 'desktop');
const plan = planLaunch(hostFacts(), findElectron(appDir), appDir);
console.log(`berth: engine: ${plan.engine.kind} (${plan.engine.reason})`);
console.log(`berth: UI: ${plan.ui.kind} (${plan.ui.reason})`);

if (plan.ui.kind === 'electron') {
  // Electron's main process starts the engine itself, following the same plan.
  const app = spawn(plan.ui.binary, plan.ui.args, { cwd: root, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => app.kill(sig));
  app.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
} else {
  const { startHeadless } = await import('../apps/desktop/dist/server/headless.js');
  const berth = await startHeadless({
    plan: plan.engine,
    native: {
      berthdJs: join(root, 'packages/runtime/dist/cli/berthd.js'),
      stdio: 'inherit',
      onExit: (code, signal) =>
        console.error(
          `berth: the engine exited (${signal ?? `code ${code}`}); restart it from the dashboard's Troubleshoot`,
        ),
    },
    onProgress: (p) => console.log(`berth: VM ${String(p.percent).padStart(3)}% ${p.message}`),
    onNotice: (message) => console.log(`berth: ${message}`),
  });
  const dockerHost = `export DOCKER_HOST=${berth.engineHost}`;
  if (plan.engine.kind === 'native') console.log(`berth: engine on ${berth.engineHost}`);
  console.log(`berth: dashboard at ${berth.dashboard.url}`);
  berth.ready.then(
    () => console.log(`berth: the engine is running; point the docker CLI at it: ${dockerHost}`),
    (e) => console.error(`berth: the engine did not start: ${e instanceof Error ? e.message : e}`),
  );
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.on(sig, () => {
      if (closing) return;
      closing = true;
      console.log('berth: stopping');
      void berth.close().finally(() => process.exit(0));
    });
}

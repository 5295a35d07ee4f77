#!/usr/bin/env node
// `npm run dist`: packages Berth with electron-builder for what this host can build — macOS
// dmg on macOS, nsis on Windows, AppImage and deb on Linux. It checks first that everything
// a build needs is here and says what is missing instead of producing half an installer.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(app, '..', '..');
const require = createRequire(join(app, 'package.json'));
const fail = (lines) => {
  console.error(lines.map((l) => `dist: ${l}`).join('\n'));
  process.exit(1);
};

const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) fail([`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`]);
};

const platform = { darwin: 'mac', win32: 'win', linux: 'linux' }[process.platform];
if (!platform) fail([`cannot package on ${process.platform}`]);

// 1. The app itself: tsc and the Vite bundles.
run(join(root, 'node_modules', '.bin', 'tsc'), ['-b']);
run('npm', ['run', 'build', '--silent', '-w', 'apps/desktop']);

const { readBuilderConfig, resourcesFor, missingResources, GUEST_ARCH } = await import(
  join(app, 'dist', 'packaging', 'builder-config.js')
);
const config = readBuilderConfig();
const arches = [...new Set(config[platform].target.flatMap((t) => t.arch))];

// The berthd bundle where the engine runs natively beside the app (Linux).
if (arches.some((a) => resourcesFor(config, platform, a).some((r) => r.berthdBundle))) {
  const { bundleBerthd } = await import(join(app, 'dist', 'packaging', 'berthd-bundle.js'));
  console.log(`dist: bundled berthd at ${await bundleBerthd()}`);
}

// 2. What electron-builder packs: the Electron binary (it is not downloadable here) and the
// resources, the guest VM image for macOS and Windows included.
// Found as `npm start` finds it: require('electron') would try to download a missing binary.
const { findElectron } = await import(join(app, 'dist', 'main', 'launch-plan.js'));
const problems = [];
if (!findElectron(app))
  problems.push(
    'the Electron binary is not installed (node_modules/electron/dist is empty: it was installed',
    '  with ELECTRON_SKIP_BINARY_DOWNLOAD=1, and its download site cannot be reached from this host).',
    '  electron-builder needs it for every target; on a machine that can reach it run',
    '  `npm rebuild electron` (or set ELECTRON_OVERRIDE_DIST_PATH / electronDist) and try again.',
  );
let builder;
try {
  builder = require.resolve('electron-builder/cli.js');
} catch {
  problems.push(
    'electron-builder is not installed: `npm install -w apps/desktop -D electron-builder`.',
  );
}
for (const arch of arches) {
  for (const r of missingResources(resourcesFor(config, platform, arch)))
    problems.push(
      r.vmImage
        ? `the ${GUEST_ARCH[arch]} VM image is missing (${r.from}): \`npm run vm-image -- --arch ${GUEST_ARCH[arch]}\`.`
        : `${r.from} is missing (npm run build should have made it).`,
    );
}
if (problems.length) fail([`cannot build ${platform} (${arches.join(', ')}):`, ...problems]);

// 3. One build per architecture, so each gets its own guest image.
for (const arch of arches) {
  run(process.execPath, [builder, `--${platform}`, `--${arch}`, '--publish', 'never'], {
    BERTH_GUEST_ARCH: GUEST_ARCH[arch],
  });
}
console.log(
  `dist: built ${platform} for ${arches.join(', ')} into apps/desktop/${config.directories.output}/`,
);

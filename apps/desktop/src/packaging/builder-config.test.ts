import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EngineClient } from '@berth/engine-client';
import { berthdEntry } from '../main/launch-plan.js';
import { BERTHD_BUNDLE_DIR, bundleBerthd } from './berthd-bundle.js';
import {
  APP_DIR,
  missingResources,
  readBuilderConfig,
  resourcesFor,
  type Arch,
  type Platform,
} from './builder-config.js';

const config = readBuilderConfig();
const targets = (p: Platform) => config[p].target.map((t) => `${t.target}:${t.arch.join('+')}`);

describe('electron-builder.yml', () => {
  it('builds a dmg for arm64 and x64, an nsis installer, an AppImage and a deb', () => {
    assert.deepEqual(targets('mac'), ['dmg:arm64+x64']);
    assert.deepEqual(targets('win'), ['nsis:x64']);
    assert.deepEqual(targets('linux').sort(), ['AppImage:x64', 'deb:x64']);
  });

  it('signs macOS builds with the hardened runtime and the virtualization entitlement', () => {
    assert.equal(config.mac.hardenedRuntime, true);
    const file = join(APP_DIR, config.mac.entitlements);
    assert.ok(existsSync(file), `${file} exists`);
    const plist = readFileSync(file, 'utf8');
    assert.match(plist, /<key>com\.apple\.security\.virtualization<\/key>\s*<true\/>/);
    assert.match(plist, /<key>com\.apple\.security\.cs\.allow-jit<\/key>\s*<true\/>/);
  });

  it('ships the app the build makes: main, preload bundle and the UI', () => {
    for (const f of [
      'dist/main/index.js',
      'dist/preload-bundle/preload.cjs',
      'dist/renderer/index.html',
    ])
      assert.ok(existsSync(join(APP_DIR, f)), `${f} is built (npm run build)`);
    assert.ok(config.files.includes('dist/**/*'));
  });

  it('bundles the berth CLI everywhere and the VM image on macOS and Windows', () => {
    const builds: [Platform, Arch][] = [
      ['mac', 'arm64'],
      ['mac', 'x64'],
      ['win', 'x64'],
      ['linux', 'x64'],
    ];
    for (const [platform, arch] of builds) {
      const res = resourcesFor(config, platform, arch);
      assert.ok(
        res.some((r) => r.to === 'cli'),
        `${platform}/${arch} has the CLI`,
      );
      assert.equal(
        res.some((r) => r.vmImage),
        platform !== 'linux',
        `${platform}/${arch}: the VM image only where the engine runs in a VM`,
      );
      assert.equal(
        res.some((r) => r.berthdBundle && r.to === 'berthd'),
        platform === 'linux',
        `${platform}/${arch}: berthd itself only where it runs natively`,
      );
      for (const r of res) assert.doesNotMatch(r.from, /\$\{/, `${r.from}: every macro expands`);
    }
    assert.ok(
      resourcesFor(config, 'mac', 'arm64').some((r) => r.from.endsWith('vm-image/out/arm64')),
    );
    assert.ok(
      resourcesFor(config, 'win', 'x64').some((r) => r.from.endsWith('vm-image/out/amd64')),
    );
  });

  it('finds every resource that npm run build makes (and the VM image once it is built)', (t) => {
    const all = (['mac', 'win', 'linux'] as const).flatMap((p) =>
      (['x64', 'arm64'] as const).flatMap((a) => resourcesFor(config, p, a)),
    );
    const missing = missingResources(all);
    assert.deepEqual(
      missing.filter((r) => !r.vmImage && !r.berthdBundle).map((r) => r.from),
      [],
      'resources made by npm run build',
    );
    // The guest image comes from `npm run vm-image` (minutes, per architecture), not the build.
    const images = missing.filter((r) => r.vmImage).map((r) => r.from);
    if (images.length)
      t.diagnostic(`not built yet (npm run vm-image): ${[...new Set(images)].join(', ')}`);
  });

  it('ships berthd on Linux: the bundle npm run dist makes, outside the asar, runs natively', async (t) => {
    const linux = resourcesFor(config, 'linux', 'x64').find((r) => r.berthdBundle);
    assert.equal(linux?.path, BERTHD_BUNDLE_DIR);
    assert.ok(config.files.includes('!dist/resources/**'), 'not packed twice (asar and resources)');
    const dir = mkdtempSync(join(tmpdir(), 'berth-bundle-'));
    let daemon: ChildProcess | undefined;
    try {
      const started = Date.now();
      const entry = await bundleBerthd(join(dir, 'berthd'));
      t.diagnostic(`bundled in ${Date.now() - started} ms`);
      // Where the packaged app looks for it (launch-plan.ts's berthdEntry).
      assert.equal(entry, berthdEntry({ resourcesPath: dir }, ''));
      assert.ok(
        existsSync(join(dir, 'berthd/node_modules/@koromix', `koffi-linux-${process.arch}`)),
        "koffi's native module beside it",
      );
      const version = spawnSync(process.execPath, [entry, '--version'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(version.status, 0, version.stderr);
      assert.match(version.stdout, /\d+\.\d+\.\d+/);
      if (process.getuid?.() !== 0) return t.diagnostic('not root: berthd not started');
      // Outside the workspace: everything it loads is in the bundle's own folder.
      const socket = join(dir, 'berth.sock');
      daemon = spawn(
        process.execPath,
        [
          entry,
          '-H',
          `unix://${socket}`,
          '--data-root',
          join(dir, 'data'),
          '--exec-root',
          join(dir, 'exec'),
        ],
        { cwd: dir, stdio: 'ignore' },
      );
      const client = new EngineClient({ host: `unix://${socket}` });
      const deadline = Date.now() + 30_000;
      let info: unknown;
      while (!info) {
        assert.equal(daemon.exitCode, null, 'the bundled berthd keeps running');
        assert.ok(Date.now() < deadline, 'the bundled berthd answers within 30 s');
        info = await client
          .request({ method: 'GET', path: '/info', timeoutMs: 2000 })
          .catch(() => undefined);
        if (!info) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal((info as { OSType?: string }).OSType, 'linux');
    } finally {
      if (daemon && daemon.exitCode === null) {
        const exited = new Promise((r) => daemon?.once('exit', r));
        daemon.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        daemon.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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
      missing.filter((r) => !r.vmImage).map((r) => r.from),
      [],
      'resources made by npm run build',
    );
    // The guest image comes from `npm run vm-image` (minutes, per architecture), not the build.
    const images = missing.filter((r) => r.vmImage).map((r) => r.from);
    if (images.length)
      t.diagnostic(`not built yet (npm run vm-image): ${[...new Set(images)].join(', ')}`);
  });
});

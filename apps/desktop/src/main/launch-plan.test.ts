import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  berthdEntry,
  findElectron,
  planLaunch,
  type HostFacts,
  type LaunchPlan,
} from './launch-plan.js';

const APP = '/src/berth/apps/desktop';
const ELECTRON = '/src/berth/node_modules/electron/dist/electron';
const facts = (
  platform: NodeJS.Platform,
  isRoot: boolean,
  env: Record<string, string> = {},
): HostFacts => ({
  platform,
  isRoot,
  home: platform === 'win32' ? 'C:\\Users\\ada' : '/home/ada',
  env: platform === 'linux' ? { DISPLAY: ':0', ...env } : env,
});
const summary = (p: LaunchPlan) =>
  `${p.engine.kind}${p.engine.kind === 'native' ? `@${p.engine.socket}` : ''} + ${p.ui.kind}${
    p.ui.kind === 'electron' ? ` ${p.ui.args.join(' ')}` : ''
  }`;

describe('launch plan', () => {
  it('picks the engine and the UI for each platform × Electron × root', () => {
    const cases: [NodeJS.Platform, boolean, string | undefined, string][] = [
      ['linux', true, ELECTRON, `native@/run/berth/berth.sock + electron --no-sandbox ${APP}`],
      ['linux', true, undefined, 'native@/run/berth/berth.sock + dashboard'],
      ['linux', false, ELECTRON, `vm + electron ${APP}`],
      ['linux', false, undefined, 'vm + dashboard'],
      ['darwin', true, ELECTRON, `vm + electron ${APP}`],
      ['darwin', true, undefined, 'vm + dashboard'],
      ['darwin', false, ELECTRON, `vm + electron ${APP}`],
      ['darwin', false, undefined, 'vm + dashboard'],
      ['win32', true, ELECTRON, `vm + electron ${APP}`],
      ['win32', true, undefined, 'vm + dashboard'],
      ['win32', false, ELECTRON, `vm + electron ${APP}`],
      ['win32', false, undefined, 'vm + dashboard'],
    ];
    for (const [platform, root, electron, want] of cases) {
      const plan = planLaunch(facts(platform, root), electron, APP);
      assert.equal(summary(plan), want, `${platform} root=${root} electron=${!!electron}`);
      assert.ok(plan.engine.reason && plan.ui.reason);
      if (plan.ui.kind === 'electron') assert.equal(plan.ui.binary, ELECTRON);
    }
  });

  it('follows BERTH_ENGINE_HOST, BERTH_VM and BERTH_DASHBOARD, and a headless Linux', () => {
    const ext = planLaunch(
      facts('darwin', false, { BERTH_ENGINE_HOST: 'tcp://10.0.0.2:2375' }),
      ELECTRON,
      APP,
    );
    assert.deepEqual(
      { kind: ext.engine.kind, host: ext.engine.kind === 'external' && ext.engine.host },
      { kind: 'external', host: 'tcp://10.0.0.2:2375' },
    );
    assert.equal(
      summary(planLaunch(facts('linux', true, { BERTH_VM: '1' }), undefined, APP)),
      'vm + dashboard',
    );
    assert.equal(
      summary(planLaunch(facts('darwin', false, { BERTH_DASHBOARD: '1' }), ELECTRON, APP)),
      'vm + dashboard',
    );
    const headless = planLaunch({ ...facts('linux', true), env: {} }, ELECTRON, APP);
    assert.equal(summary(headless), 'native@/run/berth/berth.sock + dashboard');
    assert.match(headless.ui.reason, /no display/);
    const wayland = planLaunch(
      { ...facts('linux', true), env: { WAYLAND_DISPLAY: 'wayland-0' } },
      ELECTRON,
      APP,
    );
    assert.equal(wayland.ui.kind, 'electron');
  });

  it('runs the packaged berthd bundle from the resources, the workspace build otherwise', () => {
    assert.equal(
      berthdEntry({ resourcesPath: '/opt/Berth/resources' }, '/dev/berthd.js'),
      '/opt/Berth/resources/berthd/dist/cli/berthd.mjs',
    );
    assert.equal(berthdEntry(undefined, '/dev/berthd.js'), '/dev/berthd.js');
  });
});

describe('findElectron', () => {
  let dir: string;
  let app: string;
  let pkg: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-electron-'));
    app = join(dir, 'apps', 'desktop');
    pkg = join(dir, 'node_modules', 'electron');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), '{"name":"app"}');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{"name":"electron","main":"index.js"}');
    // Requiring this would start a download: findElectron must never load it.
    writeFileSync(join(pkg, 'index.js'), 'throw new Error("index.js was loaded")');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is absent when the package is not installed at all', () => {
    const lonely = join(tmpdir(), 'berth-no-electron-here');
    assert.equal(findElectron(lonely, {}, 'linux'), undefined);
  });

  it('is absent after ELECTRON_SKIP_BINARY_DOWNLOAD (no path.txt, no dist)', () => {
    assert.equal(findElectron(app, {}, 'linux'), undefined);
  });

  it('is absent when path.txt names a file that is not there or not executable', () => {
    writeFileSync(join(pkg, 'path.txt'), 'electron');
    assert.equal(findElectron(app, {}, 'linux'), undefined);
    writeFileSync(join(pkg, 'dist', 'electron'), '#!/bin/sh\n');
    chmodSync(join(pkg, 'dist', 'electron'), 0o644);
    assert.equal(findElectron(app, {}, 'linux'), undefined);
  });

  it('is the executable path.txt names, or the one under ELECTRON_OVERRIDE_DIST_PATH', () => {
    writeFileSync(join(pkg, 'path.txt'), 'electron');
    writeFileSync(join(pkg, 'dist', 'electron'), '#!/bin/sh\n');
    chmodSync(join(pkg, 'dist', 'electron'), 0o755);
    assert.equal(findElectron(app, {}, 'linux'), join(pkg, 'dist', 'electron'));
    const override = join(dir, 'custom');
    mkdirSync(override, { recursive: true });
    assert.equal(findElectron(app, { ELECTRON_OVERRIDE_DIST_PATH: override }, 'linux'), undefined);
    writeFileSync(join(override, 'electron'), '#!/bin/sh\n');
    chmodSync(join(override, 'electron'), 0o755);
    assert.equal(
      findElectron(app, { ELECTRON_OVERRIDE_DIST_PATH: override }, 'linux'),
      join(override, 'electron'),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSummary, EngineStatus } from '../shared/contract.js';
import { trayDot, trayMenu, type TrayItem, type TrayState } from './tray-model.js';

const running: EngineStatus = { state: 'running', host: 'unix:///x.sock', version: '0.1.0' };
const down: EngineStatus = { state: 'unreachable', host: 'unix:///x.sock', message: 'no' };

function container(name: string, state: ContainerSummary['state'], ports: number[] = []) {
  return {
    id: `id-${name}`,
    name,
    image: 'nginx:alpine',
    command: '',
    created: 0,
    state,
    status: '',
    ports: ports.flatMap((p) => [
      { privatePort: 80, publicPort: p, type: 'tcp', ip: '0.0.0.0' },
      { privatePort: 80, publicPort: p, type: 'tcp', ip: '::' },
    ]),
    labels: {},
  } satisfies ContainerSummary;
}

const base: TrayState = {
  engine: running,
  controllable: true,
  containers: [],
  startAtLogin: false,
};
const byLabel = (items: TrayItem[], label: string) => items.find((i) => i.label === label);

describe('tray menu model', () => {
  it('shows the VM boot progress while the engine starts', () => {
    const booting: EngineStatus = {
      ...down,
      mode: 'vm',
      boot: { stage: 'modules', percent: 23, message: 'Loading kernel modules' },
    };
    assert.equal(trayDot({ ...base, engine: booting }), 'amber');
    const [first] = trayMenu({ ...base, engine: booting });
    assert.equal(first?.label, 'Starting: Loading kernel modules (23 %)');
  });

  it('shows the engine state with a coloured dot', () => {
    assert.equal(trayDot(base), 'green');
    assert.equal(trayDot({ ...base, engine: down }), 'red');
    assert.equal(trayDot({ ...base, transition: 'starting' }), 'amber');
    assert.equal(trayDot({ ...base, engine: undefined }), 'grey');
    const [first] = trayMenu(base);
    assert.deepEqual(first, { label: 'Engine running (0.1.0)', enabled: false, dot: 'green' });
  });

  it('offers Start only when stopped, Stop and Restart only when running, nothing while busy', () => {
    const on = trayMenu(base);
    assert.equal(byLabel(on, 'Start')?.enabled, false);
    assert.equal(byLabel(on, 'Stop')?.enabled, true);
    assert.equal(byLabel(on, 'Restart')?.enabled, true);
    const off = trayMenu({ ...base, engine: down });
    assert.equal(byLabel(off, 'Engine stopped')?.dot, 'red');
    assert.equal(byLabel(off, 'Start')?.enabled, true);
    assert.equal(byLabel(off, 'Stop')?.enabled, false);
    const busy = trayMenu({ ...base, transition: 'stopping' });
    assert.ok(['Start', 'Stop', 'Restart'].every((l) => byLabel(busy, l)?.enabled === false));
    assert.equal(byLabel(trayMenu({ ...base, controllable: false }), 'Start'), undefined);
  });

  it('lists running containers with Stop and one "Open in browser" per published TCP port', () => {
    const items = trayMenu({
      ...base,
      containers: [container('web', 'running', [8080]), container('old', 'exited', [9090])],
    });
    const web = byLabel(items, 'web — nginx:alpine');
    assert.ok(web);
    assert.deepEqual(web.submenu, [
      {
        label: 'Open in browser (port 8080)',
        action: { kind: 'open-url', url: 'http://localhost:8080/' },
      },
      { label: 'Stop', action: { kind: 'container.stop', id: 'id-web' } },
    ]);
    assert.equal(byLabel(items, 'old — nginx:alpine'), undefined);
    assert.ok(byLabel(trayMenu(base), 'No running containers'));
  });

  it('ends with Dashboard, Settings, Start at login and Quit', () => {
    const labels = trayMenu({ ...base, startAtLogin: true })
      .filter((i) => i.type !== 'separator')
      .slice(-4);
    assert.deepEqual(
      labels.map((i) => [i.label, i.action?.kind]),
      [
        ['Dashboard', 'dashboard'],
        ['Settings…', 'settings'],
        ['Start at login', 'toggle-start-at-login'],
        ['Quit Berth', 'quit'],
      ],
    );
    assert.equal(labels[2]?.checked, true);
  });

  it('caps a long container list and points to the dashboard for the rest', () => {
    const many = Array.from({ length: 20 }, (_, i) => container(`c${i}`, 'running'));
    const items = trayMenu({ ...base, containers: many });
    assert.equal(items.filter((i) => i.label?.endsWith('nginx:alpine')).length, 15);
    assert.deepEqual(byLabel(items, '5 more…')?.action, { kind: 'dashboard' });
  });
});

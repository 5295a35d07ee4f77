import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { berthPaths, dockerHostFor, engineClientHost } from './paths.js';

describe('berth paths', () => {
  it('keeps everything of a machine under <root>/machines/<name>', () => {
    const p = berthPaths('/r');
    const m = p.machine('dev');
    for (const f of [
      m.settings,
      m.hostKey,
      m.clientKey,
      m.dataDisk,
      m.serialLog,
      m.hostLog,
      m.hostPid,
    ]) {
      assert.ok(f.startsWith('/r/machines/dev/'), f);
    }
    assert.equal(p.acceleratorVerdicts, '/r/accelerators.json');
    if (process.platform !== 'win32') assert.equal(p.dockerSocket, '/r/run/docker.sock');
  });

  it('spells DOCKER_HOST for unix sockets and Windows named pipes', () => {
    assert.equal(dockerHostFor('/r/run/docker.sock'), 'unix:///r/run/docker.sock');
    assert.equal(
      dockerHostFor('\\\\.\\pipe\\berth-docker-engine'),
      'npipe:////./pipe/berth-docker-engine',
    );
    assert.equal(engineClientHost('\\\\.\\pipe\\x'), 'unix://\\\\.\\pipe\\x');
  });
});

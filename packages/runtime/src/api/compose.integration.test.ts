/**
 * docker-compose (Debian's v1, a real API client) against berthd: `up -d` of a two-service
 * project with a user network, a named volume both services mount and a port published on
 * 127.0.0.1, then `ps`, `logs`, `exec -T`, `restart` (the volume's data survives) and `down -v`
 * (containers, network and volume gone).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collectLeftovers } from '../networks/host-registry.js';
import { composeProject, type ComposeProject } from '../testing/compose.js';
import { engineTestSkip, startEngineEnv, type EngineEnv } from '../testing/engine-env.js';
import { httpGet } from '../testing/http.js';
import { freePort, tempDir, waitFor } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';

const skip = engineTestSkip() || skipUnless(['docker-compose', 'ip', 'iptables']);

describe('docker-compose v1 through berthd', { skip, timeout: 600_000 }, () => {
  let env: EngineEnv;
  let dir: ReturnType<typeof tempDir>;
  let port: number;

  const project = `bc${process.pid}x${Date.now() % 100_000}`;
  let composer: ComposeProject;

  const compose = async (args: string[], expectCode = 0) => {
    const r = await composer.run(args);
    const why = `docker-compose ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`;
    if (expectCode >= 0) assert.equal(r.code, expectCode, why);
    return { ...r, why };
  };

  before(async () => {
    env = await startEngineEnv();
    dir = tempDir('compose');
    port = await freePort();
    const busybox = env.images.busybox.ref;
    composer = composeProject(env, project, dir.path);
    composer.write([
      'services:',
      '  web:',
      `    image: ${busybox}`,
      '    command: sh -c "echo hello-from-web && exec httpd -f -p 80 -h /data"',
      `    ports: ["127.0.0.1:${port}:80"]`,
      '    volumes: ["data:/data"]',
      '    networks: [back]',
      '  worker:',
      `    image: ${busybox}`,
      // Writes once: after a restart the file must still hold the first run's text.
      '    command: sh -c "[ -f /shared/x ] || echo from-worker > /shared/x; exec sleep 300"',
      '    volumes: ["data:/shared"]',
      '    networks: [back]',
      'networks:',
      '  back: {}',
      'volumes:',
      '  data: {}',
    ]);
  });

  after(async () => {
    if (env) {
      await compose(['down', '-v', '-t', '1'], -1).catch(() => undefined);
      await env.stop();
    }
    dir?.remove();
    await collectLeftovers();
  });

  it('up -d, ps, logs, exec, restart and down -v of a two-service project', async () => {
    await compose(['up', '-d']);

    // The published port, from the host: web serves the file worker wrote into the volume.
    let body = '';
    await waitFor(
      'web to serve /x from the volume',
      async () => {
        body = await httpGet(`http://127.0.0.1:${port}/x`, { requireOk: true });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.equal(body, 'from-worker\n');

    const ps = (await compose(['ps'])).stdout;
    const line = (svc: string) =>
      ps.split('\n').find((l) => l.startsWith(`${project}_${svc}_1 `)) ?? '';
    assert.match(line('web'), /\bUp\b/, ps);
    assert.ok(line('web').includes(`127.0.0.1:${port}->80/tcp`), ps);
    assert.match(line('worker'), /\bUp\b/, ps);

    let logs = '';
    await waitFor(
      'web log line',
      async () => {
        logs = (await compose(['logs', '--no-color', 'web'])).stdout;
        return logs.includes('hello-from-web');
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    assert.match(logs, /web_1\s+\| hello-from-web/);

    assert.equal((await compose(['exec', '-T', 'web', 'cat', '/data/x'])).stdout, 'from-worker\n');
    // Over the project network, by service name.
    const fetched = await compose(['exec', '-T', 'worker', 'wget', '-q', '-O-', 'http://web/x']);
    assert.equal(fetched.stdout, 'from-worker\n');

    await compose(['exec', '-T', 'web', 'sh', '-c', 'echo kept > /data/y']);
    await compose(['restart', '-t', '1']);
    assert.equal((await compose(['exec', '-T', 'web', 'cat', '/data/y'])).stdout, 'kept\n');
    await waitFor(
      'web to serve again after restart',
      async () => (await httpGet(`http://127.0.0.1:${port}/y`, { requireOk: true })) === 'kept\n',
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    await compose(['down', '-v', '-t', '1']);
    const left = await env.dockerOk([
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${project}`,
    ]);
    assert.equal(left.stdout, '', 'no containers of the project remain');
    const net = await env.docker(['network', 'inspect', `${project}_back`]);
    assert.notEqual(net.code, 0, 'the project network is gone');
    const vol = await env.docker(['volume', 'inspect', `${project}_data`]);
    assert.notEqual(vol.code, 0, 'the named volume is gone');
    assert.match(vol.stderr, /No such volume/);
    await assert.rejects(
      httpGet(`http://127.0.0.1:${port}/x`, { requireOk: true }),
      'the port is closed',
    );
  });
});

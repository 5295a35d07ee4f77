/**
 * End to end under QEMU/TCG, as a user: `berth machine init/start` with a temp HOME, the docker
 * CLI through `~/.berth/run/docker.sock`, an image pulled from a registry on the host's loopback
 * (the guest reaches it as 10.0.2.2), `docker run`, a bind mount of a host folder (virtiofs
 * where virtiofsd is installed, as here as root; the driver suite covers 9p), a published port
 * on the host's 127.0.0.1 (TCP, and UDP answered from inside a container), the real docker CLI through the `berth` context that `machine start`
 * makes (`docker --context berth run -p …`), QEMU killed with SIGKILL and booted again with the
 * data disk intact, and `berth machine status` reflecting each state.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QEMU_USER_NET_HOST } from '@berth/vm-image/protocol';
import { startRegistry, type Registry } from '../../runtime/dist/testing/registry.js';
import { pushTestImage } from '../../runtime/dist/testing/test-images.js';
import { engineTestSkip } from '../../runtime/dist/testing/engine-env.js';
import { ensureTestGuestImage, qemuSkip } from '../../machine/dist/testing/guest-image.js';
import { findVirtiofsd } from '../../machine/dist/drivers/qemu/virtiofsd.js';
import { freePort } from '../../machine/dist/util/process.js';
import { BERTH_JS, berth, describeRun, docker, inTerminal, type BerthResult } from './testing.js';

const skip = (await ensureTestGuestImage()) ?? (qemuSkip() || engineTestSkip());

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/index.html', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(
    `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
  );
}

/** Resolves once nothing listens on 127.0.0.1:port any more (bounded). */
function listenerGone(port: number, timeoutMs = 60_000): Promise<true> {
  return eventually(
    `the host listener on ${port} to close`,
    () =>
      httpGet(port).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? true : undefined),
      ),
    timeoutMs,
  );
}

/** Resolves with the page once 127.0.0.1:port serves it (bounded). */
function servedPage(port: number, page: string, timeoutMs = 120_000): Promise<string> {
  return eventually(
    `127.0.0.1:${port} to serve the page`,
    async () => {
      const b = await httpGet(port);
      return b === page ? b : undefined;
    },
    timeoutMs,
  );
}

/**
 * Sends `text` to 127.0.0.1:port over UDP every half second until an answer comes (bounded):
 * the first datagrams may arrive before the forwarding rule or the container's socket exists.
 */
function udpExchange(port: number, text: string, timeoutMs = 90_000): Promise<string> {
  const socket = createSocket('udp4');
  // ICMP "port unreachable" (nothing bound yet) may surface as a socket error: keep sending.
  socket.on('error', () => undefined);
  const send = () => socket.send(text, port, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  return new Promise<string>((resolve, reject) => {
    socket.on('message', (m) => resolve(m.toString()));
    timer = setInterval(send, 500);
    deadline = setTimeout(
      () => reject(new Error(`no UDP answer from 127.0.0.1:${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    send();
  }).finally(() => {
    clearInterval(timer);
    clearTimeout(deadline);
    socket.close();
  });
}

describe('berth machine under QEMU/TCG, end to end', { skip, timeout: 20 * 60_000 }, () => {
  let home: string;
  let shelf: string;
  let env: NodeJS.ProcessEnv;
  let registry: Registry;
  let guestRef: string;
  const run = async (args: string[], timeoutMs = 120_000): Promise<BerthResult> =>
    berth(args, { env, timeoutMs });
  const ok = async (args: string[], timeoutMs?: number): Promise<BerthResult> => {
    const r = await run(args, timeoutMs);
    assert.equal(r.code, 0, describeRun(args, r));
    return r;
  };
  const state = async (): Promise<string> => {
    const r = await run(['machine', 'status', '--json']);
    return (JSON.parse(r.stdout) as { state: string }).state;
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'berth-e2e-'));
    env = { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: join(home, '.docker') };
    if (process.env.BERTH_IMAGE_DIR) env.BERTH_IMAGE_DIR = process.env.BERTH_IMAGE_DIR;
    registry = await startRegistry();
    const pushed = await pushTestImage(registry.host, 'busybox');
    // The guest sees the host's loopback as the user-net gateway.
    guestRef = pushed.ref.replace('127.0.0.1', QEMU_USER_NET_HOST);
    mkdirSync(join(home, 'site'));
    writeFileSync(join(home, 'site', 'index.html'), 'hello from the host\n');
    shelf = mkdtempSync(join(tmpdir(), 'berth-e2e-ro-'));
    writeFileSync(join(shelf, 'note.txt'), 'look, do not touch\n');
  });

  after(async () => {
    if (shelf) rmSync(shelf, { recursive: true, force: true });
    if (home) {
      await run(['machine', 'rm', '--force']).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    }
    await registry?.stop();
  });

  it('inits a machine sharing the home folder', async () => {
    const port = registry.host.split(':')[1] ?? '';
    await ok([
      'machine',
      'init',
      '--cpus',
      '2',
      '--memory',
      '1536',
      '--disk',
      '4',
      '--accel',
      'tcg',
      '--share',
      home,
      '--share',
      `${shelf}:ro`,
      '--insecure-registry',
      `${QEMU_USER_NET_HOST}:${port}`,
    ]);
    assert.equal(await state(), 'stopped');
  });

  it('starts with progress and serves ~/.berth/run/docker.sock', async () => {
    const r = await ok(['machine', 'start'], 420_000);
    assert.match(r.stderr, /Starting the engine/);
    assert.match(r.stderr, /100% Berth is running/);
    assert.match(r.stdout, /docker context "berth" → unix:\/\//);
    assert.equal(await state(), 'running');
    assert.ok(existsSync(join(home, '.berth', 'run', 'docker.sock')));
    const version = await ok(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}']);
    assert.equal(version.stdout.trim(), 'linux/amd64');
  });

  it('shares the home folder into the guest at the same path (virtiofs where virtiofsd runs, else 9p), seen over machine ssh', async () => {
    const file = join(home, 'site', 'index.html');
    const r = await ok(['machine', 'ssh', 'cat', file]);
    assert.equal(r.stdout, 'hello from the host\n');
    const mounts = await ok(['machine', 'ssh', 'cat', '/proc/mounts']);
    const mount = mounts.stdout.split('\n').find((l) => l.split(' ')[1] === home);
    assert.equal(mount?.split(' ')[2], findVirtiofsd() ? 'virtiofs' : '9p', mounts.stdout);
    writeFileSync(join(home, 'site', 'from-host.txt'), 'written on the host\n');
    const back = await ok([
      'machine',
      'ssh',
      `cat ${join(home, 'site', 'from-host.txt')} && echo guest >${join(home, 'site', 'from-guest.txt')}`,
    ]);
    assert.equal(back.stdout, 'written on the host\n');
    assert.equal(readFileSync(join(home, 'site', 'from-guest.txt'), 'utf8'), 'guest\n');
  });

  it('pulls from the host registry', async () => {
    await ok(['pull', guestRef], 300_000);
    const images = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.ok(images.stdout.includes(guestRef), images.stdout);
  });

  it('runs a container', async () => {
    const hello = await ok(['run', '--rm', guestRef, 'echo', 'hello from the guest'], 180_000);
    assert.equal(hello.stdout.trim(), 'hello from the guest');
  });

  it('follows logs (logs -f) and gives exec -it a terminal, through the host socket', async () => {
    await ok(
      [
        'run',
        '-d',
        '--name',
        'chatty',
        guestRef,
        'sh',
        '-c',
        'for i in 1 2 3; do echo line $i; sleep 1; done',
      ],
      180_000,
    );
    // Started while the container still writes: -f streams until it exits.
    const follow = await ok(['logs', '-f', 'chatty'], 120_000);
    assert.equal(follow.stdout, 'line 1\nline 2\nline 3\n');
    await ok(['run', '-d', '--name', 'shell', guestRef, 'sleep', '300'], 180_000);
    const line = `${process.execPath} ${BERTH_JS} exec -it shell sh -c 'tty; echo "[$TERM]"; exit 7'`;
    const tty = await inTerminal(line, { env, timeoutMs: 120_000 });
    assert.equal(tty.code, 7, describeRun(['exec', '-it', 'shell'], tty));
    assert.match(tty.stdout, /\/dev\/pts\/\d+/);
    assert.match(tty.stdout, /\[xterm\]/);
    await ok(['rm', '-f', 'chatty', 'shell'], 120_000);
  });

  it('reports OOMKilled for a container killed by its memory limit (crun, cgroup v2)', async () => {
    // tail keeps the whole 64 MiB line in memory: over the 16 MiB limit.
    const cmd = 'head -c 67108864 /dev/zero | tail -n 1 >/dev/null';
    const args = ['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', guestRef];
    const r = await run([...args, 'sh', '-c', cmd], 180_000);
    assert.equal(r.code, 137, describeRun(args, r));
    const state = await ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom']);
    assert.equal(state.stdout.trim(), 'true 137');
    await ok(['rm', 'oom']);
  });

  it('gives containers host.docker.internal, the host', async () => {
    const port = registry.host.split(':')[1] ?? '';
    const r = await ok(
      ['run', '--rm', guestRef, 'wget', '-q', '-O-', `http://host.docker.internal:${port}/v2/`],
      180_000,
    );
    assert.equal(r.stdout.trim(), '{}');
  });

  it('bind-mounts a host folder at the same path', async () => {
    const r = await ok(
      ['run', '--rm', '-v', `${join(home, 'site')}:/site`, guestRef, 'cat', '/site/index.html'],
      180_000,
    );
    assert.equal(r.stdout, 'hello from the host\n');
  });

  it('shares a folder read-only when asked (--share DIR:ro)', async () => {
    const r = await run(
      [
        'run',
        '--rm',
        '-v',
        `${shelf}:/shelf`,
        guestRef,
        'sh',
        '-c',
        'cat /shelf/note.txt; touch /shelf/new',
      ],
      180_000,
    );
    assert.equal(r.stdout, 'look, do not touch\n');
    assert.notEqual(r.code, 0, describeRun(['run'], r));
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(existsSync(join(shelf, 'new')), false);
  });

  it('publishes a port on the host’s 127.0.0.1 and removes it with the container', async () => {
    const port = await freePort();
    await ok(
      [
        'run',
        '-d',
        '--name',
        'web',
        '-p',
        `${port}:8080`,
        '-v',
        `${join(home, 'site')}:/www`,
        guestRef,
        'httpd',
        '-f',
        '-p',
        '8080',
        '-h',
        '/www',
      ],
      180_000,
    );
    assert.equal(await servedPage(port, 'hello from the host\n'), 'hello from the host\n');
    await ok(['rm', '-f', 'web'], 120_000);
    await listenerGone(port);
  });

  it('publishes a UDP port on the host’s 127.0.0.1: datagrams reach the container and answers come back', async () => {
    const port = await freePort();
    // The test image's busybox has no UDP server (Debian's nc has no -u): the container runs
    // the guest's own Node, with the guest's /usr, /lib and /lib64 mounted read-only.
    const echo =
      "require('node:dgram').createSocket('udp4')" +
      ".on('message', function (m, r) { this.send('echo ' + m, r.port, r.address); }).bind(5301)";
    await ok(
      [
        'run',
        '-d',
        '--name',
        'udp-echo',
        '-p',
        `127.0.0.1:${port}:5301/udp`,
        ...['-v', '/usr:/usr:ro', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro'],
        '--entrypoint',
        '/usr/bin/node',
        guestRef,
        '-e',
        echo,
      ],
      180_000,
    );
    const ports = await ok(['port', 'udp-echo']);
    assert.match(ports.stdout, new RegExp(`^5301/udp -> 127\\.0\\.0\\.1:${port}$`, 'm'));
    assert.equal(await udpExchange(port, 'ping over udp'), 'echo ping over udp');
    await ok(['rm', '-f', 'udp-echo'], 120_000);
  });

  it('works as `berth machine start && docker --context berth run -p …` does for a user', async () => {
    // `machine start` made the context; DOCKER_CONFIG is the temp home's, not the user's.
    const context = await docker(
      ['context', 'inspect', 'berth', '--format', '{{.Endpoints.docker.Host}}'],
      { env },
    );
    assert.equal(context.stdout.trim(), `unix://${join(home, '.berth', 'run', 'docker.sock')}`);
    const dockerOk = async (args: string[]): Promise<BerthResult> => {
      const argv = ['--context', 'berth', ...args];
      const r = await docker(argv, { env, timeoutMs: 180_000 });
      assert.equal(r.code, 0, describeRun(argv, r, 'docker'));
      return r;
    };
    const site = join(home, 'site');
    const port = await freePort();
    await dockerOk([
      'run',
      '-d',
      '--name',
      'web80',
      '-p',
      `${port}:80`,
      '-v',
      `${site}:/www`,
      guestRef,
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    assert.equal(await servedPage(port, 'hello from the host\n'), 'hello from the host\n');

    const once = await freePort();
    const hello = await dockerOk([
      'run',
      '--rm',
      '-p',
      `${once}:80`,
      guestRef,
      'echo',
      'hello through the berth context',
    ]);
    assert.equal(hello.stdout, 'hello through the berth context\n');
    await listenerGone(once);

    await dockerOk(['stop', '-t', '1', 'web80']);
    await listenerGone(port);
    await dockerOk(['rm', 'web80']);

    // In the foreground, as the issue types it: it serves while attached; stopping it ends the
    // client, removes the container (--rm) and closes the host port.
    const fgArgv = ['--context', 'berth', 'run', '--rm', '--name', 'web-fg', '-p', `${port}:80`];
    const foreground = docker(
      [...fgArgv, '-v', `${site}:/www`, guestRef, 'httpd', '-f', '-p', '80', '-h', '/www'],
      {
        env,
        timeoutMs: 240_000,
      },
    );
    assert.equal(await servedPage(port, 'hello from the host\n'), 'hello from the host\n');
    await dockerOk(['stop', '-t', '1', 'web-fg']);
    const fg = await foreground;
    assert.equal(fg.code, 137, describeRun(fgArgv, fg, 'docker'));
    await listenerGone(port);
    await eventually(
      'the --rm container to be removed',
      async () => {
        const left = await dockerOk([
          'ps',
          '-a',
          '--filter',
          'name=web-fg',
          '--format',
          '{{.Names}}',
        ]);
        return left.stdout.trim() === '' ? true : undefined;
      },
      60_000,
    );
  });

  it('takes over a running VM whose host process died, without rebooting it', async () => {
    const before = JSON.parse((await run(['machine', 'status', '--json'])).stdout) as {
      pid?: number;
      hostPid?: number;
    };
    assert.ok(before.hostPid && before.pid);
    process.kill(before.hostPid, 'SIGKILL');
    await eventually(
      'status to notice',
      async () => ((await state()) === 'error' ? true : undefined),
      30_000,
    );
    const r = await ok(['machine', 'start'], 120_000);
    assert.doesNotMatch(r.stderr, /Booting the Linux kernel/);
    const after = JSON.parse((await run(['machine', 'status', '--json'])).stdout) as {
      pid?: number;
      state: string;
    };
    assert.equal(after.state, 'running');
    assert.equal(after.pid, before.pid);
  });

  it('notices QEMU being killed, and boots again with the data disk intact (from the services’ startup snapshots)', async () => {
    // The agent snapshots both services after its first ready boot (in the background, bounded
    // here).
    const snapshot = await eventually(
      'the startup snapshots on the data disk',
      async () => {
        const r = await run(['machine', 'ssh', '--', 'ls /var/lib/berth/.node-cache/']);
        return /^agent-[0-9a-f]+\.blob$/m.test(r.stdout) &&
          /^engine-[0-9a-f]+\.blob$/m.test(r.stdout)
          ? true
          : undefined;
      },
      180_000,
    );
    assert.ok(snapshot);
    const status = JSON.parse((await run(['machine', 'status', '--json'])).stdout) as {
      pid?: number;
    };
    assert.ok(status.pid);
    process.kill(status.pid, 'SIGKILL');
    await eventually(
      'status to say stopped',
      async () => ((await state()) === 'stopped' ? true : undefined),
      60_000,
    );
    const down = await run(['ps']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Cannot connect to the Berth engine .* Try: berth machine start/);
    await ok(['machine', 'start'], 420_000);
    const images = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.ok(images.stdout.includes(guestRef), images.stdout);
    const logs = await ok([
      'machine',
      'ssh',
      '--',
      'cat /run/berth/agent.log /run/berth/engine.log',
    ]);
    assert.match(logs.stdout, /agent started from its snapshot/);
    assert.match(logs.stdout, /engine started from its snapshot/);
    assert.match(logs.stdout, /berthd: API listening/, 'its output reaches the log');
  });

  it('shows the guest console, stops, and removes everything', async () => {
    const logs = await ok(['machine', 'logs']);
    assert.match(logs.stdout, /berth-stage: ready/);
    await ok(['machine', 'stop'], 120_000);
    assert.equal(await state(), 'stopped');
    await ok(['machine', 'rm']);
    assert.equal(await state(), 'absent');
    assert.equal(existsSync(join(home, '.berth', 'machines', 'default')), false);
  });
});

/**
 * exec, top and stats through berthd with the real docker CLI: `docker exec` with output,
 * stdin, -e/-u/-w and exit codes (in exec inspect and as the CLI's status), a TTY (the CLI
 * given a terminal by util-linux `script`), `exec -d`, exec events, `docker top`,
 * `docker stats --no-stream` and the streamed stats API; bad input answered as Docker does.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { run, waitFor } from '../testing/process.js';
import { socketRequest } from '../testing/socket-http.js';
import { skipUnless } from '../testing/tools.js';

const skip = engineTestSkip();

describe('exec, top and stats through berthd and the docker CLI', { skip }, () => {
  let env: EngineEnv;
  let busybox: string;
  let id: string;

  const docker = (args: string[], input?: string) =>
    env.docker(args, { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: 120_000 })).stdout;
  const api = (path: string, opts: Parameters<typeof socketRequest>[2] = {}) =>
    socketRequest(env.berthd.socket, path, { timeoutMs: 30_000, ...opts });
  const postJson = (path: string, body: unknown) =>
    api(path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    });

  before(async () => {
    env = await startEngineEnv();
    busybox = env.images.busybox.ref;
    await ok('pull', busybox);
    id = (await ok('run', '-d', '--name', 'ex', busybox, 'sleep', '1000')).trim();
  });

  after(async () => {
    await env?.docker(['rm', '-f', 'ex', 'stopped'], { timeoutMs: 60_000 });
    await env?.stop();
  });

  it('runs a command and returns its output', async () => {
    assert.equal(await ok('exec', 'ex', 'echo', 'hi'), 'hi\n');
  });

  it('feeds stdin with -i and ends it on EOF', async () => {
    const r = await docker(['exec', '-i', 'ex', 'cat'], 'line one\nline two\n');
    assert.equal(r.code, 0, describeResult(['exec', '-i'], r));
    assert.equal(r.stdout, 'line one\nline two\n');
  });

  it('keeps stdout and stderr apart without a TTY', async () => {
    const r = await docker(['exec', 'ex', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('applies -e, -u and -w and passes the exit code on', async () => {
    const args = ['exec', '-e', 'X=1', '-u', '1000', '-w', '/tmp', 'ex', 'sh', '-c'];
    const r = await docker([...args, 'echo $X $(id -u) $(pwd); exit 3']);
    assert.equal(r.code, 3, describeResult(args, r));
    assert.equal(r.stdout, '1 1000 /tmp\n');
  });

  it('reports a missing command with exit code 127', async () => {
    const r = await docker(['exec', 'ex', 'no-such-command']);
    assert.equal(r.code, 127, describeResult(['exec'], r));
    assert.match(r.stdout, /executable file not found/);
  });

  it('records the exit code in exec inspect (API, detached start)', async () => {
    const created = await postJson('/containers/ex/exec', { Cmd: ['sh', '-c', 'exit 7'] });
    assert.equal(created.status, 201, created.body);
    const execId = (JSON.parse(created.body) as { Id: string }).Id;
    const before = JSON.parse((await api(`/exec/${execId}/json`)).body) as Record<string, unknown>;
    assert.equal(before.Running, false);
    assert.equal(before.ExitCode, null);
    assert.equal(before.ContainerID, id);
    const started = await postJson(`/exec/${execId}/start`, { Detach: true });
    assert.equal(started.status, 200, started.body);
    let info: Record<string, unknown> = {};
    await waitFor(
      'the exec to exit',
      async () => {
        info = JSON.parse((await api(`/exec/${execId}/json`)).body) as Record<string, unknown>;
        return info.Running === false && info.ExitCode !== null;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(info.ExitCode, 7);
    assert.deepEqual(info.ProcessConfig, {
      tty: false,
      entrypoint: 'sh',
      arguments: ['-c', 'exit 7'],
      privileged: false,
    });
    assert.ok((info.Pid as number) > 0);
    const again = await postJson(`/exec/${execId}/start`, { Detach: true });
    assert.equal(again.status, 409);
    assert.match(again.body, /has already run/);
  });

  it("lists the container's pending and running execs in inspect's ExecIDs", async () => {
    const execIds = async () =>
      (JSON.parse((await api('/containers/ex/json')).body) as { ExecIDs: string[] | null }).ExecIDs;
    const created = await postJson('/containers/ex/exec', { Cmd: ['sleep', '1'] });
    assert.equal(created.status, 201, created.body);
    const execId = (JSON.parse(created.body) as { Id: string }).Id;
    assert.deepEqual(await execIds(), [execId]);
    const started = await postJson(`/exec/${execId}/start`, { Detach: true });
    assert.equal(started.status, 200, started.body);
    // Gone once it exits, as in moby; none left shows as null.
    await waitFor('the exec to leave ExecIDs', async () => (await execIds()) === null, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  });

  it('runs detached with exec -d', async () => {
    await ok('exec', '-d', 'ex', 'sh', '-c', 'echo bg > /tmp/bg');
    await waitFor(
      'the detached exec to write its file',
      async () => (await docker(['exec', 'ex', 'cat', '/tmp/bg'])).stdout === 'bg\n',
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  it(
    'gives a TTY with -t (the CLI in a terminal made by script)',
    { skip: skipUnless(['script']) },
    async () => {
      const cmd = `docker exec -t ex sh -c 'tty; echo "[$TERM]"'`;
      const r = await run('script', ['-qec', cmd, '/dev/null'], {
        env: { ...process.env, DOCKER_HOST: env.berthd.dockerHost, DOCKER_CLI_HINTS: 'false' },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /\/dev\/pts\/\d+/);
      assert.match(r.stdout, /\[xterm\]/);
    },
  );

  it('serves a TTY exec as a raw stream and resizes it (API)', async () => {
    const created = await postJson('/containers/ex/exec', {
      Cmd: ['sh', '-c', 'sleep 1; stty size'],
      Tty: true,
      AttachStdout: true,
    });
    const execId = (JSON.parse(created.body) as { Id: string }).Id;
    const resized = await api(`/exec/${execId}/resize?h=33&w=101`, { method: 'POST' });
    assert.equal(resized.status, 200, resized.body);
    const out = await postJson(`/exec/${execId}/start`, { Detach: false, Tty: true });
    assert.equal(out.status, 200);
    assert.equal(out.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.match(out.body, /^33 101\r?\n$/);
  });

  it('emits exec_create, exec_start and exec_die events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok('exec', 'ex', 'true');
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = await ok(
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'container=ex',
      '--format',
      '{{.Action}} {{index .Actor.Attributes "exitCode"}}',
    );
    assert.match(events, /^exec_create: true/m);
    assert.match(events, /^exec_start: true/m);
    assert.match(events, /^exec_die 0$/m);
  });

  it('refuses bad input as Docker does', async () => {
    await ok('create', '--name', 'stopped', busybox, 'true');
    const r = await docker(['exec', 'stopped', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: Container [0-9a-f]{64} is not running/);
    const created = await postJson('/containers/stopped/exec', { Cmd: ['true'] });
    assert.equal(created.status, 409);
    const missing = await api('/exec/nope/json');
    assert.equal(missing.status, 404);
    assert.equal(
      (JSON.parse(missing.body) as { message: string }).message,
      'No such exec instance: nope',
    );
    const empty = await postJson('/containers/ex/exec', { Cmd: [] });
    assert.equal(empty.status, 400);
    assert.match(empty.body, /No exec command specified/);
  });

  it('lists the container processes with docker top', async () => {
    const out = await ok('top', 'ex');
    const [titles, ...rows] = out.trim().split('\n');
    assert.deepEqual(titles?.trim().split(/\s+/), [
      'UID',
      'PID',
      'PPID',
      'C',
      'STIME',
      'TTY',
      'TIME',
      'CMD',
    ]);
    assert.ok(
      rows.some((r) => r.endsWith('sleep 1000')),
      out,
    );
    const custom = JSON.parse((await api('/containers/ex/top?ps_args=-o%20pid,comm')).body) as {
      Titles: string[];
      Processes: string[][];
    };
    assert.deepEqual(custom.Titles, ['PID', 'COMMAND']);
    assert.ok(custom.Processes.some((p) => p[1] === 'sleep'));
    const stopped = await api('/containers/stopped/top');
    assert.equal(stopped.status, 409);
  });

  it('prints stats with --no-stream and streams them once a second', async () => {
    const out = await ok(
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}} {{.MemUsage}} {{.PIDs}}',
      'ex',
    );
    const m = /^ex (\S+)\s*\/\s*(\S+) (\d+)$/.exec(out.trim());
    assert.ok(m, out);
    assert.ok(Number(m[3]) >= 1, out);
    assert.notEqual(m[1], '0B', out);

    const one = JSON.parse((await api('/containers/ex/stats?stream=false')).body) as Record<
      string,
      Record<string, unknown>
    >;
    const cpu = one.cpu_stats as {
      cpu_usage: { total_usage: number };
      system_cpu_usage: number;
      online_cpus: number;
    };
    assert.ok(cpu.cpu_usage.total_usage > 0);
    assert.ok(cpu.system_cpu_usage > 0);
    assert.ok(cpu.online_cpus >= 1);
    assert.notEqual(one.preread, '0001-01-01T00:00:00Z');
    assert.ok(((one.memory_stats as { usage: number }).usage ?? 0) > 0);

    // The stream sends a frame per second until the client goes: read two, then hang up.
    const frames = await streamFrames(env.berthd.socket, '/containers/ex/stats', 2, 15_000);
    assert.equal(frames.length, 2);
    const [first, second] = frames.map((f) => JSON.parse(f) as { read: string; preread: string });
    assert.equal(first?.preread, '0001-01-01T00:00:00Z');
    assert.equal(second?.preread, first?.read);

    const stopped = JSON.parse(
      (await api('/containers/stopped/stats?stream=false')).body,
    ) as Record<string, unknown>;
    assert.equal(stopped.read, '0001-01-01T00:00:00Z');
  });
});

/** The first `count` newline-separated frames of a streamed GET, then the connection is cut. */
function streamFrames(
  socket: string,
  path: string,
  count: number,
  timeoutMs: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const frames: string[] = [];
    let buf = '';
    const req = request({ socketPath: socket, path, headers: { host: 'docker' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0 && frames.length < count; nl = buf.indexOf('\n')) {
          frames.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        if (frames.length >= count) {
          clearTimeout(timer);
          req.destroy();
          resolve(frames);
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve(frames);
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no ${count} frames from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      if (frames.length < count) reject(err);
    });
    req.end();
  });
}

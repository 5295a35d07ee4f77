/**
 * The built `berthd` binary as a user runs it: flags, exit codes and messages, the socket's
 * mode, the pidfile, the JSON log, a clean stop on SIGTERM, and the real docker CLI against it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistryProxy } from '../images/registry/test-proxy.js';
import { BERTHD_JS, spawnBerthd } from '../testing/berthd.js';
import { docker, dockerBinary } from '../testing/docker-cli.js';
import { run, stopChild, tempDir, waitFor } from '../testing/process.js';
import { startRegistry } from '../testing/registry.js';
import { socketRequest } from '../testing/socket-http.js';
import { skipUnless } from '../testing/tools.js';

const berthd = (args: string[]) =>
  run(process.execPath, [BERTHD_JS, ...args], { timeoutMs: 20_000 });

interface Running {
  child: ChildProcess;
  socket: string;
  dataRoot: string;
  execRoot: string;
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
}

/** Starts berthd on a socket in `dir` and waits until it answers /_ping. */
async function startIn(dir: string, extra: string[] = []): Promise<Running> {
  const socket = join(dir, 'run', 'berth.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const { child, output } = await spawnBerthd({ socket, dataRoot, execRoot, args: extra });
  // The daemon may already have exited by now (`exitCode` set): then no 'exit' event follows.
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { child, socket, dataRoot, execRoot, output, exited };
}

describe('berthd CLI', () => {
  const tmp = tempDir('berthd-cli');
  after(() => tmp.remove());

  it('--help prints usage with dockerd’s flags and exits 0', async () => {
    const r = await berthd(['--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '--host',
      '--data-root',
      '--exec-root',
      '--pidfile',
      '--insecure-registry',
      '--ip',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
    assert.match(r.stdout, /^Usage: {2}berthd \[OPTIONS\]/);
  });

  it('--version and -v print the engine version and build', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await berthd([flag]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Berth engine version \d+\.\d+\.\d+, build \S+\n$/);
    }
  });

  it('refuses unknown flags and arguments with exit 2 and a hint, no stack trace', async () => {
    const r = await berthd(['--bogus']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "berthd: unknown flag: --bogus\nSee 'berthd --help'.\n");
    const missing = await berthd(['--data-root']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^berthd: flag needs an argument: --data-root\n/);
    const positional = await berthd(['start']);
    assert.equal(positional.code, 2);
    const level = await berthd(['--log-level', 'loud']);
    assert.equal(level.code, 2);
    assert.match(level.stderr, /invalid log level: loud/);
    const ip = await berthd(['--ip', '::1']);
    assert.equal(ip.code, 2);
    assert.match(ip.stderr, /invalid IPv4 address in --ip: ::1/);
  });

  it('exits 1 with a clear message for unusable listen addresses', async () => {
    const dir = join(tmp.path, 'unusable');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const roots = ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec')];
    const cases: [string, RegExp][] = [
      [`unix://${file}/berth.sock`, /cannot create the directory for socket unix:\/\/.*plain-file/],
      [`unix://${file}`, /exists and is not a socket/],
      ['fd://', /fd:\/\/.*not supported/],
      ['tcp://0.0.0.0:2375', /refusing to listen beyond loopback/],
      ['unix://relative.sock', /must be absolute/],
    ];
    for (const [host, message] of cases) {
      const r = await berthd(['-H', host, ...roots]);
      assert.equal(r.code, 1, `${host}: ${r.stderr}`);
      assert.match(r.stderr, message, host);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('replaces a stale socket left by a killed process', async () => {
    const dir = join(tmp.path, 'stale');
    const socket = join(dir, 'run', 'berth.sock');
    mkdirSync(join(dir, 'run'), { recursive: true });
    // A process that binds the socket and dies without removing it.
    const holder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await new Promise((r) => holder.once('exit', r));
    assert.ok(statSync(socket).isSocket());
    const d = await startIn(dir);
    await stopChild(d.child);
    assert.equal(await d.exited, 0);
  });

  it("takes over a data-root lock left by a dead daemon even when its pid is someone else's now", async () => {
    // As in the VM: the data disk keeps berthd.lock from the last boot, and its pid now
    // belongs to another live process (here: this test runner).
    const dir = join(tmp.path, 'stale-lock');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'berthd.lock'), `${process.pid}\n`);
    const d = await startIn(dir);
    assert.equal(readFileSync(join(d.dataRoot, 'berthd.lock'), 'utf8'), `${d.child.pid}\n`);
    await stopChild(d.child);
    assert.equal(await d.exited, 0);
  });

  describe('a running daemon', () => {
    let d: Running;
    before(async () => {
      d = await startIn(join(tmp.path, 'main'), ['--insecure-registry', 'myreg.example:5000']);
    });
    after(async () => {
      if (d) await stopChild(d.child);
    });

    it('creates the socket with mode 0660 or tighter', () => {
      const mode = statSync(d.socket).mode & 0o777;
      assert.equal(mode & ~0o660, 0, `mode ${mode.toString(8)}`);
    });

    it('writes its pid to the pidfile', () => {
      const pidfile = join(d.execRoot, 'berthd.pid');
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(d.child.pid));
    });

    it('refuses a second daemon on the same socket or exec root', async () => {
      const sameSocket = await berthd([
        '-H',
        `unix://${d.socket}`,
        '--data-root',
        join(tmp.path, 'other-data'),
        '--exec-root',
        join(tmp.path, 'other-exec'),
      ]);
      assert.equal(sameSocket.code, 1);
      assert.match(sameSocket.stderr, /another berthd is listening on unix:\/\//);
      const sameExec = await berthd([
        '-H',
        `unix://${join(tmp.path, 'other.sock')}`,
        '--data-root',
        d.dataRoot,
        '--exec-root',
        d.execRoot,
      ]);
      assert.equal(sameExec.code, 1);
      assert.match(sameExec.stderr, /data root .* is in use by another berthd/);
      const sameExecOnly = await berthd([
        '-H',
        `unix://${join(tmp.path, 'other.sock')}`,
        '--data-root',
        join(tmp.path, 'other-data'),
        '--exec-root',
        d.execRoot,
      ]);
      assert.equal(sameExecOnly.code, 1);
      assert.match(sameExecOnly.stderr, /pid file found, ensure berthd is not running/);
      // The refused daemons must not have touched the running one's files.
      assert.ok(existsSync(d.socket));
      assert.equal(
        readFileSync(join(d.execRoot, 'berthd.pid'), 'utf8').trim(),
        String(d.child.pid),
      );
    });

    describe('with the docker CLI', { skip: skipUnless(['docker']) }, () => {
      const cli = (args: string[]) =>
        docker(args, { host: `unix://${d.socket}`, timeoutMs: 30_000 });

      it('docker version, docker info and docker system df work', async () => {
        const version = await cli(['version']);
        assert.equal(version.code, 0, version.stderr);
        assert.match(version.stdout, /Server: Berth Engine/);
        assert.match(version.stdout, /Go version:\s+node v/);
        const info = await cli(['info']);
        assert.equal(info.code, 0, info.stderr);
        assert.match(info.stdout, /Storage Driver: overlayfs/);
        assert.match(info.stdout, new RegExp(`Docker Root Dir: ${d.dataRoot}`));
        assert.match(info.stdout, /Insecure Registries:\n\s+myreg\.example:5000/);
        assert.doesNotMatch(info.stderr, /error/i);
        for (const args of [
          ['system', 'df'],
          ['system', 'df', '-v'],
        ]) {
          const df = await cli(args);
          assert.equal(df.code, 0, df.stderr);
          assert.match(df.stdout, /Images|REPOSITORY/);
        }
        const newer = '/usr/local/bin/docker';
        if (dockerBinary() !== newer && existsSync(newer)) {
          const r = await run(newer, ['info'], {
            env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` },
            timeoutMs: 30_000,
          });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /Server Version: \d/);
        }
      });

      it(
        'docker login checks credentials at a token-auth registry',
        { skip: skipUnless(['docker-registry']) },
        async () => {
          const registry = await startRegistry();
          const proxy = await startRegistryProxy(registry.url, {
            bearer: { username: 'alice', password: 's3cret' },
          });
          const config = tempDir('docker-login');
          const login = (password: string) =>
            docker(['login', '-u', 'alice', '--password-stdin', proxy.host], {
              host: `unix://${d.socket}`,
              configDir: config.path,
              input: password,
              timeoutMs: 30_000,
            });
          try {
            const good = await login('s3cret');
            assert.equal(good.code, 0, good.stderr);
            assert.match(good.stdout, /Login Succeeded/);
            const bad = await login('wrong');
            assert.equal(bad.code, 1);
            assert.match(bad.stderr, /incorrect username or password/);
          } finally {
            config.remove();
            await proxy.stop();
            await registry.stop();
          }
        },
      );

      it('docker events --since/--until replays and ends', async () => {
        const since = Math.floor(Date.now() / 1000) - 60;
        const r = await cli(['events', '--since', String(since), '--until', '1s']);
        // "1s" is resolved by the CLI to one second before now; the stream must end on its own.
        assert.equal(r.code, 0, r.stderr);
      });
    });

    it('logs JSON lines, one per request', async () => {
      await socketRequest(d.socket, '/v1.41/_ping');
      const read = () =>
        readFileSync(join(d.dataRoot, 'berthd.log'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const isPing = (e: Record<string, unknown>) =>
        e.msg === 'request' && e.path === '/v1.41/_ping';
      // The request line is written when the server finishes the response, which can be just
      // after the client has read it.
      await waitFor('the request log line', () => Promise.resolve(read().some(isPing)), {
        timeoutMs: 5_000,
      });
      const entries = read();
      assert.ok(entries.every((e) => typeof e.time === 'string' && typeof e.level === 'string'));
      assert.ok(entries.some((e) => e.msg === 'berthd started'));
      assert.ok(entries.some(isPing));
    });

    it('stops on SIGTERM with exit 0, removing socket and pidfile', async () => {
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
      assert.equal(existsSync(d.socket), false);
      assert.equal(existsSync(join(d.execRoot, 'berthd.pid')), false);
      assert.equal(existsSync(join(d.dataRoot, 'berthd.lock')), false);
      const last = readFileSync(join(d.dataRoot, 'berthd.log'), 'utf8').trim().split('\n').at(-1);
      assert.equal((JSON.parse(last ?? '{}') as { msg?: string }).msg, 'berthd stopped');
    });
  });

  it('also listens on loopback TCP when asked, with a warning', async () => {
    const d = await startIn(join(tmp.path, 'tcp'), ['-H', 'tcp://127.0.0.1:0']);
    try {
      assert.match(d.output(), /WARNING: the API on tcp:\/\/127\.0\.0\.1:0 is unencrypted/);
      const port = /API listening on .*tcp:\/\/127\.0\.0\.1:(\d+)/.exec(d.output())?.[1];
      assert.ok(port, d.output());
      const res = await fetch(`http://127.0.0.1:${port}/_ping`, {
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(await res.text(), 'OK');
    } finally {
      await stopChild(d.child);
    }
    assert.equal(await d.exited, 0);
  });

  it('refuses an insecure registry given as a URL', async () => {
    const r = await berthd(['--insecure-registry', 'http://myreg:5000']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /insecure registry http:\/\/myreg:5000 should not contain/);
  });

  it('-D mirrors the log to stderr and SIGINT stops it too', async () => {
    const d = await startIn(join(tmp.path, 'debug'), ['-D']);
    await socketRequest(d.socket, '/_ping');
    await waitFor('a request line on stderr', () =>
      Promise.resolve(d.output().includes('"msg":"request"')),
    );
    d.child.kill('SIGINT');
    assert.equal(await d.exited, 0);
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { InvalidParameterError, NotFoundError } from '../api/errors.js';
import { collect, tempDir, within } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { detectCgroup } from './cgroups.js';
import { ConsoleSocket } from './console-socket.js';
import { createRuntime, detectRuntime, runSupportsKeep, type OciRuntime } from './oci-runtime.js';
import { buildExecProcess, buildSpec, type SpecInput } from './oci-spec.js';
import type { ExitStatus } from './reaper.js';
import { makeBusyboxRootfs } from './test-rootfs.js';

const cgroup = detectCgroup();
const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP_PARENT = 'berth-test';
const choice = (() => {
  try {
    return detectRuntime(cgroup);
  } catch {
    return undefined;
  }
})();
const skip = skipUnless(['root', '/bin/busybox']) || (choice ? false : 'no runc or crun installed');

interface RunOutcome {
  stdout: string;
  stderr: string;
  exit: ExitStatus | undefined;
}

describe('oci-runtime (real runc/crun)', { skip }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let runtime: OciRuntime;
  let stateDir: string;
  let rootfs: string;

  before(() => {
    tmp = tempDir('oci-runtime');
    stateDir = join(tmp.path, 'state');
    rootfs = makeBusyboxRootfs(tmp.path);
    mkdirSync(join(rootfs, 'app'));
    runtime = createRuntime(stateDir, choice);
  });
  after(() => {
    tmp.remove();
    // runc removes each container's cgroup, not the parent they share.
    for (const dir of [CGROUP_ROOT, ...readdirSync(CGROUP_ROOT).map((d) => join(CGROUP_ROOT, d))]) {
      try {
        rmdirSync(join(dir, CGROUP_PARENT));
      } catch {
        // not there, or not a cgroup hierarchy
      }
    }
  });

  /** A bundle per container (its own config.json, the shared rootfs). */
  async function bundleFor(id: string, over: Partial<SpecInput>): Promise<string> {
    const bundle = join(tmp.path, 'bundles', id);
    mkdirSync(bundle, { recursive: true });
    const spec = await buildSpec({
      id,
      rootfs,
      config: { Cmd: ['true'] },
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      cgroup,
      ...over,
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    return bundle;
  }

  function newId(): string {
    return `berth-test-${randomBytes(6).toString('hex')}`;
  }

  /** create → start → wait, reading stdout/stderr through pipes; always deleted after. */
  async function runContainer(t: TestContext, over: Partial<SpecInput>): Promise<RunOutcome> {
    const id = newId();
    t.after(() => runtime.delete(id, { force: true }));
    const bundle = await bundleFor(id, over);
    const proc = await runtime.create(id, {
      bundle,
      stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    });
    const stdout = collect(proc.stdout);
    const stderr = collect(proc.stderr);
    assert.equal((await runtime.state(id)).status, 'created');
    await runtime.start(id);
    const exit = await within(proc.exited, 20_000, `container ${id} to exit`).catch(
      async (e: unknown) => {
        await runtime.kill(id, 'KILL').catch(() => undefined);
        throw e;
      },
    );
    return { stdout: await stdout, stderr: await stderr, exit };
  }

  const sh = (script: string): Partial<SpecInput> => ({
    config: { Cmd: ['sh', '-c', script] },
  });

  it(`picks ${choice?.name} for a ${cgroup.mode} cgroup hierarchy`, () => {
    assert.equal(choice?.name, cgroup.mode === 'unified' ? 'crun' : 'runc');
  });

  it('knows which installed runtimes take run --keep (crun before 1.9 does not)', () => {
    for (const binary of ['/usr/sbin/runc', '/usr/bin/runc', '/usr/bin/crun']) {
      if (!existsSync(binary)) continue;
      const r = spawnSync(binary, ['run', '--keep', '--bundle', '/nonexistent', 'x'], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      const refused = /unrecognized option|flag provided but not defined/.test(r.stderr);
      assert.equal(runSupportsKeep(binary), !refused, `${binary}: ${r.stderr}`);
    }
  });

  it('runs echo hi and reads its stdout', async (t) => {
    const r = await runContainer(t, { config: { Cmd: ['echo', 'hi'] } });
    assert.equal(r.stdout, 'hi\n');
    assert.deepEqual(r.exit, { exitCode: 0 });
  });

  it('takes stdio as caller-owned fds (stdin from a file, stdout to a file)', async (t) => {
    const id = newId();
    t.after(() => runtime.delete(id, { force: true }));
    const input = join(tmp.path, `${id}.in`);
    const output = join(tmp.path, `${id}.out`);
    writeFileSync(input, 'from stdin\n');
    const inFd = openSync(input, 'r');
    const outFd = openSync(output, 'w');
    try {
      const bundle = await bundleFor(id, { config: { Cmd: ['cat'] } });
      const proc = await runtime.create(id, {
        bundle,
        stdio: { stdin: inFd, stdout: outFd, stderr: outFd },
      });
      await runtime.start(id);
      assert.deepEqual(await within(proc.exited, 20_000, 'cat'), { exitCode: 0 });
    } finally {
      closeSync(inFd);
      closeSync(outFd);
    }
    assert.equal(readFileSync(output, 'utf8'), 'from stdin\n');
  });

  it('gives a Tty container a pty through the console socket', async (t) => {
    const id = newId();
    t.after(() => runtime.delete(id, { force: true }));
    const bundle = await bundleFor(id, {
      config: { Cmd: ['sh', '-c', 'tty; read x; echo got:$x; exit 4'], Tty: true },
    });
    const console = ConsoleSocket.listen(join(tmp.path, `${id}.sock`));
    t.after(() => console.close());
    const [proc, term] = await Promise.all([
      runtime.create(id, { bundle, consoleSocket: console.path }),
      console.receive(20_000),
    ]);
    let out = '';
    term.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const closed = new Promise((resolve) => term.once('close', resolve));
    await runtime.start(id);
    term.write('hello\r');
    assert.deepEqual(await within(proc.exited, 20_000, 'tty container'), { exitCode: 4 });
    await within(closed, 5_000, 'pty close');
    // The terminal echoes the input, racing the first line of output.
    assert.match(out, /^(\/dev\/pts\/0\r\n|hello\r\n){2}got:hello\r\n$/);
    assert.ok(out.includes('/dev/pts/0\r\n'));
  });

  it('propagates the exit code and stderr', async (t) => {
    const r = await runContainer(t, sh('echo oops >&2; exit 3'));
    assert.deepEqual(r.exit, { exitCode: 3 });
    assert.equal(r.stderr, 'oops\n');
  });

  it("has Docker's default capabilities; CapDrop ALL empties them", async (t) => {
    const r = await runContainer(t, sh('grep Cap /proc/self/status'));
    assert.match(r.stdout, /CapEff:\s*00000000a80425fb/);
    assert.match(r.stdout, /CapBnd:\s*00000000a80425fb/);
    assert.match(r.stdout, /CapInh:\s*0000000000000000/);
    const dropped = await runContainer(t, {
      ...sh('grep Cap /proc/self/status'),
      hostConfig: { CapDrop: ['ALL'] },
    });
    assert.match(dropped.stdout, /CapEff:\s*0000000000000000/);
    assert.match(dropped.stdout, /CapBnd:\s*0000000000000000/);
  });

  it('masks /proc/kcore and friends, makes /proc/sys read-only', async (t) => {
    const r = await runContainer(
      t,
      sh(
        'wc() { n=0; while IFS= read -r l; do n=$((n+1)); done; echo $n; }; ' +
          'cat /proc/kcore /proc/timer_list /proc/keys | wc; ' +
          'if echo x > /proc/sys/kernel/domainname; then echo WRITABLE; else echo RO; fi; ' +
          'grep " /proc/sys " /proc/self/mounts',
      ),
    );
    const [count, ro, mountLine] = r.stdout.split('\n');
    assert.equal(count, '0', r.stdout + r.stderr);
    assert.equal(ro, 'RO');
    assert.match(mountLine ?? '', /\bro\b/);
  });

  it('runs as pid 1 in its own pid namespace, with the hostname set', async (t) => {
    const r = await runContainer(t, {
      config: { Cmd: ['sh', '-c', 'echo $$; hostname'], Hostname: 'berthbox' },
    });
    assert.equal(r.stdout, '1\nberthbox\n');
  });

  it('runs as user 1000:1000 and in the working dir', async (t) => {
    const r = await runContainer(t, {
      config: { Cmd: ['sh', '-c', 'id; pwd'], User: '1000:1000', WorkingDir: '/app' },
    });
    assert.match(r.stdout, /^uid=1000\(app\) gid=1000\(app\)/);
    assert.match(r.stdout, /\n\/app\n$/);
    const named = await runContainer(t, { config: { Cmd: ['id'], User: 'app' } });
    assert.match(named.stdout, /groups=.*10\(wheel\).*29\(audio\)/);
  });

  it('has seccomp filtering on', async (t) => {
    const r = await runContainer(t, sh('grep Seccomp: /proc/self/status'));
    assert.match(r.stdout, /Seccomp:\s*2/);
  });

  it('applies memory and pids limits where the controllers exist', async (t) => {
    for (const c of ['memory', 'pids']) {
      if (!cgroup.controllers.has(c)) {
        t.skip(`no ${c} cgroup controller on this host`);
        return;
      }
    }
    const r = await runContainer(t, {
      ...sh(
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; ' +
          'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max',
      ),
      hostConfig: { Memory: 64 * 1024 * 1024, PidsLimit: 42 },
    });
    assert.equal(r.stdout, `${64 * 1024 * 1024}\n42\n`, r.stderr);
  });

  it('refuses a working dir that escapes the rootfs before the runtime sees it', async () => {
    await assert.rejects(
      bundleFor(newId(), { config: { Cmd: ['pwd'], WorkingDir: '/proc/self/fd/7' } }),
      InvalidParameterError,
    );
  });

  it('kills a running container, execs into it, reports state', async (t) => {
    const id = newId();
    t.after(() => runtime.delete(id, { force: true }));
    const bundle = await bundleFor(id, { config: { Cmd: ['sleep', '60'] } });
    const proc = await runtime.create(id, { bundle });
    await runtime.start(id);
    const state = await runtime.state(id);
    assert.equal(state.status, 'running');
    assert.equal(state.pid, proc.pid);

    const spec = await buildSpec({ id, rootfs, config: { Cmd: ['true'] } });
    const execProcess = await buildExecProcess(rootfs, spec.process, {
      Cmd: ['sh', '-c', 'echo exec:$$ $(id -u) $FOO'],
      User: 'app',
      Env: ['FOO=bar'],
    });
    const exec = runtime.exec?.bind(runtime);
    assert.ok(exec, 'the runtime supports exec');
    const ex = await exec(id, execProcess, { stdio: { stdout: 'pipe' } });
    const out = await within(collect(ex.stdout), 10_000, 'exec output');
    assert.match(out, /^exec:\d+ 1000 bar\n$/);
    assert.deepEqual(await within(ex.exited, 10_000, 'exec exit'), { exitCode: 0 });

    await runtime.kill(id, 'SIGKILL');
    assert.deepEqual(await within(proc.exited, 10_000, 'kill'), { exitCode: 137, signal: 9 });
    assert.equal((await runtime.state(id)).status, 'stopped');
    await runtime.delete(id);
    await assert.rejects(runtime.state(id), NotFoundError);
  });
});

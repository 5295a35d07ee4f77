/**
 * Container lifecycle through the real docker CLI against berthd: run (attached, detached,
 * with stdin, with a TTY), ps/inspect shapes, logs, stop/kill/restart/pause/rename/rm/prune/
 * wait, exit codes, Docker's errors, limits in the cgroup, OOM kills, restart policies, log
 * rotation, events, and recovery after berthd is killed. Every test removes its containers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerthd } from '../testing/berthd.js';
import { docker } from '../testing/docker-cli.js';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { run, waitFor } from '../testing/process.js';
import { which } from '../testing/tools.js';

interface Inspected {
  Id: string;
  Name: string;
  Path: string;
  Args: string[];
  RestartCount: number;
  LogPath: string;
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    OOMKilled: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Config: { Image: string; Cmd: string[]; Tty: boolean; Labels: Record<string, string> };
  HostConfig: { NetworkMode: string; Memory: number; RestartPolicy: { Name: string } };
  GraphDriver: { Name: string; Data: { MergedDir: string; UpperDir: string } };
}

describe(
  'containers: docker CLI against berthd',
  { skip: engineTestSkip(), timeout: 600_000 },
  () => {
    let env: EngineEnv;
    let image: string;

    const inspect = async (ref: string): Promise<Inspected> => {
      const r = await env.dockerOk(['inspect', ref]);
      return (JSON.parse(r.stdout) as Inspected[])[0] as Inspected;
    };
    const rmf = async (...refs: string[]) => {
      await env.docker(['rm', '-f', ...refs]);
    };
    const waitState = (
      ref: string,
      ok: (i: Inspected) => boolean,
      what: string,
      timeoutMs = 30_000,
    ) => waitFor(what, async () => ok(await inspect(ref)), { timeoutMs, intervalMs: 100 });

    before(async () => {
      env = await startEngineEnv();
      image = env.images.busybox.ref;
    });
    after(() => env?.stop());

    it('pulls an unknown image on run, runs it attached and returns its exit code and streams', async () => {
      const r = await env.docker([
        'run',
        '--rm',
        image,
        'sh',
        '-c',
        'echo out; echo err >&2; exit 3',
      ]);
      assert.equal(r.code, 3, describeResult(['run'], r));
      assert.match(r.stderr, /Unable to find image/);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /^err$/m);
      assert.equal((await env.dockerOk(['ps', '-aq'])).stdout, '', 'the --rm container is gone');
    });

    it('answers an image that exists nowhere with Docker error and exit code 125', async () => {
      const r = await env.docker(['run', '--rm', '127.0.0.1:1/nosuch/image']);
      assert.equal(r.code, 125, describeResult(['run'], r));
      assert.match(r.stderr, /Unable to find image '127\.0\.0\.1:1\/nosuch\/image:latest' locally/);
    });

    it('maps a missing command to 127 with the runtime message', async () => {
      const r = await env.docker(['run', '--name', 'nocmd', image, 'no-such-command']);
      assert.equal(r.code, 127, describeResult(['run'], r));
      assert.match(r.stderr, /executable file not found in \$PATH/);
      const i = await inspect('nocmd');
      assert.equal(i.State.ExitCode, 127);
      assert.match(i.State.Error, /no-such-command/);
      await rmf('nocmd');
    });

    it('runs detached; ps, inspect and logs (--tail, -t, --since, -f) show it', async () => {
      const id = (
        await env.dockerOk([
          'run',
          '-d',
          '--name',
          'ticker',
          '--label',
          'team=berth',
          image,
          'sh',
          '-c',
          'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done',
        ])
      ).stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const ps = await env.dockerOk([
        'ps',
        '--no-trunc',
        '--format',
        '{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Labels}}',
      ]);
      const [rid, name, img, command, status, labels] = ps.stdout.trim().split('|');
      assert.equal(rid, id);
      assert.equal(name, 'ticker');
      assert.equal(img, image);
      assert.match(command ?? '', /^"sh -c 'i=0;/);
      assert.match(status ?? '', /^Up (Less than a second|\d+ seconds?)$/);
      assert.match(labels ?? '', /(^|,)team=berth(,|$)/, 'the image labels are merged in');

      const i = await inspect('ticker');
      assert.equal(i.Id, id);
      assert.equal(i.Name, '/ticker');
      assert.equal(i.Path, 'sh');
      assert.equal(i.State.Status, 'running');
      assert.ok(i.State.Pid > 0 && existsSync(`/proc/${i.State.Pid}`));
      assert.equal(i.GraphDriver.Name, 'overlayfs');
      assert.ok(existsSync(`${i.GraphDriver.Data.MergedDir}/bin/busybox`), 'rootfs mounted');
      assert.equal(i.Config.Labels.team, 'berth');

      await waitFor('five ticks', async () =>
        (await env.dockerOk(['logs', 'ticker'])).stdout.includes('tick 5\n'),
      );
      const tail = await env.dockerOk(['logs', '--tail', '2', 'ticker']);
      assert.equal(tail.stdout.trim().split('\n').length, 2);
      const stamped = await env.dockerOk(['logs', '-t', '--tail', '1', 'ticker']);
      assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n$/);
      const future = await env.dockerOk([
        'logs',
        '--since',
        String(Math.floor(Date.now() / 1000) + 3600),
        'ticker',
      ]);
      assert.equal(future.stdout, '');
      // -f streams new lines as they come, until the container stops.
      const follow = env.docker(['logs', '-f', '--tail', '0', 'ticker']);
      await new Promise((r) => setTimeout(r, 700));
      await env.dockerOk(['stop', '-t', '1', 'ticker']);
      const followed = await follow;
      assert.equal(followed.code, 0, describeResult(['logs', '-f'], followed));
      assert.match(followed.stdout, /^tick \d+\n/);
      const stopped = await inspect('ticker');
      assert.equal(stopped.State.Status, 'exited');
      assert.equal(stopped.State.ExitCode, 137, 'sh as PID 1 ignores SIGTERM: killed after -t 1');
      assert.match(
        (await env.dockerOk(['ps', '-a', '--format', '{{.Status}}', '-f', 'name=ticker'])).stdout,
        /^Exited \(137\) /,
      );
      await env.dockerOk(['rm', 'ticker']);
    });

    it('feeds stdin with run -i and closes it at EOF', async () => {
      const r = await env.docker(
        ['run', '-i', '--rm', image, 'sh', '-c', 'cat; echo done; exit 4'],
        {
          input: 'line one\nline two\n',
        },
      );
      assert.equal(r.code, 4, describeResult(['run', '-i'], r));
      assert.equal(r.stdout, 'line one\nline two\ndone\n');
    });

    it(
      'gives a TTY with run -it: raw output, the terminal size, detach keys',
      { skip: which('script') ? false : 'needs `script`' },
      async () => {
        const config = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
        after(() => rmSync(config, { recursive: true, force: true }));
        const ttyEnv = {
          ...process.env,
          DOCKER_HOST: env.berthd.dockerHost,
          DOCKER_CONFIG: config,
        };
        const r = await run(
          'script',
          [
            '-qec',
            `stty rows 24 cols 91; docker run -it --rm ${image} sh -c 'stty size; tty; exit 6'`,
            '/dev/null',
          ],
          { env: ttyEnv, timeoutMs: 60_000 },
        );
        assert.equal(r.code, 6, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /24 91\r\n/);
        assert.match(r.stdout, /\/dev\/pts\/0\r\n/);

        // ctrl-p ctrl-q detaches the client; the container keeps running.
        const d = await run(
          'sh',
          [
            '-c',
            `(sleep 2; printf '\\020\\021') | script -qec "docker run -it --name det ${image} sh" /dev/null`,
          ],
          { env: ttyEnv, timeoutMs: 60_000 },
        );
        assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
        assert.equal((await inspect('det')).State.Status, 'running');
        await rmf('det');
      },
    );

    it('stops, starts, restarts, kills, pauses, renames and waits', async () => {
      await env.dockerOk(['run', '-d', '--name', 'life', image, 'sleep', '1000']);
      const first = await inspect('life');
      assert.equal(
        (await env.docker(['start', 'life'])).code,
        0,
        'start of a running container is fine (304)',
      );

      await env.dockerOk(['pause', 'life']);
      assert.equal((await inspect('life')).State.Status, 'paused');
      const frozen = readFileSync(`/proc/${first.State.Pid}/status`, 'utf8');
      assert.ok(/State:\s+[DST]/.test(frozen), frozen);
      const again = await env.docker(['pause', 'life']);
      assert.match(again.stderr, /is already paused/);
      await env.dockerOk(['unpause', 'life']);
      assert.equal((await inspect('life')).State.Status, 'running');

      await env.dockerOk(['restart', '-t', '0', 'life']);
      const restarted = await inspect('life');
      assert.equal(restarted.State.Status, 'running');
      assert.notEqual(restarted.State.Pid, first.State.Pid);

      await env.dockerOk(['rename', 'life', 'life2']);
      assert.equal((await inspect('life2')).Name, '/life2');
      assert.match((await env.docker(['inspect', 'life'])).stderr, /No such object: life/);

      const waited = env.docker(['wait', 'life2']);
      await env.dockerOk(['kill', '--signal', 'KILL', 'life2']);
      const w = await waited;
      assert.equal(w.stdout.trim(), '137', describeResult(['wait'], w));
      const killed = await inspect('life2');
      assert.equal(killed.State.Status, 'exited');
      assert.equal(killed.State.ExitCode, 137);
      assert.match((await env.docker(['kill', 'life2'])).stderr, /is not running/);
      assert.equal(
        (await env.docker(['stop', 'life2'])).code,
        0,
        'stop of a stopped container is fine (304)',
      );

      await env.dockerOk(['start', 'life2']);
      assert.equal((await inspect('life2')).State.Status, 'running');
      await rmf('life2');
    });

    it('restarts a --rm container instead of removing it (moby keeps it), and removes it at exit', async () => {
      await env.dockerOk(['run', '-d', '--rm', '--name', 'rmlife', image, 'sleep', '1000']);
      const first = await inspect('rmlife');
      await env.dockerOk(['restart', '-t', '0', 'rmlife']);
      const again = await inspect('rmlife');
      assert.equal(again.State.Status, 'running');
      assert.notEqual(again.State.Pid, first.State.Pid);
      await env.dockerOk(['stop', '-t', '0', 'rmlife']);
      let gone = '';
      for (let i = 0; i < 100 && !gone; i++) {
        const r = await env.docker(['inspect', 'rmlife']);
        if (r.code !== 0) gone = r.stderr;
        else await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(gone, /No such object: rmlife/);
    });

    it('shares namespaces: --network container:<name>, --pid host, --ipc host', async () => {
      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'owner',
        '--hostname',
        'owner-host',
        image,
        'sleep',
        '1000',
      ]);
      const owner = await inspect('owner');
      const net = (pid: number | string) => readlinkSync(`/proc/${pid}/ns/net`);
      const joined = await env.dockerOk([
        'run',
        '--rm',
        '--network',
        'container:owner',
        image,
        'sh',
        '-c',
        'cat /etc/hostname; hostname; readlink /proc/self/ns/net',
      ]);
      assert.deepEqual(joined.stdout.trim().split('\n'), [
        'owner-host',
        'owner-host',
        net(owner.State.Pid),
      ]);
      const hostPid = await env.dockerOk([
        'run',
        '--rm',
        '--pid',
        'host',
        '--ipc',
        'host',
        image,
        'sh',
        '-c',
        'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc',
      ]);
      assert.deepEqual(hostPid.stdout.trim().split('\n'), [
        readlinkSync('/proc/self/ns/pid'),
        readlinkSync('/proc/self/ns/ipc'),
      ]);
      await env.dockerOk(['stop', '-t', '0', 'owner']);
      const refused = await env.docker([
        'run',
        '--rm',
        '--network',
        'container:owner',
        image,
        'true',
      ]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /cannot join network of a non running container/);
      await rmf('owner');
    });

    it('--init runs docker-init as PID 1 with the command as its child, and forwards signals', async () => {
      const ps = await env.dockerOk(['run', '--rm', '--init', image, 'ps']);
      assert.match(ps.stdout, /^\s*1\s+root\s+\/sbin\/docker-init -- ps$/m, ps.stdout);
      const child = ps.stdout.split('\n').find((l) => / ps$/.test(l) && !l.includes('docker-init'));
      assert.ok(child && !/^\s*1\s/.test(child), ps.stdout);

      // sleep as PID 1 ignores SIGTERM (no handler, and the kernel protects init), so without
      // --init `docker stop` would wait out its timeout; tini passes the signal on.
      await env.dockerOk(['run', '-d', '--init', '--name', 'inited', image, 'sleep', '300']);
      const started = Date.now();
      await env.dockerOk(['stop', '-t', '30', 'inited']);
      assert.ok(Date.now() - started < 15_000, `stop took ${Date.now() - started} ms`);
      const stopped = await inspect('inited');
      assert.equal(stopped.State.ExitCode, 143);
      assert.equal(stopped.Path, 'sleep', 'inspect shows the command, not the init');
      await rmf('inited');
    });

    it('--init without an init binary fails with a message naming the missing binary', async () => {
      const missing = join(tmpdir(), `no-such-init-${process.pid}`);
      const other = await startBerthd({ extraArgs: ['--init-path', missing] });
      try {
        const args = ['run', '--rm', '--init', image, 'true'];
        const r = await docker(args, { host: other.dockerHost });
        assert.equal(r.code, 125, describeResult(args, r));
        assert.match(r.stderr, /Error response from daemon: --init: no init binary found/);
        assert.ok(r.stderr.includes(missing), r.stderr);
      } finally {
        await other.stop();
      }
    });

    it('refuses a taken name and removing a running container, with Docker messages', async () => {
      const id = (
        await env.dockerOk(['run', '-d', '--name', 'busy', image, 'sleep', '1000'])
      ).stdout.trim();
      const dup = await env.docker(['run', '-d', '--name', 'busy', image, 'true']);
      assert.equal(dup.code, 125);
      assert.match(
        dup.stderr,
        new RegExp(
          `Conflict\\. The container name "/busy" is already in use by container "${id}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`,
        ),
      );
      const rm = await env.docker(['rm', 'busy']);
      assert.equal(rm.code, 1);
      assert.match(
        rm.stderr,
        new RegExp(
          `You cannot remove a running container ${id}\\. Stop the container before attempting removal or force remove`,
        ),
      );
      const bad = await env.docker(['run', '--name', 'no/slash', image, 'true']);
      assert.match(bad.stderr, /Invalid container name \(no\/slash\)/);
      const rmi = await env.docker(['rmi', image]);
      assert.match(
        rmi.stderr,
        new RegExp(
          `conflict: unable to remove repository reference .* \\(must force\\) - container ${id.slice(0, 12)} is using its referenced image`,
        ),
      );
      await env.dockerOk(['rm', '-f', 'busy']);
      const gone = await env.docker(['inspect', '--type', 'container', id]);
      assert.match(gone.stderr, /No such container/);
      const upper = `${env.berthd.dataRoot}/containers/${id}`;
      assert.ok(!existsSync(upper), 'the container directory is removed');
    });

    it('filters ps and prunes stopped containers', async () => {
      await env.dockerOk(['run', '--name', 'ok0', '--label', 'k=v', image, 'true']);
      await env.docker(['run', '--name', 'bad1', image, 'sh', '-c', 'exit 1']);
      await env.dockerOk(['run', '-d', '--name', 'up', image, 'sleep', '1000']);
      const names = async (...args: string[]) =>
        (await env.dockerOk(['ps', '--format', '{{.Names}}', ...args])).stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .sort();
      assert.deepEqual(await names(), ['up']);
      assert.deepEqual(await names('-a'), ['bad1', 'ok0', 'up']);
      assert.deepEqual(await names('-a', '-f', 'status=exited'), ['bad1', 'ok0']);
      assert.deepEqual(await names('-a', '-f', 'exited=1'), ['bad1']);
      assert.deepEqual(await names('-a', '-f', 'label=k=v'), ['ok0']);
      assert.deepEqual(await names('-a', '-f', 'name=^ok'), ['ok0']);
      assert.deepEqual(await names('-a', '-f', `ancestor=${image}`), ['bad1', 'ok0', 'up']);
      assert.deepEqual(await names('-a', '--last', '1'), ['up']);
      assert.match(
        (await env.docker(['ps', '-f', 'status=nope'])).stderr,
        /invalid filter 'status=nope'/,
      );
      const pruned = await env.dockerOk(['container', 'prune', '-f']);
      assert.match(pruned.stdout, /Deleted Containers:/);
      assert.deepEqual(await names('-a'), ['up']);
      await rmf('up');
    });

    it('applies memory, cpu and pids limits in the container cgroup', async () => {
      const cg = '/sys/fs/cgroup';
      const v1 = existsSync(`${cg}/memory/memory.limit_in_bytes`);
      const id = (
        await env.dockerOk([
          'run',
          '-d',
          '--memory',
          '64m',
          '--cpus',
          '0.5',
          '--cpu-shares',
          '512',
          '--pids-limit',
          '50',
          image,
          'sleep',
          '1000',
        ])
      ).stdout.trim();
      try {
        const read = (f: string) => readFileSync(f, 'utf8').trim();
        if (v1) {
          assert.equal(
            read(`${cg}/memory/berth/${id}/memory.limit_in_bytes`),
            String(64 * 1024 * 1024),
          );
          assert.equal(read(`${cg}/cpu/berth/${id}/cpu.cfs_quota_us`), '50000');
          assert.equal(read(`${cg}/cpu/berth/${id}/cpu.shares`), '512');
          assert.equal(read(`${cg}/pids/berth/${id}/pids.max`), '50');
        } else {
          assert.equal(read(`${cg}/berth/${id}/memory.max`), String(64 * 1024 * 1024));
          assert.equal(read(`${cg}/berth/${id}/cpu.max`), '50000 100000');
          assert.equal(read(`${cg}/berth/${id}/pids.max`), '50');
        }
        assert.equal((await inspect(id)).HostConfig.Memory, 64 * 1024 * 1024);
      } finally {
        await rmf(id);
      }
      assert.ok(
        !existsSync(v1 ? `${cg}/memory/berth/${id}` : `${cg}/berth/${id}`),
        'the cgroup is removed',
      );
    });

    it('reports an OOM kill in inspect and events', async (t) => {
      if (
        !existsSync('/sys/fs/cgroup/memory/memory.oom_control') &&
        !existsSync('/sys/fs/cgroup/memory.events')
      ) {
        t.skip('no usable memory cgroup controller on this host');
        return;
      }
      const since = String(Math.floor(Date.now() / 1000) - 1);
      const r = await env.docker([
        'run',
        '--name',
        'oom',
        '--memory',
        '8m',
        '--memory-swap',
        '8m',
        image,
        'sh',
        '-c',
        'x=aaaaaaaa; while true; do x=$x$x; done',
      ]);
      assert.equal(r.code, 137, describeResult(['run'], r));
      const i = await inspect('oom');
      assert.equal(i.State.OOMKilled, true);
      const ev = await env.dockerOk([
        'events',
        '--since',
        since,
        '--until',
        String(Math.floor(Date.now() / 1000) + 1),
        '--filter',
        'container=oom',
        '--format',
        '{{.Action}}',
      ]);
      assert.match(ev.stdout, /^oom$/m);
      await rmf('oom');
    });

    it('restarts by policy with backoff: on-failure:N, always, and a manual stop ends it', async () => {
      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'flaky',
        '--restart',
        'on-failure:2',
        image,
        'sh',
        '-c',
        'exit 3',
      ]);
      await waitState(
        'flaky',
        (i) => i.State.Status === 'exited' && i.RestartCount === 2,
        'two restarts, then exited',
      );
      await new Promise((r) => setTimeout(r, 1000));
      const f = await inspect('flaky');
      assert.equal(f.RestartCount, 2);
      assert.equal(f.State.ExitCode, 3);

      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'always',
        '--restart',
        'always',
        image,
        'sh',
        '-c',
        'sleep 0.2; exit 0',
      ]);
      await waitState('always', (i) => i.RestartCount >= 2, 'always restarts');
      await env.dockerOk(['stop', '-t', '1', 'always']);
      const count = (await inspect('always')).RestartCount;
      await new Promise((r) => setTimeout(r, 1000));
      const a = await inspect('always');
      assert.equal(a.State.Running, false);
      assert.equal(a.RestartCount, count, 'no restart after a manual stop');
      assert.match(
        (await env.docker(['run', '--rm', '--restart', 'always', image, 'true'])).stderr,
        /Conflicting options|can't create 'AutoRemove' container with restart policy/,
      );
      await rmf('flaky', 'always');
    });

    it('rotates json-file logs by max-size and max-file', async () => {
      const id = (
        await env.dockerOk([
          'run',
          '-d',
          '--log-opt',
          'max-size=1k',
          '--log-opt',
          'max-file=3',
          image,
          'sh',
          '-c',
          'for i in $(seq 1 200); do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; done',
        ])
      ).stdout.trim();
      await waitState(id, (i) => i.State.Status === 'exited', 'the writer to finish');
      const { LogPath } = await inspect(id);
      for (const f of [LogPath, `${LogPath}.1`, `${LogPath}.2`]) {
        assert.ok(existsSync(f), f);
        assert.ok(statSync(f).size <= 1024, `${f} is within max-size`);
      }
      assert.ok(!existsSync(`${LogPath}.3`), 'at most max-file files');
      const logs = (await env.dockerOk(['logs', id])).stdout.trim().split('\n');
      assert.equal(logs.at(-1), 'line-200-xxxxxxxxxxxxxxxxxxxxxxxx');
      assert.ok(
        !logs.includes('line-1-xxxxxxxxxxxxxxxxxxxxxxxx'),
        'the oldest lines are rotated away',
      );
      await rmf(id);
    });

    it('emits create, attach, start, die and destroy events with the exit code', async () => {
      const since = String(Math.floor(Date.now() / 1000) - 1);
      await env.docker(['run', '--rm', '--name', 'evt', image, 'sh', '-c', 'exit 2']);
      const until = String(Math.floor(Date.now() / 1000) + 1);
      const ev = await env.dockerOk([
        'events',
        '--since',
        since,
        '--until',
        until,
        '--filter',
        'container=evt',
        '--format',
        '{{.Action}} {{.Actor.Attributes.exitCode}}',
      ]);
      const actions = ev.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(' <no value>', '').trim());
      assert.deepEqual(
        actions.filter((a) => ['create', 'start', 'die 2', 'destroy'].includes(a)),
        ['create', 'start', 'die 2', 'destroy'],
        ev.stdout,
      );
    });

    it('runs the multilayer image with its whiteouts applied', async () => {
      const r = await env.docker([
        'run',
        '--rm',
        env.images.multilayer.ref,
        'sh',
        '-c',
        'ls -A /opq; ls -A /data',
      ]);
      assert.equal(r.code, 0, describeResult(['run'], r));
    });

    it('finds a running container again after berthd is killed, and the real exit code of one that exited meanwhile', async () => {
      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'survivor',
        image,
        'sh',
        '-c',
        'echo before; sleep 3; echo after; sleep 1000',
      ]);
      await env.dockerOk(['run', '-d', '--name', 'quitter', image, 'sh', '-c', 'sleep 1; exit 42']);
      const pid = (await inspect('survivor')).State.Pid;
      // Frozen, berthd sees nothing of the quitter's exit; killed, it never will.
      process.kill(env.berthd.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 2000));
      await env.restart({ kill: true });
      const s = await inspect('survivor');
      assert.equal(s.State.Status, 'running');
      assert.equal(s.State.Pid, pid);
      const q = await inspect('quitter');
      assert.equal(q.State.Status, 'exited');
      assert.equal(q.State.ExitCode, 42);
      await waitFor(
        'output written after the restart',
        async () => (await env.dockerOk(['logs', 'survivor'])).stdout === 'before\nafter\n',
        { timeoutMs: 15_000 },
      );
      await env.dockerOk(['stop', '-t', '0', 'survivor']);
      assert.equal((await inspect('survivor')).State.ExitCode, 137);
      await rmf('survivor', 'quitter');
    });

    it('starts unless-stopped containers again after a graceful berthd restart', async () => {
      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'keeper',
        '--restart',
        'unless-stopped',
        image,
        'sleep',
        '1000',
      ]);
      await env.dockerOk([
        'run',
        '-d',
        '--name',
        'stopped',
        '--restart',
        'unless-stopped',
        image,
        'sleep',
        '1000',
      ]);
      await env.dockerOk(['stop', '-t', '0', 'stopped']);
      await env.restart();
      await waitState('keeper', (i) => i.State.Running, 'keeper running again');
      assert.equal((await inspect('stopped')).State.Running, false);
      await rmf('keeper', 'stopped');
    });
  },
);

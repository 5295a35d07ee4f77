import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidParameterError, SystemError } from '../api/errors.js';
import { tempDir } from '../testing/process.js';
import { capabilityMask, DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities.js';
import {
  buildSpec,
  commandLine,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  mergeEnv,
  mergeImageConfig,
  type SpecInput,
} from './oci-spec.js';
import { CONTAINER_INIT_PATH, findInitBinary } from './init-binary.js';
import { resolveInRoot } from './rootfs-path.js';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default.js';
import { toOciSeccomp } from './seccomp.js';
import { makeBusyboxRootfs } from './test-rootfs.js';
import { resolveUser } from './user.js';

const ID = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

describe('oci-spec', () => {
  let tmp: ReturnType<typeof tempDir>;
  let rootfs: string;
  const input = (over: Partial<SpecInput> = {}): SpecInput => ({
    id: ID,
    rootfs,
    config: { Cmd: ['echo', 'hi'] },
    ...over,
  });

  before(() => {
    tmp = tempDir('oci-spec');
    rootfs = makeBusyboxRootfs(tmp.path);
  });
  after(() => tmp.remove());

  describe('command line (Docker override rules)', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
    it('uses the image entrypoint and cmd by default', () => {
      assert.deepEqual(commandLine(mergeImageConfig({}, image)), ['/entry', 'default']);
    });
    it('user Cmd replaces image Cmd but keeps the entrypoint', () => {
      assert.deepEqual(commandLine(mergeImageConfig({ Cmd: ['x'] }, image)), ['/entry', 'x']);
    });
    it('user Entrypoint drops the image Cmd', () => {
      assert.deepEqual(commandLine(mergeImageConfig({ Entrypoint: ['/e2'] }, image)), ['/e2']);
    });
    it('Entrypoint [""] resets it; no command at all is a 400', () => {
      assert.deepEqual(commandLine(mergeImageConfig({ Entrypoint: [''], Cmd: ['ls'] }, image)), [
        'ls',
      ]);
      assert.throws(
        () => commandLine(mergeImageConfig({ Entrypoint: [''] }, image)),
        (e: unknown) => e instanceof InvalidParameterError && e.message === 'No command specified',
      );
    });
  });

  it('merges env: later wins, bare KEY unsets, PATH default and HOSTNAME', async () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2', 'C=3'], ['B=x', 'C']), ['A=1', 'B=x']);
    const spec = await buildSpec(
      input({
        image: { Env: ['FOO=image', 'BAR=1'] },
        config: { Cmd: ['x'], Env: ['FOO=user'], Tty: true },
      }),
    );
    assert.deepEqual(spec.process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `HOSTNAME=${ID.slice(0, 12)}`,
      'TERM=xterm',
      'FOO=user',
      'BAR=1',
    ]);
    const withPath = await buildSpec(input({ config: { Cmd: ['x'], Env: ['PATH=/bin'] } }));
    assert.ok(withPath.process.env.includes('PATH=/bin'));
    assert.equal(withPath.process.env.filter((e) => e.startsWith('PATH=')).length, 1);
  });

  it('has Docker defaults: caps, masked/readonly paths, namespaces, mounts, devices', async () => {
    const spec = await buildSpec(input());
    assert.deepEqual(spec.process.args, ['echo', 'hi']);
    assert.equal(spec.process.cwd, '/');
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0 });
    assert.equal(spec.hostname, ID.slice(0, 12));
    assert.deepEqual(spec.process.capabilities?.bounding, DEFAULT_CAPABILITIES);
    assert.equal(capabilityMask(DEFAULT_CAPABILITIES), 0xa80425fbn);
    assert.deepEqual(spec.linux.maskedPaths, DEFAULT_MASKED_PATHS);
    assert.deepEqual(spec.linux.readonlyPaths, DEFAULT_READONLY_PATHS);
    assert.deepEqual(
      spec.linux.namespaces.map((n) => n.type),
      ['mount', 'network', 'uts', 'pid', 'ipc'],
    );
    assert.deepEqual(
      spec.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.ok(
      spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=67108864'),
    );
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.deepEqual(spec.linux.resources.devices[0], { allow: false, access: 'rwm' });
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(spec.process.noNewPrivileges, false);
    assert.equal(spec.root.readonly, false);
  });

  it('CapAdd/CapDrop/Privileged follow moby', () => {
    assert.deepEqual(tweakCapabilities([], ['ALL']), []);
    assert.deepEqual(tweakCapabilities(['net_admin'], ['ALL']), ['CAP_NET_ADMIN']);
    assert.ok(!tweakCapabilities([], ['chown']).includes('CAP_CHOWN'));
    assert.ok(tweakCapabilities(['CAP_SYS_ADMIN']).includes('CAP_SYS_ADMIN'));
    assert.ok(tweakCapabilities(['ALL'], ['CAP_CHOWN']).length > 20);
    assert.throws(() => tweakCapabilities(['BOGUS']), /unknown capability: "BOGUS"/);
  });

  it('privileged: all caps, no masks, no seccomp, rw sysfs, all devices', async () => {
    const spec = await buildSpec(input({ hostConfig: { Privileged: true } }));
    assert.ok((spec.process.capabilities?.bounding.length ?? 0) > 14);
    assert.deepEqual(spec.linux.maskedPaths, []);
    assert.deepEqual(spec.linux.readonlyPaths, []);
    assert.equal(spec.linux.seccomp, undefined);
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('rw'));
    assert.deepEqual(spec.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  });

  it('security options', async () => {
    const spec = await buildSpec(
      input({ hostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }),
    );
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(spec.linux.seccomp, undefined);
    const custom = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    const spec2 = await buildSpec(input({ hostConfig: { SecurityOpt: [`seccomp=${custom}`] } }));
    assert.equal(spec2.linux.seccomp?.defaultAction, 'SCMP_ACT_ALLOW');
    await assert.rejects(
      buildSpec(input({ hostConfig: { SecurityOpt: ['bogus=1'] } })),
      /invalid --security-opt 2/,
    );
  });

  it('--init runs the command under docker-init, bind-mounted read-only', async () => {
    const spec = await buildSpec(
      input({ hostConfig: { Init: true }, initPath: '/usr/bin/tini-static' }),
    );
    assert.deepEqual(spec.process.args, [CONTAINER_INIT_PATH, '--', 'echo', 'hi']);
    assert.deepEqual(
      spec.mounts.find((m) => m.destination === CONTAINER_INIT_PATH),
      {
        destination: CONTAINER_INIT_PATH,
        type: 'bind',
        source: '/usr/bin/tini-static',
        options: ['bind', 'rprivate', 'ro'],
      },
    );
    await assert.rejects(buildSpec(input({ hostConfig: { Init: true } })), InvalidParameterError);
    assert.throws(
      () => findInitBinary('/nonexistent/docker-init'),
      (e: unknown) =>
        e instanceof SystemError &&
        e.message.includes('/nonexistent/docker-init') &&
        e.statusCode === 500,
    );
  });

  it('resolves users from the rootfs passwd/group like runc', async () => {
    assert.deepEqual(await resolveUser(rootfs, 'app'), {
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 29],
      home: '/home/app',
    });
    assert.deepEqual(await resolveUser(rootfs, '1000:1000'), {
      uid: 1000,
      gid: 1000,
      additionalGids: [],
      home: '/home/app',
    });
    assert.deepEqual(await resolveUser(rootfs, '4242'), { uid: 4242, gid: 0, additionalGids: [] });
    assert.deepEqual((await resolveUser(rootfs, 'app:audio')).gid, 29);
    assert.deepEqual((await resolveUser(rootfs, '', ['wheel', '77'])).additionalGids, [10, 77]);
    await assert.rejects(
      resolveUser(rootfs, 'x'),
      (e: unknown) =>
        e instanceof SystemError &&
        e.message === 'unable to find user x: no matching entries in passwd file',
    );
    await assert.rejects(resolveUser(rootfs, 'app:nogrp'), /unable to find group nogrp/);
  });

  it('reads /etc/passwd through rootfs symlinks, never the host file', async () => {
    const t = tempDir('oci-spec-link');
    try {
      const r = join(t.path, 'rootfs');
      mkdirSync(join(r, 'etc'), { recursive: true });
      mkdirSync(join(r, 'data'), { recursive: true });
      writeFileSync(join(r, 'data/pw'), 'svc:x:321:654::/:/bin/sh\n');
      // An absolute link must resolve inside the rootfs: /etc/passwd -> /data/pw.
      symlinkSync('/data/pw', join(r, 'etc/passwd'));
      assert.equal((await resolveUser(r, 'svc')).uid, 321);
      // A link to the host's passwd (via ../..) is clamped at the rootfs and finds nothing.
      symlinkSync('../../../../../../etc/hostname', join(r, 'etc/group'));
      assert.deepEqual((await resolveUser(r, 'svc')).additionalGids, []);
      const res = await resolveInRoot(r, '/etc/group');
      assert.equal(res.climbedOut, true);
      assert.ok(res.onHost.startsWith(r));
    } finally {
      t.remove();
    }
  });

  it('refuses a working dir that escapes the rootfs (CVE-2024-21626)', async () => {
    const t = tempDir('oci-spec-wd');
    try {
      const r = makeBusyboxRootfs(t.path);
      symlinkSync('/proc/self/fd/7', join(r, 'escape'));
      symlinkSync('../../../../..', join(r, 'up'));
      mkdirSync(join(r, 'app'));
      symlinkSync('/app', join(r, 'applink'));
      const wd = async (WorkingDir: string): Promise<string> =>
        (await buildSpec({ id: ID, rootfs: r, config: { Cmd: ['x'], WorkingDir } })).process.cwd;
      assert.equal(await wd('/app/'), '/app');
      assert.equal(await wd('/applink'), '/applink');
      assert.equal(await wd('/not/yet'), '/not/yet');
      for (const bad of ['/proc/self/fd/7', '/escape', '/up/etc', '/dev/fd/3', 'relative']) {
        await assert.rejects(wd(bad), InvalidParameterError, bad);
      }
    } finally {
      t.remove();
    }
  });

  it('resources, rlimits, oom score, hostname, namespaces by path, readonly rootfs', async () => {
    const spec = await buildSpec(
      input({
        config: { Cmd: ['x'], Hostname: 'box', User: '1000:1000', WorkingDir: '/tmp' },
        hostConfig: {
          Memory: 64 << 20,
          NanoCpus: 1.5e9,
          PidsLimit: 20,
          CpuShares: 512,
          Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
          OomScoreAdj: 500,
          ReadonlyRootfs: true,
          ShmSize: 1 << 20,
          Tmpfs: { '/run': 'size=1m,exec' },
          PidMode: 'host',
        },
        namespaces: { network: { path: '/var/run/netns/x' } },
        mounts: [{ type: 'bind', source: '/srv', destination: '/srv/data', readOnly: true }],
      }),
    );
    assert.equal(spec.hostname, 'box');
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000 });
    assert.equal(spec.process.cwd, '/tmp');
    assert.deepEqual(spec.linux.resources.memory, { limit: 64 << 20, swap: 128 << 20 });
    assert.deepEqual(spec.linux.resources.cpu, { shares: 512, period: 100000, quota: 150000 });
    assert.deepEqual(spec.linux.resources.pids, { limit: 20 });
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 }]);
    assert.equal(spec.process.oomScoreAdj, 500);
    assert.equal(spec.root.readonly, true);
    assert.deepEqual(spec.linux.namespaces, [
      { type: 'mount' },
      { type: 'network', path: '/var/run/netns/x' },
      { type: 'uts' },
      { type: 'ipc' },
    ]);
    const run = spec.mounts.find((m) => m.destination === '/run');
    assert.deepEqual(run?.options, ['nosuid', 'nodev', 'size=1m', 'exec']);
    const bind = spec.mounts.find((m) => m.destination === '/srv/data');
    assert.deepEqual(bind, {
      destination: '/srv/data',
      type: 'bind',
      source: '/srv',
      options: ['rbind', 'rprivate', 'ro'],
    });
    assert.ok(
      spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=1048576'),
    );
  });

  it('validates resources with moby messages', async () => {
    await assert.rejects(
      buildSpec(input({ hostConfig: { Memory: 1000 } })),
      /Minimum memory limit allowed is 6MB/,
    );
    await assert.rejects(
      buildSpec(input({ hostConfig: { NanoCpus: 1e9, CpuQuota: 5000 } })),
      /Nano CPUs and CPU Quota cannot both be set/,
    );
    await assert.rejects(buildSpec(input({ hostConfig: { OomScoreAdj: 5000 } })), /oom score adj/);
    await assert.rejects(
      buildSpec(input({ hostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } })),
      /invalid ulimit type: bogus/,
    );
    await assert.rejects(
      buildSpec(input({ mounts: [{ type: 'tmpfs', destination: 'rel' }] })),
      /must be absolute/,
    );
  });

  it('default seccomp profile: per-arch and per-capability rules', () => {
    const amd = toOciSeccomp(DEFAULT_SECCOMP_PROFILE, {
      arch: 'x64',
      capabilities: DEFAULT_CAPABILITIES,
      kernel: '6.1.0',
    });
    assert.deepEqual(amd.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const names = amd.syscalls.flatMap((s) => s.names);
    assert.ok(names.includes('arch_prctl'));
    assert.ok(names.includes('chroot')); // CAP_SYS_CHROOT is a default
    assert.ok(!names.includes('mount')); // needs CAP_SYS_ADMIN
    assert.ok(!names.includes('set_tls')); // arm only
    const clone3 = amd.syscalls.find((s) => s.names.includes('clone3'));
    assert.deepEqual(clone3, { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    const arm = toOciSeccomp(DEFAULT_SECCOMP_PROFILE, {
      arch: 'arm64',
      capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'],
      kernel: '6.1.0',
    });
    assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const armNames = arm.syscalls.flatMap((s) => s.names);
    assert.ok(armNames.includes('set_tls') && armNames.includes('mount'));
    assert.ok(!armNames.includes('arch_prctl'));
    assert.ok(
      !arm.syscalls.some((s) => s.names.includes('clone3') && s.action === 'SCMP_ACT_ERRNO'),
    );
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { containerCgroup, detectCgroup, type CgroupInfo } from './cgroups.js';
import { buildSpec } from './oci-spec.js';
import { makeBusyboxRootfs } from './test-rootfs.js';

const unified: CgroupInfo = { mode: 'unified', controllers: new Set(['memory']), swap: true };
const legacy: CgroupInfo = { mode: 'legacy', controllers: new Set(['memory']), swap: true };
const ID = 'c'.repeat(64);

describe('containerCgroup', () => {
  it('on v2 nests the runtime cgroup under a parent that counts its OOM kills', () => {
    const tmp = tempDir('cgroup-v2');
    try {
      const cg = containerCgroup(ID, unified, tmp.path);
      assert.equal(cg.specPath, `/berth/${ID}/ctr`);
      assert.equal(cg.needsKeep(true), false);
      assert.equal(cg.oomKills(), 0, 'no cgroup yet');
      const parent = join(tmp.path, 'berth', ID);
      mkdirSync(parent, { recursive: true });
      writeFileSync(
        join(parent, 'memory.events'),
        'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n',
      );
      assert.equal(cg.oomKills(), 1);
      cg.release(); // a directory with a file in it is not a cgroup: left alone
      assert.ok(existsSync(parent));
    } finally {
      tmp.remove();
    }
  });

  it('on v2 release removes the parent the runtime left', () => {
    const tmp = tempDir('cgroup-v2');
    try {
      const parent = join(tmp.path, 'berth', ID);
      mkdirSync(parent, { recursive: true });
      containerCgroup(ID, unified, tmp.path).release();
      assert.equal(existsSync(parent), false);
      containerCgroup(ID, unified, tmp.path).release(); // idempotent
    } finally {
      tmp.remove();
    }
  });

  it('on v1 reads the memory cgroup the runtime kept, and keeps only memory-limited ones', () => {
    const tmp = tempDir('cgroup-v1');
    try {
      const cg = containerCgroup(ID, legacy, tmp.path);
      assert.equal(cg.specPath, `/berth/${ID}`);
      assert.equal(cg.needsKeep(true), true);
      assert.equal(cg.needsKeep(false), false);
      const dir = join(tmp.path, 'memory', 'berth', ID);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'memory.oom_control'),
        'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      );
      assert.equal(cg.oomKills(), 2);
    } finally {
      tmp.remove();
    }
  });
});

const host = detectCgroup();
const crunSkip =
  skipUnless(['root', '/usr/bin/crun', '/bin/busybox']) ||
  (host.mode !== 'unified' || !host.controllers.has('memory')
    ? 'needs a pure cgroup2 host with the memory controller (crun refuses the hybrid layout here)'
    : false);

describe('OOM kills under crun without run --keep', { skip: crunSkip }, () => {
  it('are still counted after crun removed the container cgroup', async () => {
    const tmp = tempDir('crun-oom');
    const id = `berth-oom-${randomBytes(6).toString('hex')}`;
    const cg = containerCgroup(id, host);
    try {
      const rootfs = makeBusyboxRootfs(tmp.path);
      const spec = await buildSpec({
        id,
        rootfs,
        // A shell that doubles a string until the 8 MiB limit kills it.
        config: { Cmd: ['sh', '-c', 'x=x; while true; do x="$x$x"; done'] },
        hostConfig: { Memory: 8 * 1024 * 1024, MemorySwap: 8 * 1024 * 1024 },
        cgroupsPath: cg.specPath,
        cgroup: host,
      });
      writeFileSync(join(tmp.path, 'config.json'), JSON.stringify(spec));
      const r = spawnSync(
        '/usr/bin/crun',
        ['--root', join(tmp.path, 'state'), 'run', '--bundle', tmp.path, id],
        { timeout: 60_000 },
      );
      assert.equal(r.status, 137, `crun run: ${String(r.stderr)}`);
      assert.equal(existsSync(`/sys/fs/cgroup${cg.specPath}`), false, 'crun removed its cgroup');
      assert.ok(cg.oomKills() > 0);
    } finally {
      cg.release();
      tmp.remove();
    }
  });
});

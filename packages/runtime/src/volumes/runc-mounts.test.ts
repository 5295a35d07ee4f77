/**
 * What prepareMounts returns, fed through buildSpec and run by real runc on a busybox rootfs:
 * a named volume's data is seen by the next container, a read-only bind refuses writes, a
 * tmpfs from --mount has its size, and copy-up content is there — without the container
 * service, so the mount seam is checked on its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detectCgroup } from '../containers/cgroups.js';
import { detectRuntime } from '../containers/oci-runtime.js';
import { buildSpec } from '../containers/oci-spec.js';
import { makeBusyboxRootfs } from '../containers/test-rootfs.js';
import { MemoryEventBus } from '../events/bus.js';
import { nullLogger } from '../logging/logger.js';
import { run, tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { createVolumeService, type LocalVolumeService, type MountRequest } from './service.js';

const cgroup = detectCgroup();
const runtime = (() => {
  try {
    return detectRuntime(cgroup);
  } catch {
    return undefined;
  }
})();
const CGROUP_PARENT = 'berth-volume-test';
const skip =
  skipUnless(['root', '/bin/busybox']) || (runtime ? false : 'no runc or crun installed');

describe('prepared mounts under real runc', { skip }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let rootfs: string;
  let svc: LocalVolumeService;
  const ids: string[] = [];

  before(async () => {
    tmp = tempDir('berth-volume-runc-');
    rootfs = makeBusyboxRootfs(tmp.path);
    mkdirSync(join(rootfs, 'srv/site'), { recursive: true });
    writeFileSync(join(rootfs, 'srv/site/index.html'), 'from the image\n');
    svc = await createVolumeService({
      dataRoot: join(tmp.path, 'data'),
      events: new MemoryEventBus(),
      logger: nullLogger(),
    });
  });

  after(async () => {
    for (const id of ids) await svc.releaseMounts(id, { removeAnonymous: true });
    for (const v of svc.store.list()) await svc.store.remove(v.name, { force: true });
    tmp.remove();
    // runc removes each container's cgroup, not the parent they share.
    const root = '/sys/fs/cgroup';
    for (const dir of [root, ...readdirSync(root).map((d) => join(root, d))]) {
      try {
        rmdirSync(join(dir, CGROUP_PARENT));
      } catch {
        // not a hierarchy here, or already gone
      }
    }
  });

  /** Prepares the mounts, runs `sh -c script` with `runc run`, returns its output. */
  async function runWith(req: Omit<MountRequest, 'containerId'>, script: string) {
    const id = `berth-vol-${randomBytes(6).toString('hex')}`;
    ids.push(id);
    const { specMounts } = await svc.prepareMounts({ containerId: id, ...req }, rootfs);
    const spec = await buildSpec({
      id,
      rootfs,
      config: { Cmd: ['sh', '-c', script] },
      mounts: specMounts,
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      cgroup,
      ...(req.tmpfs ? { hostConfig: { Tmpfs: req.tmpfs } } : {}),
    });
    const bundle = join(tmp.path, 'bundles', id);
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const r = await run(
      runtime?.binary ?? 'runc',
      ['--root', join(tmp.path, 'runc-state'), 'run', '--bundle', bundle, id],
      { timeoutMs: 30_000 },
    );
    await run(runtime?.binary ?? 'runc', [
      '--root',
      join(tmp.path, 'runc-state'),
      'delete',
      '-f',
      id,
    ]);
    return r;
  }

  it('shares a named volume between containers and copies image content into it', async () => {
    const first = await runWith(
      { binds: ['site:/srv/site'] },
      'cat /srv/site/index.html && echo added > /srv/site/new.txt',
    );
    assert.deepEqual([first.code, first.stdout], [0, 'from the image\n'], first.stderr);
    const second = await runWith({ binds: ['site:/other:ro'] }, 'cat /other/new.txt');
    assert.deepEqual([second.code, second.stdout], [0, 'added\n'], second.stderr);
  });

  it('mounts a bind read-only', async () => {
    const host = join(tmp.path, 'host');
    mkdirSync(host);
    writeFileSync(join(host, 'f'), 'host file\n');
    const r = await runWith({ binds: [`${host}:/src:ro`] }, 'cat /src/f; touch /src/g');
    assert.equal(r.stdout, 'host file\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Read-only file system/);
    const rw = await runWith(
      { mounts: [{ Type: 'bind', Source: host, Target: '/w' }] },
      'echo written > /w/g',
    );
    assert.equal(rw.code, 0, rw.stderr);
    assert.equal(readFileSync(join(host, 'g'), 'utf8'), 'written\n');
  });

  it('mounts tmpfs from --mount and --tmpfs, and an image VOLUME as a volume', async () => {
    const r = await runWith(
      {
        mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1 << 20 } }],
        tmpfs: { '/run/t': 'size=2m' },
        imageVolumes: ['/srv/site', '/run/t'],
      },
      'grep -E " /(scratch|run/t|srv/site) " /proc/mounts | cut -d" " -f2,3; cat /srv/site/index.html',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes('/scratch tmpfs'), r.stdout);
    assert.ok(lines.includes('/run/t tmpfs'), r.stdout);
    assert.ok(
      lines.some((l) => l.startsWith('/srv/site ') && !l.endsWith('tmpfs')),
      r.stdout,
    );
    assert.equal(lines.at(-1), 'from the image');
  });
});

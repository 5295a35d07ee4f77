/**
 * The volume service on a temp data root: store contract (create, idempotence, names,
 * options, in-use refusal, prune, repair), mount planning from Binds/Mounts/Tmpfs/image
 * VOLUMEs, copy-up from a busybox rootfs, and releasing references.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConflictError, InvalidParameterError, NotFoundError } from '../api/errors.js';
import { makeBusyboxRootfs } from '../containers/test-rootfs.js';
import { type EngineEvent, MemoryEventBus } from '../events/bus.js';
import { nullLogger } from '../logging/logger.js';
import { tempDir } from '../testing/process.js';
import { isMounted } from './local-mount.js';
import { createVolumeService, type LocalVolumeService } from './service.js';
import { ANONYMOUS_LABEL, isAnonymous } from './store.js';

const CID = 'c'.repeat(64);
const CID2 = 'd'.repeat(64);

let dir: { path: string; remove(): void };
let events: MemoryEventBus;
let seen: EngineEvent[];
let svc: LocalVolumeService;
let rootfs: string;

async function rejectsWith(
  p: Promise<unknown>,
  cls: new (m: string) => Error,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

beforeEach(async () => {
  dir = tempDir('berth-volumes-');
  events = new MemoryEventBus();
  seen = [];
  events.subscribe((e) => seen.push(e));
  svc = await createVolumeService({
    dataRoot: join(dir.path, 'data'),
    events,
    logger: nullLogger(),
  });
  rootfs = makeBusyboxRootfs(dir.path);
});

afterEach(async () => {
  for (const v of svc.store.list()) {
    await svc.releaseMounts(CID, { removeAnonymous: false });
    await svc.releaseMounts(CID2, { removeAnonymous: false });
    await svc.store.remove(v.name, { force: true });
  }
  dir.remove();
});

describe('VolumeStore', () => {
  it('creates a named volume with its data dir, metadata and a create event', async () => {
    const v = await svc.store.create({ name: 'web-data', labels: { app: 'web' } });
    const api = await svc.store.toApi(v);
    assert.equal(api.Name, 'web-data');
    assert.equal(api.Driver, 'local');
    assert.equal(api.Scope, 'local');
    assert.deepEqual(api.Labels, { app: 'web' });
    assert.equal(api.Mountpoint, join(dir.path, 'data/volumes/web-data/_data'));
    assert.match(api.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(lstatSync(api.Mountpoint).isDirectory());
    assert.deepEqual(
      seen.map((e) => [e.Type, e.Action, e.Actor.ID, e.Actor.Attributes.driver]),
      [['volume', 'create', 'web-data', 'local']],
    );
  });

  it('is idempotent for the same name and keeps the first labels', async () => {
    const a = await svc.store.create({ name: 'same', labels: { n: '1' } });
    const b = await svc.store.create({ name: 'same', labels: { n: '2' } });
    assert.deepEqual(b, a);
    assert.equal(seen.length, 1);
  });

  it('gives an unnamed volume a 64-hex name and the anonymous label', async () => {
    const v = await svc.store.create({});
    assert.match(v.name, /^[0-9a-f]{64}$/);
    assert.deepEqual(v.labels, { [ANONYMOUS_LABEL]: '' });
    assert.equal(isAnonymous(v), true);
  });

  for (const name of ['x!', 'a', '-lead', 'has space', 'a/b']) {
    it(`refuses the name ${JSON.stringify(name)} with Docker's message`, async () => {
      await rejectsWith(
        svc.store.create({ name }),
        InvalidParameterError,
        `create ${name}: "${name}" includes invalid characters for a local volume name, only ` +
          `"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    });
  }

  it('refuses unknown and incomplete local driver options, and other drivers', async () => {
    await rejectsWith(
      svc.store.create({ name: 'o1', driverOpts: { foo: 'bar' } }),
      InvalidParameterError,
      'create o1: invalid option: "foo"',
    );
    await rejectsWith(
      svc.store.create({ name: 'o2', driverOpts: { type: 'tmpfs' } }),
      InvalidParameterError,
      'create o2: missing required option: "device"',
    );
    await rejectsWith(
      svc.store.create({ name: 'o3', driver: 'nfs-plugin' }),
      NotFoundError,
      /plugin "nfs-plugin" not found/,
    );
  });

  it('answers 404 for a missing volume and removes with force silently', async () => {
    assert.throws(() => svc.store.mustGet('nope'), {
      name: 'NotFoundError',
      message: 'get nope: no such volume',
    });
    await rejectsWith(svc.store.remove('nope'), NotFoundError, 'get nope: no such volume');
    await svc.store.remove('nope', { force: true });
  });

  it('refuses to remove a volume in use, even with force, naming the containers', async () => {
    await svc.prepareMounts({ containerId: CID, binds: ['busy:/data'] }, rootfs);
    await svc.prepareMounts({ containerId: CID2, binds: ['busy:/other'] }, rootfs);
    for (const force of [false, true]) {
      await rejectsWith(
        svc.store.remove('busy', { force }),
        ConflictError,
        `remove busy: volume is in use - [${CID}, ${CID2}]`,
      );
    }
    await svc.releaseMounts(CID, { removeAnonymous: true });
    await svc.releaseMounts(CID2, { removeAnonymous: true });
    assert.ok(svc.store.get('busy'), 'a named volume survives rm -v');
    await svc.store.remove('busy');
    assert.equal(existsSync(join(dir.path, 'data/volumes/busy')), false);
    assert.equal(seen.at(-1)?.Action, 'destroy');
  });

  it('prunes unused volumes matching the filter and reports the bytes', async () => {
    const anon = await svc.store.create({});
    writeFileSync(join(svc.store.dataDir(anon.name), 'f'), 'x'.repeat(1000));
    await svc.store.create({ name: 'keep-named' });
    await svc.prepareMounts({ containerId: CID, binds: ['/in-use'] }, rootfs);
    const inUse = svc.store.usedBy(CID)[0]?.name;
    const r = await svc.store.prune(isAnonymous);
    assert.deepEqual(r, { names: [anon.name], reclaimed: 1000 });
    assert.deepEqual(
      svc.store
        .list()
        .map((v) => v.name)
        .sort(),
      ['keep-named', inUse].sort(),
    );
  });

  it('reloads from disk, repairs half-created volumes and stale references', async () => {
    await svc.prepareMounts({ containerId: CID, binds: ['kept:/k'] }, rootfs);
    mkdirSync(join(dir.path, 'data/volumes/half/_data'), { recursive: true });
    writeFileSync(join(dir.path, 'data/volumes/broken.json'), '{');
    const again = await createVolumeService({
      dataRoot: join(dir.path, 'data'),
      events,
      logger: nullLogger(),
    });
    assert.deepEqual(again.store.get('kept')?.refs, [{ container: CID, destination: '/k' }]);
    await again.repair(new Set([CID2]));
    assert.equal(existsSync(join(dir.path, 'data/volumes/half')), false);
    assert.deepEqual(again.store.get('kept')?.refs, []);
  });

  it('counts size (hard links once) and references for system df', async () => {
    const v = await svc.store.create({ name: 'sized' });
    const data = svc.store.dataDir(v.name);
    writeFileSync(join(data, 'a'), 'x'.repeat(300));
    linkSync(join(data, 'a'), join(data, 'b'));
    mkdirSync(join(data, 'sub'));
    writeFileSync(join(data, 'sub/c'), 'y'.repeat(20));
    await svc.prepareMounts({ containerId: CID, binds: ['sized:/a', 'sized:/b'] }, rootfs);
    const api = await svc.store.toApi(svc.store.mustGet('sized'), true);
    assert.deepEqual(api.UsageData, { Size: 320, RefCount: 1 });
  });
});

describe('LocalVolumeService.prepareMounts', () => {
  it('mounts binds, named and anonymous volumes and tmpfs, with Docker MountPoints', async () => {
    const host = join(dir.path, 'host-src');
    const created = join(dir.path, 'made-by-v');
    mkdirSync(host);
    const r = await svc.prepareMounts(
      {
        containerId: CID,
        binds: [`${host}:/src:ro`, 'named:/named', '/anon', `${created}:/made`],
        mounts: [
          { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1 << 20 } },
          { Type: 'bind', Source: host, Target: '/prop', BindOptions: { Propagation: 'rslave' } },
        ],
      },
      rootfs,
    );
    assert.ok(lstatSync(created).isDirectory(), '-v creates a missing bind source');
    const anon = svc.store.usedBy(CID).find(isAnonymous);
    assert.ok(anon);
    const vdir = (n: string) => svc.store.dataDir(n);
    assert.deepEqual(r.specMounts, [
      { type: 'bind', source: host, destination: '/src', readOnly: true, propagation: 'rprivate' },
      { type: 'bind', source: vdir('named'), destination: '/named', readOnly: false },
      { type: 'bind', source: vdir(anon.name), destination: '/anon', readOnly: false },
      {
        type: 'bind',
        source: created,
        destination: '/made',
        readOnly: false,
        propagation: 'rprivate',
      },
      { type: 'tmpfs', destination: '/scratch', sizeBytes: 1 << 20 },
      { type: 'bind', source: host, destination: '/prop', readOnly: false, propagation: 'rslave' },
    ]);
    assert.deepEqual(r.mountPoints.slice(0, 3), [
      {
        Type: 'bind',
        Source: host,
        Destination: '/src',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate',
      },
      {
        Type: 'volume',
        Name: 'named',
        Source: vdir('named'),
        Destination: '/named',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
      {
        Type: 'volume',
        Name: anon.name,
        Source: vdir(anon.name),
        Destination: '/anon',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
    ]);
    assert.deepEqual(r.mountPoints[4], {
      Type: 'tmpfs',
      Source: '',
      Destination: '/scratch',
      Mode: '',
      RW: true,
      Propagation: '',
    });
    const mounts = seen.filter((e) => e.Action === 'mount');
    assert.deepEqual(mounts[0]?.Actor.Attributes, {
      container: CID,
      destination: '/named',
      driver: 'local',
      propagation: '',
      'read/write': 'true',
    });
  });

  it('refuses duplicate mount points across Binds, Mounts and Tmpfs', async () => {
    const cases = [
      { binds: ['a1:/data', 'a2:/data/'] },
      { binds: ['a1:/data'], mounts: [{ Type: 'volume', Source: 'a2', Target: '/data' }] },
      { binds: ['a1:/data'], tmpfs: { '/data': '' } },
    ];
    for (const c of cases) {
      await rejectsWith(
        svc.prepareMounts({ containerId: CID, ...c }, rootfs),
        InvalidParameterError,
        'Duplicate mount point: /data',
      );
    }
    assert.deepEqual(svc.store.list(), [], 'nothing created on refusal');
  });

  it('turns image VOLUMEs into anonymous volumes unless a mount covers the path', async () => {
    const r = await svc.prepareMounts(
      {
        containerId: CID,
        binds: ['mine:/covered'],
        tmpfs: { '/in-tmpfs': 'size=1m' },
        imageVolumes: ['/covered', '/in-tmpfs', '/var/data/'],
      },
      rootfs,
    );
    assert.deepEqual(
      r.mountPoints.map((m) => [m.Destination, m.Name === 'mine' ? 'mine' : m.Mode]),
      [
        ['/covered', 'mine'],
        ['/var/data', ''],
      ],
    );
    assert.equal(svc.store.list().filter(isAnonymous).length, 1);
  });

  it('refuses an image VOLUME over a file', async () => {
    await rejectsWith(
      svc.prepareMounts({ containerId: CID, imageVolumes: ['/etc/passwd'] }, rootfs),
      InvalidParameterError,
      /^cannot mount volume over existing file, file exists .*\/rootfs\/etc\/passwd$/,
    );
  });

  it('reuses the same anonymous volumes when prepared again for the same container', async () => {
    const req = { containerId: CID, binds: ['/a'], imageVolumes: ['/b'] };
    const first = await svc.prepareMounts(req, rootfs);
    const second = await svc.prepareMounts(req, rootfs);
    assert.deepEqual(second.mountPoints, first.mountPoints);
    assert.equal(svc.store.list().length, 2);
  });

  it('rm -v removes anonymous volumes only; plain rm keeps them', async () => {
    await svc.prepareMounts({ containerId: CID, binds: ['named2:/n', '/anon'] }, rootfs);
    await svc.prepareMounts({ containerId: CID2, binds: ['/anon2'] }, rootfs);
    await svc.releaseMounts(CID2, { removeAnonymous: false });
    assert.equal(svc.store.list().length, 3);
    await svc.releaseMounts(CID, { removeAnonymous: true });
    const left = svc.store.list();
    assert.deepEqual(
      left.map((v) => [v.name === 'named2' ? 'named2' : 'anon', v.refs.length]).sort(),
      [
        ['anon', 0],
        ['named2', 0],
      ],
    );
    assert.ok(seen.some((e) => e.Action === 'unmount' && e.Actor.Attributes.container === CID));
  });

  it('undoes new anonymous volumes and references when preparing fails', async () => {
    await assert.rejects(
      svc.prepareMounts(
        {
          containerId: CID,
          binds: ['/anon', 'fine:/f'],
          mounts: [{ Type: 'bind', Source: '/nope/x', Target: '/x' }],
        },
        rootfs,
      ),
      /bind source path does not exist/,
    );
    await assert.rejects(
      svc.prepareMounts({ containerId: CID, binds: ['/anon', 'good:/f', 'x!:/bad'] }, rootfs),
      /includes invalid characters/,
    );
    assert.deepEqual(
      svc.store.list().map((v) => [v.name, v.refs.length]),
      [['good', 0]],
    );
  });
});

describe('copy-up', () => {
  it('copies image content into a new volume, preserving modes, owners, links', async () => {
    const app = join(rootfs, 'srv/app');
    mkdirSync(join(app, 'sub'), { recursive: true });
    writeFileSync(join(app, 'conf'), 'hello');
    chmodSync(join(app, 'conf'), 0o640);
    chownSync(join(app, 'conf'), 1000, 1000);
    chmodSync(join(app, 'sub'), 0o750);
    linkSync(join(app, 'conf'), join(app, 'hard'));
    symlinkSync('/etc/passwd', join(app, 'abs-link'));
    chmodSync(app, 0o711);
    chownSync(app, 1000, 29);
    // The mount point reached through a symlink inside the rootfs resolves inside it.
    symlinkSync('/srv/app', join(rootfs, 'app-link'));
    const r = await svc.prepareMounts({ containerId: CID, binds: ['content:/app-link'] }, rootfs);
    const data = r.specMounts[0]?.type === 'bind' ? r.specMounts[0].source : '';
    assert.equal(readFileSync(join(data, 'conf'), 'utf8'), 'hello');
    const conf = lstatSync(join(data, 'conf'));
    assert.equal(conf.mode & 0o7777, 0o640);
    assert.deepEqual([conf.uid, conf.gid], [1000, 1000]);
    assert.equal(lstatSync(join(data, 'hard')).ino, conf.ino);
    assert.equal(lstatSync(join(data, 'sub')).mode & 0o7777, 0o750);
    assert.equal(readlinkSync(join(data, 'abs-link')), '/etc/passwd');
    const root = lstatSync(data);
    assert.deepEqual([root.mode & 0o7777, root.uid, root.gid], [0o711, 1000, 29]);
  });

  it('does not copy into a volume that has data, nor with nocopy', async () => {
    mkdirSync(join(rootfs, 'srv/x'), { recursive: true });
    writeFileSync(join(rootfs, 'srv/x/image-file'), 'img');
    const v = await svc.store.create({ name: 'has-data' });
    writeFileSync(join(svc.store.dataDir(v.name), 'mine'), 'm');
    await svc.prepareMounts(
      {
        containerId: CID,
        binds: ['has-data:/srv/x', 'nocopy-vol:/srv/x2:nocopy'],
        mounts: [
          { Type: 'volume', Source: 'nc2', Target: '/etc', VolumeOptions: { NoCopy: true } },
        ],
      },
      rootfs,
    );
    assert.equal(existsSync(join(svc.store.dataDir('has-data'), 'image-file')), false);
    assert.deepEqual(
      ['nocopy-vol', 'nc2'].map((n) => existsSync(join(svc.store.dataDir(n), 'passwd'))),
      [false, false],
    );
  });

  it('never reads outside the rootfs when the mount point is a symlink escaping it', async () => {
    symlinkSync('../../../../../../etc', join(rootfs, 'escape'));
    await svc.prepareMounts({ containerId: CID, binds: ['esc:/escape'] }, rootfs);
    // `..` stops at the rootfs, so this is the image's /etc, not the host's.
    const files = existsSync(join(svc.store.dataDir('esc'), 'group'));
    assert.equal(files, true);
    assert.equal(existsSync(join(svc.store.dataDir('esc'), 'hostname')), false);
  });
});

describe('local driver options', () => {
  it('mounts a tmpfs volume while referenced and unmounts when released', async () => {
    await svc.store.create({
      name: 'ram',
      driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' },
    });
    const data = svc.store.dataDir('ram');
    assert.equal(await isMounted(data), false);
    await svc.prepareMounts({ containerId: CID, binds: ['ram:/ram'] }, rootfs);
    assert.equal(await isMounted(data), true);
    assert.equal(lstatSync(data).uid, 1000);
    await svc.releaseMounts(CID, { removeAnonymous: false });
    assert.equal(await isMounted(data), false);
  });

  it('binds a host directory given as device with o=bind', async () => {
    const host = join(dir.path, 'bind-dev');
    mkdirSync(host);
    writeFileSync(join(host, 'marker'), 'here');
    await svc.store.create({
      name: 'bound',
      driverOpts: { type: 'none', device: host, o: 'bind' },
    });
    await svc.prepareMounts({ containerId: CID, binds: ['bound:/b'] }, rootfs);
    assert.equal(readFileSync(join(svc.store.dataDir('bound'), 'marker'), 'utf8'), 'here');
    await svc.store.remove('bound').catch(() => undefined);
    await svc.releaseMounts(CID, { removeAnonymous: false });
    await svc.store.remove('bound');
    assert.equal(readFileSync(join(host, 'marker'), 'utf8'), 'here', 'host data untouched');
  });
});

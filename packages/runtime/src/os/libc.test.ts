import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  lgetxattr,
  llistxattr,
  lsetxattr,
  makedev,
  mknod,
  mount,
  MNT,
  S_IF,
  umount2,
  XATTR,
} from './libc.js';

const isRoot = process.getuid?.() === 0;

describe('libc', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-libc-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('sets, reads and lists xattrs of the path itself, not a symlink target', async () => {
    const f = join(tmp, 'f');
    await writeFile(f, '');
    const value = Buffer.from([0, 1, 0xfe, 0xff]);
    lsetxattr(f, 'user.a', value);
    lsetxattr(f, 'user.b', Buffer.alloc(0));
    assert.deepEqual(lgetxattr(f, 'user.a'), value);
    assert.deepEqual(lgetxattr(f, 'user.b'), Buffer.alloc(0));
    assert.deepEqual(llistxattr(f).sort(), ['user.a', 'user.b']);
    await symlink(f, join(tmp, 'l'));
    assert.deepEqual(llistxattr(join(tmp, 'l')), []);
  });

  it('throws Node-style errors with errno code names', async () => {
    const f = join(tmp, 'g');
    await writeFile(f, '');
    assert.throws(() => lgetxattr(f, 'user.none'), {
      code: 'ENODATA',
      syscall: 'lgetxattr',
      path: f,
      errno: -61,
    });
    lsetxattr(f, 'user.x', Buffer.from('1'));
    assert.throws(() => lsetxattr(f, 'user.x', Buffer.from('2'), XATTR.CREATE), { code: 'EEXIST' });
    assert.throws(
      () => llistxattr(join(tmp, 'missing')),
      /^Error: ENOENT: no such file or directory, llistxattr/,
    );
    assert.throws(() => lsetxattr(`${f}\0x`, 'user.x', Buffer.from('1')), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });

  it('encodes dev_t as glibc makedev does', () => {
    assert.equal(makedev(0, 0), 0n);
    assert.equal(makedev(1, 3), 0x103n);
    assert.equal(makedev(259, 65536), 0x10010300n); // minor's high bits sit above major's
  });

  it('creates FIFOs and device nodes', { skip: !isRoot && 'needs root' }, async () => {
    mknod(join(tmp, 'p'), S_IF.FIFO | 0o600);
    assert.ok((await lstat(join(tmp, 'p'))).isFIFO());
    mknod(join(tmp, 'c'), S_IF.CHR | 0o600, 1, 3);
    assert.equal((await lstat(join(tmp, 'c'))).rdev, 0x103);
    assert.throws(() => mknod(join(tmp, 'c'), S_IF.CHR, 0, 0), {
      code: 'EEXIST',
      syscall: 'mknod',
    });
  });

  it('mounts and unmounts a tmpfs', { skip: !isRoot && 'needs root' }, async (t) => {
    const target = join(tmp, 'mnt');
    await mkdir(target);
    try {
      mount('tmpfs', target, 'tmpfs', 0, 'size=1m,mode=0700');
    } catch (err) {
      t.skip(`mount not permitted here: ${String(err)}`);
      return;
    }
    try {
      assert.equal((await lstat(target)).mode & 0o777, 0o700);
    } finally {
      umount2(target, MNT.DETACH);
    }
    assert.equal((await lstat(target)).mode & 0o777, 0o755);
    assert.throws(() => umount2(target), { code: 'EINVAL' });
  });
});

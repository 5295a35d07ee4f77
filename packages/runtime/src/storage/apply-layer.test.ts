import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { lgetxattr, llistxattr, lsetxattr } from '../os/libc.js';
import { applyLayer, parsePaxRecords } from './apply-layer.js';
import { decompressLayer } from './decompress.js';
import { makeTar, paxHeader } from './test-tar.js';
import type { Spec } from './test-tar.js';

let tmp: string;
let root: string;
let outside: string;
let warnings: string[];

function apply(tar: Buffer, target = root) {
  return applyLayer(Readable.from([tar]), target, { onWarning: (w) => warnings.push(w) });
}

/** Every path under tmp except the extraction root, with type and size: what must not change. */
async function outsideState(): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      if (p === root) continue;
      const st = await lstat(p);
      out.push(`${p} ${st.mode} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(tmp);
  return out;
}

/** Applies a hostile archive: it must fail with `message`, and nothing outside may change. */
async function assertRefused(specs: Spec[], message: RegExp): Promise<void> {
  const before = await outsideState();
  await assert.rejects(apply(await makeTar(specs)), message);
  assert.deepEqual(await outsideState(), before);
  assert.equal(await readFile(join(outside, 'sentinel'), 'utf8'), 'keep');
  assert.ok((await lstat(root)).isDirectory(), 'the root stays a directory');
}

const isRoot = process.getuid?.() === 0;

describe('applyLayer', () => {
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-apply-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await rm(join(tmp, 'root'), { recursive: true, force: true });
    await rm(join(tmp, 'outside'), { recursive: true, force: true });
    root = join(tmp, 'root');
    outside = join(tmp, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'sentinel'), 'keep');
    warnings = [];
  });

  describe('hostile archives', () => {
    it('refuses a name that climbs out with ..', async () => {
      await assertRefused([{ name: '../escape', body: 'x' }], /escapes the layer root/);
    });

    it('refuses a name that climbs out after normalisation', async () => {
      await assertRefused(
        [
          { name: 'a/', type: 'directory' },
          { name: 'a/../../outside/sentinel', body: 'pwned' },
        ],
        /escapes the layer root/,
      );
    });

    it('keeps an absolute name inside the root', async () => {
      const before = await outsideState();
      await apply(await makeTar([{ name: `${outside}/sentinel`, body: 'inside' }]));
      assert.deepEqual(await outsideState(), before);
      assert.equal(await readFile(join(root, outside, 'sentinel'), 'utf8'), 'inside');
    });

    it('refuses to write through an absolute symlink', async () => {
      await assertRefused(
        [
          { name: 'link', type: 'symlink', linkname: outside },
          { name: 'link/x', body: 'pwned' },
        ],
        /"link" is a symlink/,
      );
    });

    it('refuses to write through a relative symlink', async () => {
      await assertRefused(
        [
          { name: 'link', type: 'symlink', linkname: '../outside' },
          { name: 'link/sentinel', body: 'pwned' },
        ],
        /is a symlink/,
      );
    });

    it('refuses a symlink swapped in for a directory mid-archive', async () => {
      await assertRefused(
        [
          { name: 'd/', type: 'directory' },
          { name: 'd/a', body: 'fine' },
          { name: 'd', type: 'symlink', linkname: outside },
          { name: 'd/x', body: 'pwned' },
        ],
        /"d" is a symlink/,
      );
    });

    it('refuses a symlink hardlinked over a directory mid-archive', async () => {
      await assertRefused(
        [
          { name: 'd/', type: 'directory' },
          { name: 'd/a', body: 'fine' },
          { name: 's', type: 'symlink', linkname: outside },
          { name: 'd', type: 'link', linkname: 's' },
          { name: 'd/x', body: 'pwned' },
        ],
        /"d" is a symlink/,
      );
    });

    it('refuses writing into a directory that a whiteout replaced', async () => {
      await assertRefused(
        [
          { name: 'd/', type: 'directory' },
          { name: 'd/a', body: 'fine' },
          { name: '.wh.d', body: '' },
          { name: 'd/x', body: 'x' },
        ],
        /"d" is not a directory/,
      );
    });

    it('refuses a directory entry through a symlink', async () => {
      await assertRefused(
        [
          { name: 'link', type: 'symlink', linkname: outside },
          { name: 'link/sub/', type: 'directory' },
        ],
        /is a symlink/,
      );
    });

    it('replaces an existing symlink with a file instead of writing through it', async () => {
      const before = await outsideState();
      await apply(
        await makeTar([
          { name: 'f', type: 'symlink', linkname: join(outside, 'sentinel') },
          { name: 'f', body: 'new' },
        ]),
      );
      assert.deepEqual(await outsideState(), before);
      assert.ok((await lstat(join(root, 'f'))).isFile());
      assert.equal(await readFile(join(root, 'f'), 'utf8'), 'new');
    });

    it('refuses a hardlink to a file outside the root', async () => {
      await assertRefused(
        [{ name: 'h', type: 'link', linkname: '../outside/sentinel' }],
        /escapes the layer root/,
      );
    });

    it('refuses a hardlink whose target path goes through a symlink', async () => {
      await assertRefused(
        [
          { name: 'evil', type: 'symlink', linkname: outside },
          { name: 'h', type: 'link', linkname: 'evil/sentinel' },
        ],
        /"evil" is a symlink/,
      );
    });

    it('links a hardlink to an escaping symlink as a symlink, never to what it points at', async () => {
      await assertRefused(
        [
          { name: 's', type: 'symlink', linkname: join(outside, 'sentinel') },
          { name: 'h', type: 'link', linkname: 's' },
          { name: 'h/x', body: 'pwned' },
        ],
        /"h" is a symlink/,
      );
      // A fresh root: with the file entry after it, the link is replaced, not written through.
      await rm(root, { recursive: true });
      await mkdir(root);
      const before = await outsideState();
      await apply(
        await makeTar([
          { name: 's', type: 'symlink', linkname: join(outside, 'sentinel') },
          { name: 'h', type: 'link', linkname: 's' },
        ]),
      );
      const h = await lstat(join(root, 'h'));
      assert.ok(h.isSymbolicLink());
      assert.equal(h.ino, (await lstat(join(root, 's'))).ino);
      await apply(await makeTar([{ name: 'h', body: 'over' }]));
      assert.deepEqual(await outsideState(), before);
    });

    it('refuses a hardlink to a missing target or a directory', async () => {
      await assertRefused([{ name: 'h', type: 'link', linkname: 'nope' }], /does not exist/);
      await assertRefused(
        [
          { name: 'd/', type: 'directory' },
          { name: 'h', type: 'link', linkname: 'd' },
        ],
        /hardlink to a directory/,
      );
    });

    for (const name of ['.wh.', '.wh..', '.wh...', 'a/.wh..', 'a/.wh.']) {
      it(`refuses the whiteout name ${JSON.stringify(name)}`, async () => {
        await assertRefused([{ name, body: '' }], /whiteout does not name a file/);
      });
    }

    it('refuses a whiteout that climbs out of the root', async () => {
      await assertRefused(
        [{ name: '../outside/.wh.sentinel', body: '' }],
        /escapes the layer root/,
      );
    });

    it('keeps dir/../.wh.x inside the root (it whites out x at the top)', async () => {
      const before = await outsideState();
      await apply(await makeTar([{ name: 'dir/../.wh.x', body: '' }]));
      assert.deepEqual(await outsideState(), before);
      assert.ok((await lstat(join(root, 'x'))).isCharacterDevice());
    });

    it('refuses a whiteout through a symlinked parent', async () => {
      await assertRefused(
        [
          { name: 'link', type: 'symlink', linkname: outside },
          { name: 'link/.wh.sentinel', body: '' },
        ],
        /is a symlink/,
      );
      await assertRefused(
        [
          { name: 'link', type: 'symlink', linkname: outside },
          { name: 'link/.wh..wh..opq', body: '' },
        ],
        /is a symlink/,
      );
    });

    for (const name of ['.', './', '/', '']) {
      it(`refuses a symlink named ${JSON.stringify(name)} replacing the root (CVE-2021-29136)`, async () => {
        await assertRefused(
          [{ name, type: 'symlink', linkname: outside }],
          /layer root can only be a directory/,
        );
      });
    }

    it('refuses a file named like the root', async () => {
      await assertRefused([{ name: './', type: 'file', body: 'x' }], /layer root/);
    });

    it('refuses writing beneath a file', async () => {
      await assertRefused(
        [
          { name: 'f', body: 'x' },
          { name: 'f/g', body: 'y' },
        ],
        /"f" is not a directory/,
      );
    });

    it('refuses a NUL byte in a name', async () => {
      // Only a pax path can carry one: the ustar name field ends at the first NUL.
      await assertRefused([paxHeader({ path: 'a\0/../../x' }), { name: 'x', body: 'x' }], /NUL/);
    });

    it('refuses a truncated archive and a corrupt header', async () => {
      const tar = await makeTar([{ name: 'f', body: 'x'.repeat(2000) }]);
      await assert.rejects(
        apply(tar.subarray(0, 1024)),
        /invalid layer archive: Unexpected end of data/,
      );
      const corrupt = Buffer.from(tar);
      corrupt[0] = 0x41;
      await assert.rejects(apply(corrupt), /invalid layer archive: Invalid tar header/);
    });

    it(
      'ignores trusted.overlay.* xattrs in the archive',
      { skip: !isRoot && 'needs root' },
      async () => {
        await apply(
          await makeTar([
            paxHeader({ 'SCHILY.xattr.trusted.overlay.opaque': 'y' }),
            { name: 'd/', type: 'directory' },
          ]),
        );
        assert.ok(!llistxattr(join(root, 'd')).includes('trusted.overlay.opaque'));
        assert.match(warnings.join('\n'), /ignored xattr trusted\.overlay\.opaque/);
      },
    );
  });

  describe('content', () => {
    it('preserves modes, owners and mtimes (directories dated after their children)', async () => {
      const mtime = new Date(1_500_000_000_000);
      await apply(
        await makeTar([
          { name: 'd/', type: 'directory', mode: 0o750, uid: 1234, gid: 5678, mtime },
          { name: 'd/suid', body: '#!/bin/sh\n', mode: 0o4755, uid: 1234, gid: 5678, mtime },
          { name: 'd/link', type: 'symlink', linkname: 'suid', uid: 42, gid: 43, mtime },
          { name: 'd/sticky/', type: 'directory', mode: 0o1777, mtime },
        ]),
      );
      const d = await lstat(join(root, 'd'));
      assert.equal(d.mode & 0o7777, 0o750);
      assert.equal(d.mtimeMs, mtime.getTime());
      const f = await lstat(join(root, 'd/suid'));
      assert.equal(f.mode & 0o7777, 0o4755);
      assert.equal(f.mtimeMs, mtime.getTime());
      assert.equal((await lstat(join(root, 'd/sticky'))).mode & 0o7777, 0o1777);
      const l = await lstat(join(root, 'd/link'));
      assert.equal(l.mtimeMs, mtime.getTime());
      assert.equal(await readlink(join(root, 'd/link')), 'suid');
      if (isRoot) {
        assert.deepEqual(
          [d.uid, d.gid, f.uid, f.gid, l.uid, l.gid],
          [1234, 5678, 1234, 5678, 42, 43],
        );
      }
    });

    it('uses pax uid/gid/mtime over the header fields', async () => {
      await apply(
        await makeTar([
          paxHeader({ uid: '3000000', gid: '3000001', mtime: '1400000000.5' }),
          { name: 'f', body: 'x', uid: 1, gid: 1 },
        ]),
      );
      const st = await lstat(join(root, 'f'));
      assert.equal(st.mtimeMs, 1_400_000_000_500);
      if (isRoot) assert.deepEqual([st.uid, st.gid], [3_000_000, 3_000_001]);
    });

    it('creates hardlinks, symlinks and FIFOs', async () => {
      await apply(
        await makeTar([
          { name: 'a', body: 'shared' },
          { name: 'sub/b', type: 'link', linkname: './a' },
          { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
          { name: 'up', type: 'symlink', linkname: '../../../x' },
          { name: 'p', type: 'fifo', mode: 0o600 },
        ]),
      );
      const a = await lstat(join(root, 'a'));
      const b = await lstat(join(root, 'sub/b'));
      assert.equal(a.ino, b.ino);
      assert.equal(a.nlink, 2);
      assert.equal(await readlink(join(root, 'abs')), '/etc/passwd');
      assert.equal(await readlink(join(root, 'up')), '../../../x');
      assert.ok((await lstat(join(root, 'p'))).isFIFO());
      // The implicit parent of sub/b.
      assert.equal((await lstat(join(root, 'sub'))).mode & 0o777, 0o755);
    });

    it('creates device nodes as root', { skip: !isRoot && 'needs root' }, async () => {
      await apply(
        await makeTar([
          { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        ]),
      );
      const st = await lstat(join(root, 'dev/null'));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, (1 << 8) | 3);
      assert.deepEqual(warnings, []);
    });

    it(
      'skips device nodes with a warning where mknod is not permitted',
      { skip: !isRoot && 'needs root' },
      async () => {
        const tarPath = join(tmp, 'dev.tar');
        await writeFile(
          tarPath,
          await makeTar([
            { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
            { name: 'ok', body: 'still applied' },
          ]),
        );
        const mod = fileURLToPath(new URL('./apply-layer.js', import.meta.url));
        const script = `
        import { applyLayer } from ${JSON.stringify(mod)};
        import { createReadStream } from 'node:fs';
        const warnings = [];
        await applyLayer(createReadStream(process.argv[1]), process.argv[2], { onWarning: (w) => warnings.push(w) });
        console.log(JSON.stringify(warnings));`;
        // Without CAP_MKNOD in the bounding set, root's mknod of a device fails with EPERM.
        const r = spawnSync(
          'setpriv',
          [
            '--bounding-set',
            '-mknod',
            process.execPath,
            '--input-type=module',
            '-e',
            script,
            tarPath,
            root,
          ],
          { encoding: 'utf8', timeout: 30_000 },
        );
        assert.equal(r.status, 0, r.stderr);
        const childWarnings = JSON.parse(r.stdout) as string[];
        assert.equal(childWarnings.length, 1);
        assert.match(childWarnings[0] ?? '', /skipped block-device dev\/sda: EPERM/);
        await assert.rejects(lstat(join(root, 'dev/sda')), { code: 'ENOENT' });
        assert.equal(await readFile(join(root, 'ok'), 'utf8'), 'still applied');
      },
    );

    it('round-trips binary user.* xattrs from pax records', async () => {
      const value = Buffer.from([0x00, 0x7f, 0x80, 0xc3, 0x28, 0xff]);
      await apply(
        await makeTar([
          paxHeader({ 'SCHILY.xattr.user.blob': value, 'SCHILY.xattr.user.txt': 'héllo' }),
          { name: 'f', body: 'x' },
        ]),
      );
      assert.deepEqual(lgetxattr(join(root, 'f'), 'user.blob'), value);
      assert.equal(lgetxattr(join(root, 'f'), 'user.txt').toString(), 'héllo');
      assert.deepEqual(llistxattr(join(root, 'f')).sort(), ['user.blob', 'user.txt']);
    });

    it(
      'sets trusted.* and security.capability xattrs as root',
      { skip: !isRoot && 'needs root' },
      async () => {
        // cap_setuid (bit 7) makes a byte ≥ 0x80, which a UTF-8 decode would mangle.
        const caps = Buffer.from('0100000280000000000000000000000000000000', 'hex');
        await apply(
          await makeTar([
            paxHeader({
              'SCHILY.xattr.trusted.berth': 'yes',
              'SCHILY.xattr.security.capability': caps,
            }),
            { name: 'bin', body: 'x', mode: 0o755, uid: 7, gid: 7 },
          ]),
        );
        assert.equal(lgetxattr(join(root, 'bin'), 'trusted.berth').toString(), 'yes');
        // After chown: a chown after the xattr would have cleared the capability.
        assert.deepEqual(lgetxattr(join(root, 'bin'), 'security.capability'), caps);
      },
    );

    it(
      'turns whiteouts into overlay whiteouts and opaque markers',
      { skip: !isRoot && 'needs root' },
      async () => {
        await apply(
          await makeTar([
            { name: '.wh.gone', body: '' },
            { name: 'd/', type: 'directory' },
            { name: 'd/.wh..wh..opq', body: '' },
            { name: 'd/new', body: 'n' },
            { name: 'e/.wh..wh..opq', body: '' }, // before its directory entry
            { name: 'e/', type: 'directory', mode: 0o711 },
            { name: '.wh..wh.plnk/123', body: 'aufs' },
            { name: '.wh..wh.aufs', body: '' },
          ]),
        );
        const wh = await lstat(join(root, 'gone'));
        assert.ok(wh.isCharacterDevice());
        assert.equal(wh.rdev, 0);
        assert.equal(lgetxattr(join(root, 'd'), 'trusted.overlay.opaque').toString(), 'y');
        assert.equal(lgetxattr(join(root, 'e'), 'trusted.overlay.opaque').toString(), 'y');
        assert.equal((await lstat(join(root, 'e'))).mode & 0o777, 0o711);
        assert.deepEqual((await readdir(root)).sort(), ['d', 'e', 'gone']);
        assert.deepEqual(await readdir(join(root, 'd')), ['new']);
      },
    );

    it('replaces entries: later wins, directories merge', async () => {
      await apply(
        await makeTar([
          { name: 'x/', type: 'directory' },
          { name: 'x/keep', body: '1' },
          { name: 'x/', type: 'directory', mode: 0o700 },
          { name: 'y/', type: 'directory' },
          { name: 'y/z', body: 'gone' },
          { name: 'y', body: 'file now' },
        ]),
      );
      assert.deepEqual(await readdir(join(root, 'x')), ['keep']);
      assert.equal((await lstat(join(root, 'x'))).mode & 0o777, 0o700);
      assert.equal(await readFile(join(root, 'y'), 'utf8'), 'file now');
    });

    it('computes the diff ID over every byte of the tar', async () => {
      const tar = await makeTar([{ name: 'f', body: 'hello' }]);
      const padded = Buffer.concat([tar, Buffer.alloc(10240 - (tar.length % 10240))]);
      const r = await apply(padded);
      assert.equal(r.size, padded.length);
      assert.equal(r.diffId, `sha256:${createHash('sha256').update(padded).digest('hex')}`);
    });

    it('applies a GNU tar archive with long names, pax times and xattrs', async () => {
      const src = join(tmp, 'gnu-src');
      const long = 'l'.repeat(120);
      await mkdir(join(src, long), { recursive: true });
      await writeFile(join(src, long, 'f'), 'deep');
      lsetxattr(join(src, long, 'f'), 'user.k', Buffer.from('v'));
      const tar = execFileSync('tar', ['--xattrs', '--format=pax', '-C', src, '-cf', '-', '.']);
      await apply(tar);
      assert.equal(await readFile(join(root, long, 'f'), 'utf8'), 'deep');
      assert.equal(lgetxattr(join(root, long, 'f'), 'user.k').toString(), 'v');
      const a = await lstat(join(src, long, 'f'));
      const b = await lstat(join(root, long, 'f'));
      assert.equal(Math.round(b.mtimeMs), Math.round(a.mtimeMs));
    });
  });

  describe('decompressLayer', () => {
    let tar: Buffer;
    let digest: string;
    before(async () => {
      tar = await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/hostname', body: 'berth\n' },
        { name: 'big', body: Buffer.alloc(300_000, 7) },
      ]);
      digest = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    });

    const formats: [string, () => Buffer][] = [
      ['plain', () => tar],
      ['gzip', () => gzipSync(tar)],
      ['zstd', () => execFileSync('/usr/bin/zstd', ['-q', '-c'], { input: tar })],
    ];
    for (const [format, make] of formats) {
      it(`applies a ${format} layer and computes the diff ID of the tar`, async () => {
        const blob = make();
        // Small chunks exercise the magic sniffing across chunk boundaries.
        const chunks = Array.from({ length: Math.ceil(blob.length / 100) }, (_, i) =>
          blob.subarray(i * 100, i * 100 + 100),
        );
        const r = await applyLayer(await decompressLayer(Readable.from(chunks)), root);
        assert.equal(r.diffId, digest);
        assert.equal(r.size, tar.length);
        assert.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'berth\n');
        assert.equal((await lstat(join(root, 'big'))).size, 300_000);
      });
    }

    it('treats an empty blob as an empty layer', async () => {
      const r = await applyLayer(await decompressLayer(Readable.from([])), root);
      assert.equal(r.size, 0);
    });

    it('refuses unknown compression with a clear error', async () => {
      await assert.rejects(
        decompressLayer(Readable.from([Buffer.from('BZh91AY&SY')])),
        /unsupported layer compression: bzip2/,
      );
      await assert.rejects(
        decompressLayer(Readable.from([Buffer.alloc(600, 0x41)])),
        /unsupported layer format/,
      );
      await assert.rejects(
        decompressLayer(Readable.from([tar]), 'application/vnd.oci.image.layer.v1.tar+encrypted'),
        /encrypted/,
      );
    });

    it('reports corrupt compressed data', async () => {
      const gz = gzipSync(tar);
      gz.writeUInt8(gz.readUInt8(gz.length - 20) ^ 0xff, gz.length - 20);
      await assert.rejects(
        (async () => applyLayer(await decompressLayer(Readable.from([gz])), root))(),
        /invalid gzip layer data/,
      );
      const zst = execFileSync('/usr/bin/zstd', ['-q', '-c'], { input: tar });
      await assert.rejects(
        (async () =>
          applyLayer(
            await decompressLayer(Readable.from([zst.subarray(0, zst.length - 10)])),
            root,
          ))(),
        /invalid zstd layer data/,
      );
    });
  });

  it('parsePaxRecords keeps binary values and stops at malformed records', () => {
    const spec = paxHeader({ a: Buffer.from([0xff, 0x0a]), 'SCHILY.xattr.user.x': 'y' });
    const body = spec.body as Buffer;
    const r = parsePaxRecords(Buffer.concat([body, Buffer.from('99 broken')]));
    assert.deepEqual(r.get('a'), Buffer.from([0xff, 0x0a]));
    assert.deepEqual(r.get('SCHILY.xattr.user.x'), Buffer.from('y'));
    assert.equal(r.size, 2);
  });
});

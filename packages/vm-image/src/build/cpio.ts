/**
 * A reproducible newc cpio writer for the initramfs: entries sorted by path, numbered inodes,
 * owner root, one fixed mtime, so the same tree always gives the same bytes.
 */

export interface CpioEntry {
  path: string;
  /** Full st_mode: type and permission bits. */
  mode: number;
  data?: Buffer;
  /** For character devices. */
  rdev?: { major: number; minor: number };
}

const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function header(ino: number, e: CpioEntry, size: number, mtime: number, name: string): Buffer {
  const fields = [
    ino,
    e.mode,
    0,
    0,
    (e.mode & S_IFMT) === S_IFDIR ? 2 : 1,
    mtime,
    size,
    0,
    0,
    e.rdev?.major ?? 0,
    e.rdev?.minor ?? 0,
    Buffer.byteLength(name) + 1,
    0,
  ];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}${name}\0`, 'latin1');
  return Buffer.concat([head, pad4(head.length)]);
}

export function writeCpio(entries: readonly CpioEntry[], mtime: number): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  sorted.forEach((e, i) => {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(header(i + 1, e, data.length, mtime, e.path), data, pad4(data.length));
  });
  parts.push(header(0, { path: 'TRAILER!!!', mode: 0 }, 0, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}

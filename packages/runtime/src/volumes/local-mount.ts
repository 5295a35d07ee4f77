/**
 * Mounting a local-driver volume created with options (`--opt type=tmpfs --opt device=tmpfs
 * --opt o=size=64m`, or `type=none,o=bind,device=/path`) on its `_data` directory, as moby's
 * volume/local does with mount(8)-style options: flag words become mount flags, the rest is
 * filesystem data.
 */
import { readFile } from 'node:fs/promises';
import { MNT, MS, mount, umount2 } from '../os/libc.js';

/** mount(8) option words that are flags, with the bits they set (0 = clears only). */
const FLAGS: Record<string, number> = {
  ro: MS.RDONLY,
  rw: 0,
  nosuid: MS.NOSUID,
  suid: 0,
  nodev: MS.NODEV,
  dev: 0,
  noexec: MS.NOEXEC,
  exec: 0,
  noatime: MS.NOATIME,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  defaults: 0,
};

/** Splits `o` into mount flags and the data string the filesystem gets. */
export function parseMountOptions(o: string | undefined): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const word of (o ?? '').split(',')) {
    if (word === '') continue;
    const bit = FLAGS[word];
    if (bit === undefined) data.push(word);
    else flags |= bit;
  }
  return { flags, data: data.join(',') };
}

/** Mounts the volume's device on `dir` per its local-driver options. */
export function mountLocalOptions(options: Record<string, string>, dir: string): void {
  const device = options.device;
  if (!device) throw new Error('missing device in volume options');
  const { flags, data } = parseMountOptions(options.o);
  const type = options.type === 'none' || !options.type ? null : options.type;
  mount(device, dir, type, flags, data === '' ? null : data);
  // A bind ignores MS_RDONLY on the first call; it takes a remount.
  if (flags & MS.BIND && flags & MS.RDONLY) {
    mount(null, dir, null, MS.BIND | MS.REMOUNT | MS.RDONLY);
  }
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** True when `dir` is a mount point in this process's mount namespace. */
export async function isMounted(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => unescapeMountinfo(line.split(' ')[4] ?? '') === dir);
}

/** Unmounts `dir` (lazily, so a stray open file cannot wedge removal) if it is mounted. */
export async function unmountQuietly(dir: string): Promise<void> {
  // Bounded: each round removes one stacked mount.
  for (let i = 0; i < 16 && (await isMounted(dir)); i++) {
    try {
      umount2(dir, MNT.DETACH);
    } catch {
      return;
    }
  }
}

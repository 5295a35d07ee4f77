/** Raw sparse disks: every hypervisor reads raw, and sparse costs only what the guest writes. */
import { closeSync, existsSync, ftruncateSync, openSync, statSync } from 'node:fs';

/** Creates `path` as a sparse file of `gib` GiB, or grows it; never shrinks (data lives there). */
export function ensureSparseDisk(path: string, gib: number): void {
  const size = gib * 1024 ** 3;
  if (existsSync(path) && statSync(path).size >= size) return;
  const fd = openSync(path, existsSync(path) ? 'r+' : 'w', 0o600);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

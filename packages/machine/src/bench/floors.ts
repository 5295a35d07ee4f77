/**
 * The boot floors of the VM bench, each printing a `berth-floor: <name> <guest uptime>` line on
 * the console and powering off:
 * - `busybox`: the same kernel with a bare busybox initramfs whose init is the shell itself;
 * - `node`: the full image booted as usual, except that node-service.sh runs `node -e 0` instead
 *   of the agent and the engine (kernel command line switch {@link NODE_FLOOR_CMDLINE}).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { S_IFCHR, S_IFDIR, S_IFREG, writeCpio } from '../../../vm-image/dist/build/cpio.js';
import type { GuestImage } from '../settings.js';

export const FLOOR_PREFIX = 'berth-floor: ';
/** Makes the image's node-service.sh run `node -e 0`, report, and power off. */
export const NODE_FLOOR_CMDLINE = 'berth.floor=node';

/** The floor's name and the guest uptime (s) it reported, from one console line. */
export function parseFloorLine(line: string): { name: string; uptime: number } | undefined {
  const at = line.indexOf(FLOOR_PREFIX);
  if (at < 0) return undefined;
  const [name, uptime] = line
    .slice(at + FLOOR_PREFIX.length)
    .trim()
    .split(/\s+/);
  const seconds = Number(uptime);
  return name && Number.isFinite(seconds) ? { name, uptime: seconds } : undefined;
}

const BUSYBOX_INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "${FLOOR_PREFIX}busybox $(/bin/busybox cut -d' ' -f1 /proc/uptime)" >/dev/console
/bin/busybox poweroff -f
`;

/**
 * Writes the busybox floor's initramfs into `dir` and returns the image to boot: the kernel
 * and command line of `image`, no system disk. `busybox` is a static busybox (Debian's
 * busybox-static, the one the real initramfs carries).
 */
export function busyboxFloorImage(
  image: GuestImage,
  dir: string,
  busybox = '/bin/busybox',
): GuestImage {
  mkdirSync(dir, { recursive: true });
  const initrd = join(dir, 'busybox-floor.img');
  const cpio = writeCpio(
    [
      { path: 'dev', mode: S_IFDIR | 0o755 },
      { path: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } },
      { path: 'proc', mode: S_IFDIR | 0o755 },
      { path: 'bin', mode: S_IFDIR | 0o755 },
      { path: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(busybox) },
      { path: 'init', mode: S_IFREG | 0o755, data: Buffer.from(BUSYBOX_INIT) },
    ],
    0,
  );
  writeFileSync(initrd, gzipSync(cpio, { level: 9 }));
  const { system: _system, ...rest } = image;
  return { ...rest, initrd };
}

/** The full image with node-service.sh switched to the `node -e 0` floor. */
export function nodeFloorImage(image: GuestImage): GuestImage {
  return { ...image, cmdline: `${image.cmdline} ${NODE_FLOOR_CMDLINE}`.trim() };
}

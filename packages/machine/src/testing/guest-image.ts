/** The guest image tests boot: packages/vm-image's build output, when it has been built. */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildImage } from '@berth/vm-image/build';
import { defaultImageDir, imageFromDir } from '../image.js';
import { hostArch, type GuestImage } from '../settings.js';
import { qemuBinary } from '../drivers/qemu/args.js';

export function testGuestImage(): GuestImage {
  return imageFromDir(defaultImageDir(hostArch()));
}

const BUILD_TOOLS = [
  '/usr/bin/apt-get',
  '/usr/bin/mksquashfs',
  '/usr/sbin/depmod',
  '/usr/bin/readelf',
  '/usr/bin/xz',
];

/**
 * Builds the guest image into the directory tests boot from (a cache hit when its inputs did
 * not change), so a fresh clone's `npm test` boots the current code. Left alone when
 * $BERTH_IMAGE_DIR names an image, or when this host cannot build one; a failed build is
 * returned as the reason to skip.
 */
export async function ensureTestGuestImage(): Promise<string | undefined> {
  if (process.env.BERTH_IMAGE_DIR || hostArch() !== 'x86_64') return undefined;
  if (BUILD_TOOLS.some((t) => !existsSync(t))) return undefined;
  try {
    await buildImage({ arch: 'amd64', outDir: defaultImageDir(hostArch()) });
    return undefined;
  } catch (e) {
    return `building the guest image failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Why a QEMU boot test cannot run here, or false. */
export function qemuSkip(): string | false {
  const image = testGuestImage();
  for (const f of [image.kernel, image.initrd, image.system ?? '']) {
    if (!existsSync(f))
      return `guest image not built (${f} missing; run npm run vm-image -w packages/vm-image)`;
  }
  const qemu = spawnSync(qemuBinary(hostArch()), ['--version'], { timeout: 15_000 });
  if (qemu.status !== 0) return `${qemuBinary(hostArch())} is not installed`;
  return false;
}

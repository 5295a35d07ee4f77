/** The guest image tests boot: packages/vm-image's build output, when it has been built. */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { defaultImageDir, imageFromDir } from '../image.js';
import { hostArch, type GuestImage } from '../settings.js';
import { qemuBinary } from '../drivers/qemu/args.js';

export function testGuestImage(): GuestImage {
  return imageFromDir(defaultImageDir(hostArch()));
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

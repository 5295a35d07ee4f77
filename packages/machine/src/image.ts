/** Where the guest image built by packages/vm-image is, and how its files map to a GuestImage. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { GuestArch, GuestImage } from './settings.js';

const ManifestSchema = z.looseObject({ cmdline: z.string().optional() });

/** The files of `npm run vm-image`'s output directory; the kernel command line from its manifest. */
export function imageFromDir(dir: string): GuestImage {
  let cmdline = '';
  try {
    cmdline =
      ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).cmdline ??
      '';
  } catch {
    // No manifest (yet): the driver's defaults are enough to boot.
  }
  const elf = join(dir, 'vmlinux');
  return {
    kernel: join(dir, 'vmlinuz'),
    ...(existsSync(elf) ? { kernelElf: elf } : {}),
    initrd: join(dir, 'initramfs.img'),
    system: join(dir, 'system.img'),
    cmdline,
  };
}

/** `$BERTH_IMAGE_DIR`, else packages/vm-image/out/<debian arch> next to this package. */
export function defaultImageDir(arch: GuestArch): string {
  if (process.env.BERTH_IMAGE_DIR) return process.env.BERTH_IMAGE_DIR;
  const protocol = fileURLToPath(import.meta.resolve('@berth/vm-image/protocol'));
  // <vm-image>/dist/agent/protocol.js → <vm-image>/out/<arch>
  return join(protocol, '..', '..', '..', 'out', arch === 'aarch64' ? 'arm64' : 'amd64');
}

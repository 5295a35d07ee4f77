/**
 * A machine's settings, as `berth machine init` writes them to `<dir>/machine.json` and every
 * later command reads them back (validated: the file crosses a process boundary).
 */
import type { SharedFolder as GuestSharedFolder } from '@berth/vm-image/protocol';
import { z } from 'zod';

export const GuestArchSchema = z.enum(['x86_64', 'aarch64']);
export type GuestArch = z.infer<typeof GuestArchSchema>;

export const SharedFolderSchema = z.object({
  /** Absolute path on the host. */
  hostPath: z.string().startsWith('/'),
  /** Absolute path where the guest mounts it (the host path, so bind mounts just work). */
  guestPath: z.string().startsWith('/'),
  /** 9p mount tag / virtiofs tag (at most 31 bytes, QEMU's limit). */
  tag: z.string().regex(/^[A-Za-z0-9_.-]{1,31}$/),
  readOnly: z.boolean().default(false),
});
export type SharedFolder = z.infer<typeof SharedFolderSchema>;

export const GuestImageSchema = z.object({
  kernel: z.string(),
  /**
   * The same kernel as an uncompressed ELF with a PVH entry (x86-64 images): QEMU boots it
   * directly, without the seconds an emulated CPU spends unpacking the compressed kernel.
   */
  kernelElf: z.string().optional(),
  initrd: z.string(),
  /** The read-only system image (squashfs/erofs), attached as the first virtio disk. */
  system: z.string().optional(),
  /** Extra kernel command line words the image asks for. */
  cmdline: z.string().default(''),
  /**
   * A disk with an EFI system partition that boots the kernel and initramfs with the image's
   * command line, for hypervisors without direct kernel boot (Hyper-V). VHDX.
   */
  efiBootDisk: z.string().optional(),
});
export type GuestImage = z.infer<typeof GuestImageSchema>;

export const MachineSettingsSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/),
  driver: z.string().default('qemu'),
  arch: GuestArchSchema,
  cpus: z.number().int().min(1).max(64),
  /** Guest memory in MiB. */
  memoryMiB: z.number().int().min(256),
  /** Size of the persistent data disk in GiB (sparse: costs only what the guest writes). */
  diskGiB: z.number().int().min(1),
  sharedFolders: z.array(SharedFolderSchema).default([]),
  image: GuestImageSchema,
  /** Accelerators to try, best first; empty means the driver's default for the host. */
  accelerators: z.array(z.string()).default([]),
  /** Registries berthd in the guest may reach over plain HTTP (e.g. `10.0.2.2:5000`). */
  insecureRegistries: z.array(z.string()).default([]),
  createdAt: z.string(),
});
export type MachineSettings = z.infer<typeof MachineSettingsSchema>;

/** What a caller may choose at init; the rest gets defaults. */
export type MachineInitOptions = Partial<
  Omit<MachineSettings, 'name' | 'createdAt' | 'sharedFolders' | 'image'>
> & {
  image: z.input<typeof GuestImageSchema>;
  /** Host directories to share; each appears in the guest at the same path. */
  sharedFolders?: readonly string[];
};

export function hostArch(): GuestArch {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

/**
 * Shared folders from `DIR` or `DIR:ro` specs (docker's `-v` suffix; `:rw` is the default).
 * Tags are positional so they never depend on path characters QEMU would reject.
 */
export function sharedFoldersFor(specs: readonly string[]): SharedFolder[] {
  return specs.map((spec, i) => {
    const mode = /:(ro|rw)$/.exec(spec)?.[1];
    const path = mode ? spec.slice(0, -3) : spec;
    return { hostPath: path, guestPath: path, tag: `berth${i}`, readOnly: mode === 'ro' };
  });
}

/** The shares as the guest config names them: 9p, which a virtiofs-capable driver may switch. */
export function guestShares(folders: readonly SharedFolder[]): GuestSharedFolder[] {
  return folders.map((f) => ({
    tag: f.tag,
    guestPath: f.guestPath,
    type: '9p' as const,
    readOnly: f.readOnly,
  }));
}

/**
 * What `Machine.configure()` may change on an existing machine. Every field is read at a VM
 * start only, so a change to a running machine needs a restart (Docker Desktop's "Apply &
 * restart"). Shared folders are host paths, as at init.
 */
export const MachineConfigSchema = z
  .object({
    cpus: z.number().int().min(1).max(64),
    memoryMiB: z.number().int().min(256),
    /** Grows the data disk at the next start; it never shrinks (the guest's data is there). */
    diskGiB: z.number().int().min(1),
    sharedFolders: z.array(z.string().startsWith('/')),
    insecureRegistries: z.array(z.string()),
    accelerators: z.array(z.string()),
  })
  .partial()
  .strict();
export type MachineConfig = z.input<typeof MachineConfigSchema>;

/** The settings after `config`, and which of them differ from `current`. */
export function applyMachineConfig(
  current: MachineSettings,
  config: MachineConfig,
): { next: MachineSettings; changed: (keyof MachineConfig)[] } {
  const c = MachineConfigSchema.parse(config);
  if (c.diskGiB !== undefined && c.diskGiB < current.diskGiB)
    throw new Error(
      `the data disk cannot shrink (it is ${current.diskGiB} GiB; asked for ${c.diskGiB} GiB)`,
    );
  const next = MachineSettingsSchema.parse({
    ...current,
    ...c,
    sharedFolders: c.sharedFolders ? sharedFoldersFor(c.sharedFolders) : current.sharedFolders,
  });
  const changed = (Object.keys(c) as (keyof MachineConfig)[]).filter(
    (k) => JSON.stringify(next[k]) !== JSON.stringify(current[k]),
  );
  return { next, changed };
}

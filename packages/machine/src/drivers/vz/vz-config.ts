/**
 * The Virtualization.framework configuration of a machine, as plain data mirroring the VZ
 * classes (VZVirtualMachineConfiguration and its devices), so what the macOS driver asks VZ for
 * is unit-tested on any host. vz.darwin.ts turns it into Objective-C objects through koffi.
 *
 * VZ has no fw_cfg: the guest config travels on a small read-only config disk (protocol.ts's
 * encodeConfigDisk). Shared folders are virtiofs; the console is a virtio console (hvc0); the
 * network is VZ's NAT, whose DHCP lease tells the host the guest's address.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { GuestConfig } from '@berth/vm-image/protocol';
import type { DriverContext } from '../../driver.js';

export type VzAttachment =
  | { kind: 'disk-image'; path: string; readOnly: boolean }
  | { kind: 'nat' }
  | { kind: 'file'; path: string; append: boolean };

export interface VzConfig {
  cpuCount: number;
  /** Bytes (VZ wants bytes, a multiple of 1 MiB). */
  memorySize: number;
  bootLoader: {
    kind: 'linux';
    kernelPath: string;
    initialRamdiskPath: string;
    commandLine: string;
  };
  platform: { kind: 'generic' };
  storageDevices: {
    kind: 'virtio-block';
    attachment: Extract<VzAttachment, { kind: 'disk-image' }>;
  }[];
  networkDevices: { kind: 'virtio-net'; macAddress: string; attachment: { kind: 'nat' } }[];
  serialPorts: { kind: 'virtio-console'; attachment: Extract<VzAttachment, { kind: 'file' }> }[];
  directorySharingDevices: { kind: 'virtio-fs'; tag: string; path: string; readOnly: boolean }[];
  entropyDevices: { kind: 'virtio-entropy' }[];
  memoryBalloonDevices: { kind: 'virtio-traditional-balloon' }[];
  socketDevices: { kind: 'virtio-socket' }[];
}

/** A stable, locally administered unicast MAC per machine, so its DHCP lease can be found. */
export function machineMac(name: string): string {
  const h = createHash('sha256').update(`berth-machine:${name}`).digest();
  const bytes = [0x02, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The config disk the driver writes next to the machine (read-only in the guest). */
export function configDiskPath(ctx: DriverContext): string {
  return join(ctx.paths.runDir, 'config.img');
}

/** The guest config as VZ delivers it: shares over virtiofs instead of 9p. */
export function vzGuestConfig(config: GuestConfig): GuestConfig {
  return {
    ...config,
    shares: (config.shares ?? []).map((s) => ({ ...s, type: 'virtiofs' as const })),
  };
}

export function vzConfiguration(ctx: DriverContext): VzConfig {
  const { settings, paths } = ctx;
  const words = settings.image.cmdline
    .split(/\s+/)
    .filter((w) => w !== '' && !w.startsWith('console='));
  return {
    cpuCount: settings.cpus,
    memorySize: settings.memoryMiB * 1024 * 1024,
    bootLoader: {
      kind: 'linux',
      kernelPath: settings.image.kernel,
      initialRamdiskPath: settings.image.initrd,
      commandLine: ['console=hvc0', ...words].join(' '),
    },
    platform: { kind: 'generic' },
    // The protocol's conventional order: system, data, config.
    storageDevices: [
      ...(settings.image.system
        ? [
            {
              kind: 'virtio-block' as const,
              attachment: {
                kind: 'disk-image' as const,
                path: settings.image.system,
                readOnly: true,
              },
            },
          ]
        : []),
      {
        kind: 'virtio-block',
        attachment: { kind: 'disk-image', path: paths.dataDisk, readOnly: false },
      },
      {
        kind: 'virtio-block',
        attachment: { kind: 'disk-image', path: configDiskPath(ctx), readOnly: true },
      },
    ],
    networkDevices: [
      { kind: 'virtio-net', macAddress: machineMac(settings.name), attachment: { kind: 'nat' } },
    ],
    serialPorts: [
      {
        kind: 'virtio-console',
        attachment: { kind: 'file', path: paths.serialLog, append: false },
      },
    ],
    directorySharingDevices: settings.sharedFolders.map((f) => ({
      kind: 'virtio-fs',
      tag: f.tag,
      path: f.hostPath,
      readOnly: f.readOnly,
    })),
    entropyDevices: [{ kind: 'virtio-entropy' }],
    memoryBalloonDevices: [{ kind: 'virtio-traditional-balloon' }],
    socketDevices: [{ kind: 'virtio-socket' }],
  };
}

/**
 * The guest's IPv4 address from macOS's DHCP leases (`/var/db/dhcpd_leases`, written by the
 * vmnet NAT): blocks of `key=value` lines in braces; `hw_address=1,2:0:…` drops leading zeros.
 */
export function leaseAddress(leases: string, mac: string): string | undefined {
  const norm = (m: string) =>
    m
      .split(':')
      .map((p) => p.replace(/^0+(?=.)/, '').toLowerCase())
      .join(':');
  const want = norm(mac);
  for (const block of leases.split('}')) {
    const fields = new Map(
      block
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    const hw = fields.get('hw_address');
    const ip = fields.get('ip_address');
    if (hw && ip && norm(hw.replace(/^\d+,/, '')) === want) return ip;
  }
  return undefined;
}

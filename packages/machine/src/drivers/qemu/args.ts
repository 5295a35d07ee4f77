/**
 * The QEMU command line for one boot, as a pure function of what the boot needs, so its shape is
 * unit-tested without QEMU.
 */
import type { GuestArch } from '../../settings.js';

export type QemuAccelerator = 'kvm' | 'hvf' | 'whpx' | 'tcg';

export interface QemuDisk {
  path: string;
  readOnly: boolean;
}

export interface QemuShare {
  hostPath: string;
  tag: string;
  readOnly: boolean;
  /** virtiofsd's vhost-user socket for this share; without one the share is 9p. */
  virtiofsSocket?: string;
}

export interface QemuBootSpec {
  arch: GuestArch;
  accelerator: QemuAccelerator;
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  /** Extra kernel command line words (the image's). */
  cmdline: string;
  /** In the protocol's conventional order: system image, data disk. */
  disks: QemuDisk[];
  shares: QemuShare[];
  /** Host port on 127.0.0.1 forwarded to the agent's guest port. */
  agentHostPort: number;
  agentGuestPort: number;
  /** The guest config JSON, handed over as fw_cfg. */
  fwCfgFile: string;
  fwCfgName: string;
  serialLog: string;
  pidFile: string;
  qmpSocket: string;
  /** 9p `passthrough` keeps real owners but needs root on the host; otherwise `mapped-xattr`. */
  hostIsRoot: boolean;
}

export function qemuBinary(arch: GuestArch): string {
  return arch === 'aarch64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

export function consoleDevice(arch: GuestArch): string {
  return arch === 'aarch64' ? 'ttyAMA0' : 'ttyS0';
}

function escapeOpt(value: string): string {
  // QEMU option values use ',' as separator; ',,' is a literal comma.
  return value.replace(/,/g, ',,');
}

export function qemuArgs(spec: QemuBootSpec): string[] {
  const accelerated = spec.accelerator !== 'tcg';
  const machine = spec.arch === 'aarch64' ? 'virt' : 'q35';
  // Emulated arm64 pointer authentication (QARMA) is most of TCG's cost on an arm64 kernel;
  // the implementation-defined algorithm is the same feature at a fraction of it.
  const cpu =
    accelerated && spec.accelerator !== 'whpx'
      ? 'host'
      : spec.arch === 'aarch64' && !accelerated
        ? 'max,pauth-impdef=on'
        : 'max';
  const accel =
    spec.accelerator === 'whpx'
      ? 'whpx,kernel-irqchip=off'
      : spec.accelerator === 'tcg'
        ? 'tcg,thread=multi'
        : spec.accelerator;
  // The image's own words win; the console and panic behaviour are added only when it has none.
  const words = spec.cmdline.split(/\s+/).filter((w) => w !== '');
  if (!words.some((w) => w.startsWith('console=')))
    words.unshift(`console=${consoleDevice(spec.arch)}`);
  if (!words.some((w) => w.startsWith('panic='))) words.push('panic=-1');
  const cmdline = words.join(' ');
  // vhost-user devices (virtiofsd) map guest RAM, so it must be a shareable memfd.
  const vhostUser = spec.shares.some((s) => s.virtiofsSocket);
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-no-reboot',
    '-display',
    'none',
    '-machine',
    vhostUser ? `${machine},memory-backend=mem` : machine,
    ...(vhostUser
      ? ['-object', `memory-backend-memfd,id=mem,size=${spec.memoryMiB}M,share=on`]
      : []),
    '-accel',
    accel,
    '-cpu',
    cpu,
    '-smp',
    String(spec.cpus),
    '-m',
    String(spec.memoryMiB),
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initrd,
    '-append',
    cmdline,
    '-chardev',
    `file,id=console,path=${escapeOpt(spec.serialLog)}`,
    '-serial',
    'chardev:console',
    '-netdev',
    `user,id=net0,hostfwd=tcp:127.0.0.1:${spec.agentHostPort}-:${spec.agentGuestPort}`,
    '-device',
    'virtio-net-pci,netdev=net0',
    '-device',
    'virtio-rng-pci',
    '-device',
    'virtio-balloon-pci',
    '-fw_cfg',
    `name=${spec.fwCfgName},file=${escapeOpt(spec.fwCfgFile)}`,
    '-qmp',
    `unix:${escapeOpt(spec.qmpSocket)},server=on,wait=off`,
    '-pidfile',
    spec.pidFile,
    '-daemonize',
  ];
  spec.disks.forEach((disk, i) => {
    args.push(
      '-drive',
      `if=none,id=disk${i},format=raw,file=${escapeOpt(disk.path)}${disk.readOnly ? ',readonly=on' : ',discard=unmap'}`,
      '-device',
      `virtio-blk-pci,drive=disk${i}`,
    );
  });
  spec.shares.forEach((share, i) => {
    if (share.virtiofsSocket) {
      args.push(
        '-chardev',
        `socket,id=fs${i},path=${escapeOpt(share.virtiofsSocket)}`,
        '-device',
        `vhost-user-fs-pci,chardev=fs${i},tag=${share.tag}`,
      );
      return;
    }
    const model = spec.hostIsRoot ? 'passthrough' : 'mapped-xattr';
    args.push(
      '-virtfs',
      `local,path=${escapeOpt(share.hostPath)},mount_tag=${share.tag},security_model=${model},id=${share.tag}${share.readOnly ? ',readonly=on' : ''}`,
    );
  });
  return args;
}

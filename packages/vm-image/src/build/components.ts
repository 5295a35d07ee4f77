/**
 * What goes into the guest, by name and pinned version. Debian packages come from the host's
 * apt sources (bookworm); npm packages from the npm registry. Changing anything here changes
 * the image's cache key.
 */
export type GuestArch = 'amd64' | 'arm64';

export const GUEST_ARCHES: readonly GuestArch[] = ['amd64', 'arm64'];

export interface ArchInfo {
  /** Debian's name for the kernel flavour. */
  kernelPackage: string;
  /** Node's `process.arch`. */
  nodeArch: 'x64' | 'arm64';
  /** Multiarch library directory. */
  triplet: string;
  /** The serial console the kernel writes to under QEMU. */
  console: string;
  /** The glibc dynamic loader, as binaries name it. */
  loader: string;
}

export const ARCH: Record<GuestArch, ArchInfo> = {
  amd64: {
    kernelPackage: 'linux-image-amd64',
    nodeArch: 'x64',
    triplet: 'x86_64-linux-gnu',
    console: 'ttyS0',
    loader: '/lib64/ld-linux-x86-64.so.2',
  },
  arm64: {
    kernelPackage: 'linux-image-arm64',
    nodeArch: 'arm64',
    triplet: 'aarch64-linux-gnu',
    console: 'ttyAMA0',
    loader: '/lib/ld-linux-aarch64.so.1',
  },
};

/** Debian packages unpacked into the system image; the build checks every ELF's NEEDED. */
export const SYSTEM_PACKAGES = [
  // glibc and the C++ runtime of the official Node binary
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  // the OCI runtime
  'crun',
  'libcap2',
  'libseccomp2',
  'libsystemd0',
  'libyajl2',
  'libgcrypt20',
  'libgpg-error0',
  'liblz4-1',
  'liblzma5',
  'libzstd1',
  // networking: iproute2, iptables (nft backend), util-linux's unshare/nsenter
  'iproute2',
  'libbpf1',
  'libelf1',
  'libbsd0',
  'libmd0',
  'zlib1g',
  'libmnl0',
  'iptables',
  'libxtables12',
  'libip4tc2',
  'libip6tc2',
  'libnftnl11',
  'libnetfilter-conntrack3',
  'libnfnetlink0',
  'util-linux',
  'libselinux1',
  'libpcre2-8-0',
  'libsmartcols1',
  'libtinfo6',
  'libudev1',
  'libcap-ng0',
  'libaudit1',
  'libpam0g',
  'libcrypt1',
  'libblkid1',
  'libmount1',
  'libuuid1',
  // mke2fs for the data disk
  'e2fsprogs',
  'libext2fs2',
  'libcom-err2',
  'libss2',
  // /bin/sh: busybox's sh runs its own applets before PATH (its `ip` has no -batch), so
  // scripts berthd runs must get a shell that looks tools up in PATH
  'dash',
  // docker build's ADD unpacks .tar.xz and .tar.bz2 with these (Node has no decoder)
  'xz-utils',
  'bzip2',
  'libbz2-1.0',
  // shell tools, init, modprobe, udhcpc, acpid
  'busybox-static',
  'ca-certificates',
] as const;

/** Files and directories removed from the unpacked packages: documentation, locales, hooks. */
export const SYSTEM_PRUNE = [
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/bash-completion',
  'usr/share/zsh',
  'usr/share/bug',
  'usr/share/gdb',
  'usr/lib/systemd',
  'lib/systemd',
  'etc/init.d',
  'etc/cron.d',
  'etc/cron.daily',
  'usr/lib/python3',
];

/** npm packages fetched with `npm pack`. */
export const NODE_VERSION = '24.21.0';
export const KOFFI_VERSION = '3.3.4';
export function npmPackages(arch: GuestArch): { name: string; version: string }[] {
  const a = ARCH[arch].nodeArch;
  return [
    { name: `node-linux-${a}`, version: NODE_VERSION },
    { name: `@koromix/koffi-linux-${a}`, version: KOFFI_VERSION },
  ];
}

/**
 * Modules the initramfs loads to reach the system image; their dependencies are added and
 * the whole list ordered by modules.dep.
 */
export const INITRAMFS_MODULES = ['virtio_pci', 'virtio_mmio', 'virtio_blk', 'squashfs', 'overlay'];

/**
 * Modules rcS loads before the guest agent starts (plus their dependencies): the data disk,
 * the network, the host's config, shared folders, the power button.
 */
export const BOOT_MODULES = [
  // ext4 and others ask the crypto API for crc32c, which modules.dep does not record
  'crc32c_generic',
  'ext4',
  'virtio_net',
  'qemu_fw_cfg',
  '9p',
  '9pnet_virtio',
  'virtiofs',
  'vsock',
  'vmw_vsock_virtio_transport',
  'virtio_console',
  'virtio_balloon',
  'virtio_rng',
  // the ACPI power button as an input device, which acpid turns into a clean power-off
  'button',
  'evdev',
];

/**
 * Modules berthd needs (plus their dependencies): loaded in the background while the agent's
 * Node starts; the agent starts berthd once they are in.
 */
export const ENGINE_MODULES = [
  'overlay',
  'veth',
  'bridge',
  'br_netfilter',
  'nf_nat',
  'nf_conntrack',
  'nf_tables',
  'nft_compat',
  'nft_chain_nat',
  'xt_MASQUERADE',
  'xt_conntrack',
  'xt_addrtype',
  'xt_comment',
  'xt_nat',
  'xt_tcpudp',
  'ipt_REJECT',
  'tun',
];

/**
 * Kernel module directories shipped whole in the system image (so netfilter matches and
 * targets autoload through modprobe); everything else only as listed above.
 */
export const MODULE_TREES = [
  'kernel/net/netfilter',
  'kernel/net/ipv4/netfilter',
  'kernel/net/ipv6/netfilter',
  'kernel/net/bridge',
];

/** The kernel command line the host should use (console appended per arch). */
export const KERNEL_CMDLINE = 'quiet loglevel=3 panic=-1 rootwait';

#!/usr/bin/env node
// Installs what `npm start` / `npm test` need on a fresh Debian 12 machine: the npm workspace
// packages, and (when root) the Debian packages that make the real test parts. Uses only Node
// built-ins because it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const purpose = process.argv.includes('--for')
  ? process.argv[process.argv.indexOf('--for') + 1]
  : 'test';

/** Debian packages per purpose; the value is a binary that proves the package is usable. */
const DEBIAN = {
  start: { runc: '/usr/sbin/runc', crun: '/usr/bin/crun' },
  test: {
    'docker-registry': '/usr/bin/docker-registry',
    skopeo: '/usr/bin/skopeo',
    umoci: '/usr/bin/umoci',
    'busybox-static': '/bin/busybox',
    'docker.io': '/usr/bin/docker',
    'docker-compose': '/usr/bin/docker-compose',
    runc: '/usr/sbin/runc',
    crun: '/usr/bin/crun',
    zstd: '/usr/bin/zstd',
    // docker build's ADD of .tar.bz2 (and xz-utils below for .tar.xz)
    bzip2: '/bin/bzip2',
    tini: '/usr/bin/tini-static',
    iproute2: '/usr/sbin/ip',
    chromium: '/usr/bin/chromium',
    // packages/vm-image: builds and boots the guest image
    'squashfs-tools': '/usr/bin/mksquashfs',
    kmod: '/usr/sbin/depmod',
    binutils: '/usr/bin/readelf',
    // the kernel ELF QEMU boots directly (PVH) is unpacked from Debian's xz bzImage
    'xz-utils': '/usr/bin/xz',
    'qemu-system-x86': '/usr/bin/qemu-system-x86_64',
    e2fsprogs: '/usr/sbin/mkfs.ext4',
    // the ssh keys the machine makes are checked against OpenSSH's own reader
    'openssh-client': '/usr/bin/ssh-keygen',
  },
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`ensure-deps: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

function npmPackagesStale() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  const lock = join(root, 'package-lock.json');
  const newest = Math.max(
    ...['package.json', 'package-lock.json']
      .map((f) => join(root, f))
      .filter(existsSync)
      .map((f) => statSync(f).mtimeMs),
  );
  return !existsSync(lock) || statSync(marker).mtimeMs < newest;
}

function ensureNpm() {
  if (!npmPackagesStale()) return;
  console.log('ensure-deps: installing npm packages');
  // The Electron binary is fetched from outside the npm registry; nothing here needs it.
  const env = { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' };
  const args = existsSync(join(root, 'package-lock.json'))
    ? ['ci', '--no-audit', '--no-fund']
    : ['install', '--no-audit', '--no-fund'];
  run('npm', args, { env });
}

function ensureDebian() {
  const wanted = { ...DEBIAN.start, ...(purpose === 'test' ? DEBIAN.test : {}) };
  const missing = Object.entries(wanted)
    .filter(([, bin]) => !existsSync(bin))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.warn(
      `ensure-deps: missing Debian packages (${missing.join(', ')}); not root or no apt-get, ` +
        'so tests that need them will be skipped',
    );
    return;
  }
  console.log(`ensure-deps: apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

ensureDebian();
ensureNpm();

/**
 * Builds the guest: a kernel, a tiny initramfs that mounts the system image, and the read-only
 * system image itself (squashfs, zstd). Outputs are cached under a key that hashes every input,
 * so a second build with the same inputs costs a few seconds and gives the same bytes.
 *
 * Output directory: vmlinuz, initramfs.img, system.img, manifest.json; on amd64 also vmlinux
 * (the same kernel uncompressed, which QEMU boots through its PVH entry without spending
 * seconds of emulated CPU on unpacking the xz payload).
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { cpus, homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundle } from './bundle.js';
import { bundleSnapshot } from './snapshot-bundle.js';
import { snapshotScript } from '../agent/snapshot-build.js';
import {
  ARCH,
  BOOT_MODULES,
  ENGINE_MODULES,
  INITRAMFS_MODULES,
  KERNEL_CMDLINE,
  MODULE_TREES,
  npmPackages,
  SYSTEM_PACKAGES,
  SYSTEM_PRUNE,
  type GuestArch,
} from './components.js';
import { S_IFCHR, S_IFDIR, S_IFREG, writeCpio, type CpioEntry } from './cpio.js';
import {
  fetchPackages,
  prepareApt,
  resolvePackages,
  unpackDeb,
  type DebPackage,
} from './debian.js';
import { missingLibraries } from './elf.js';
import { run } from './exec.js';
import { builtinModules, indexModules, moduleClosure } from './kernel-modules.js';
import { withFileLock } from './lock.js';
import { fetchNpmPackage, unpackNpm, type NpmTarball } from './npm-packages.js';
import { ManifestSchema, type Manifest } from './manifest.js';

/** Bump when the build's own logic changes what it produces. */
const BUILDER_VERSION = 2;
/** 2025-01-01T00:00:00Z unless SOURCE_DATE_EPOCH says otherwise. */
const DEFAULT_SOURCE_DATE_EPOCH = 1_735_689_600;

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoRoot = join(packageRoot, '..', '..');

export const IMAGE_FILES = ['vmlinuz', 'initramfs.img', 'system.img', 'manifest.json'] as const;
/** Files an image has on some architectures only. */
export const OPTIONAL_IMAGE_FILES = ['vmlinux'] as const;

export interface BuildOptions {
  arch: GuestArch;
  /** Where downloads, work dirs and finished images are kept. */
  cacheDir?: string;
  /** Also copy the finished image here. */
  outDir?: string;
  /** Build even when the cache has this image. */
  force?: boolean;
  log?: (message: string) => void;
}

export interface BuildResult {
  /** The directory holding IMAGE_FILES. */
  dir: string;
  manifest: Manifest;
  /** True when the image came from the cache. */
  cached: boolean;
}

export function defaultCacheDir(): string {
  return (
    process.env.BERTH_VM_IMAGE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'berth', 'vm-image')
  );
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

function sourceDateEpoch(): number {
  const env = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isInteger(env) && env > 0 ? env : DEFAULT_SOURCE_DATE_EPOCH;
}

/**
 * Busybox applets linked in the system image where no Debian binary of that name exists.
 * /bin/sh is dash (see components.ts); `ash` stays busybox's for interactive use.
 */
const APPLETS = (
  'ash acpid mount umount mkdir cat echo sleep usleep udhcpc poweroff reboot halt init modprobe ' +
  'insmod rmmod lsmod dd hostname ln rm rmdir sync kill killall ps ls cp mv chmod chown grep ' +
  'sed awk head tail tr wc vi top free df du uname env find xargs sysctl mknod sort uniq date ' +
  'id which less tee true false test [ [[ printf seq nc wget ping nslookup tar gzip gunzip zcat ' +
  'cut basename dirname readlink realpath stat touch pidof pwd clear stty tty uptime watch ' +
  'hexdump od md5sum sha256sum expr yes more netstat logger mountpoint diff cmp time'
).split(' ');

const BIN_DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin'];

function guestFile(name: string): Buffer {
  return readFileSync(join(packageRoot, 'guest', name));
}

const GUEST_FILES = [
  'init',
  'inittab',
  'rcS',
  'udhcpc.script',
  'node-service.sh',
  'shutdown.sh',
  'power-button',
];

/**
 * Builds the image, or takes it from the cache. One build per cache and architecture at a time:
 * a second process (a parallel test file) waits for the first and then finds its image cached.
 */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? (() => undefined);
  const cacheDir = join(opts.cacheDir ?? defaultCacheDir(), opts.arch);
  mkdirSync(cacheDir, { recursive: true });
  return withFileLock(join(cacheDir, 'build.lock'), () => buildLocked(opts, cacheDir, log), {
    onWait: (pid) => log(`waiting for the build in process ${pid}`),
  });
}

async function buildLocked(
  opts: BuildOptions,
  cacheDir: string,
  log: (message: string) => void,
): Promise<BuildResult> {
  const arch = opts.arch;
  const info = ARCH[arch];
  const sde = sourceDateEpoch();

  await prepareApt(arch, cacheDir);
  const [kernelMeta] = await resolvePackages([info.kernelPackage], arch, cacheDir);
  const kernelPackage = /^(linux-image-[^\s,(]+)/.exec(kernelMeta?.depends ?? '')?.[1];
  if (!kernelPackage) throw new Error(`${info.kernelPackage} names no kernel image package`);
  const debs = await resolvePackages([kernelPackage, ...SYSTEM_PACKAGES], arch, cacheDir);

  // Bundles are cheap to make and are inputs of the key.
  const work = join(cacheDir, `work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    log('bundling berthd and the guest services');
    const bundleDir = join(work, 'bundle');
    // The engine service imports berthd's CLI from the runtime package: its source, so that it
    // shares its chunks with berthd.mjs.
    const alias = { '@berth/runtime': join(repoRoot, 'packages/runtime/src') };
    const bundleFiles = await bundle(
      {
        berthd: join(repoRoot, 'packages/runtime/src/cli/berthd.ts'),
        agent: join(packageRoot, 'src/agent/cli.ts'),
        engine: join(packageRoot, 'src/agent/engine-cli.ts'),
      },
      bundleDir,
      alias,
    );
    for (const [service, main, run] of [
      ['agent', 'main.ts', 'runAgent'],
      ['engine', 'engine-main.ts', 'runEngine'],
    ] as const) {
      const script = snapshotScript(service);
      await bundleSnapshot({
        main: join(packageRoot, 'src/agent', main),
        run,
        outfile: join(bundleDir, basename(script)),
        guestPath: script,
        resolveDir: join(repoRoot, 'packages/runtime'),
        alias,
      });
      bundleFiles.push(basename(script));
    }
    const berthdBundle = join(bundleDir, 'berthd.mjs');
    const agentBundle = join(bundleDir, 'agent.mjs');
    const runtimeVersion = (
      JSON.parse(readFileSync(join(repoRoot, 'packages/runtime/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;

    const keyInput = JSON.stringify({
      BUILDER_VERSION,
      arch,
      sde,
      debs: debs.map((d) => `${d.name}=${d.version}:${d.sha256}`),
      npm: npmPackages(arch),
      guest: GUEST_FILES.map((f) => sha256(guestFile(f))),
      builder: readdirSync(dirname(fileURLToPath(import.meta.url)))
        .filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'))
        .sort()
        .map((f) => sha256File(join(dirname(fileURLToPath(import.meta.url)), f))),
      bundle: bundleFiles.map((f) => `${f}:${sha256File(join(bundleDir, f))}`),
      runtimeVersion,
    });
    const key = sha256(keyInput).slice(0, 16);
    const finalDir = join(cacheDir, 'images', key);
    if (!opts.force && existsSync(join(finalDir, 'manifest.json'))) {
      log(`cached image ${finalDir}`);
      const now = new Date();
      utimesSync(finalDir, now, now);
      const manifest = ManifestSchema.parse(
        JSON.parse(readFileSync(join(finalDir, 'manifest.json'), 'utf8')),
      );
      copyOut(finalDir, opts.outDir);
      return { dir: opts.outDir ?? finalDir, manifest, cached: true };
    }

    log(`fetching ${debs.length} Debian packages and ${npmPackages(arch).length} npm packages`);
    const fetched = await fetchPackages(debs, arch, cacheDir);
    const tarballs: NpmTarball[] = [];
    for (const p of npmPackages(arch))
      tarballs.push(await fetchNpmPackage(p.name, p.version, cacheDir));

    const stage = join(work, 'out');
    mkdirSync(stage, { recursive: true });
    const kernel = await assembleKernel(fetched[0]!, arch, work, stage);
    log(`kernel ${kernel.release}`);
    const root = join(work, 'root');
    await assembleSystem({
      arch,
      debs: fetched.slice(1),
      tarballs,
      root,
      work,
      kernel,
      bundleDir,
      bundleFiles,
      runtimeVersion,
      key,
    });
    log('building initramfs');
    assembleInitramfs({ root, kernel, sde, out: join(stage, 'initramfs.img') });
    log('building system image (squashfs, zstd)');
    await run(
      'mksquashfs',
      [
        root,
        join(stage, 'system.img'),
        '-comp',
        'zstd',
        '-noappend',
        '-all-root',
        '-no-xattrs',
        '-quiet',
        '-mkfs-time',
        String(sde),
        '-all-time',
        String(sde),
        '-processors',
        String(Math.max(1, cpus().length)),
      ],
      { timeoutMs: 900_000 },
    );

    const files: Manifest['files'] = {};
    for (const f of ['vmlinuz', 'initramfs.img', 'system.img', ...OPTIONAL_IMAGE_FILES]) {
      const p = join(stage, f);
      if (!existsSync(p)) continue;
      files[f] = { size: statSync(p).size, sha256: sha256File(p) };
    }
    const manifest: Manifest = {
      formatVersion: 1,
      key,
      arch,
      sourceDateEpoch: sde,
      kernel: { package: kernelPackage, version: fetched[0]!.version, release: kernel.release },
      cmdline: `console=${info.console} ${KERNEL_CMDLINE}`,
      node: tarballs[0]!.version,
      berthd: { version: runtimeVersion, sha256: sha256File(berthdBundle) },
      agent: { sha256: sha256File(agentBundle) },
      engine: { sha256: sha256File(join(bundleDir, 'engine.mjs')) },
      files,
      debian: fetched.map((d) => ({ name: d.name, version: d.version, sha256: d.sha256 })),
      npm: tarballs.map((t) => ({ name: t.name, version: t.version, sha256: t.sha256 })),
    };
    writeFileSync(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(dirname(finalDir), { recursive: true });
    rmSync(finalDir, { recursive: true, force: true });
    try {
      renameSync(stage, finalDir);
    } catch (err) {
      // Another build of the same inputs (a test running in parallel) finished first.
      if (!existsSync(join(finalDir, 'manifest.json'))) throw err;
    }
    pruneImages(dirname(finalDir), KEEP_IMAGES);
    copyOut(finalDir, opts.outDir);
    return { dir: opts.outDir ?? finalDir, manifest, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Images kept per architecture: berthd's source changes often, each change is a new key. */
const KEEP_IMAGES = 3;

function pruneImages(imagesDir: string, keep: number): void {
  const byAge = readdirSync(imagesDir)
    .map((name) => ({ name, mtime: statSync(join(imagesDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of byAge.slice(keep))
    rmSync(join(imagesDir, old.name), { recursive: true, force: true });
}

/**
 * Copies the image to `to` unless it already holds this image (same key). Each file is
 * replaced by a rename, so a QEMU booting the previous files keeps reading them unharmed;
 * the manifest goes last and marks the copy complete.
 */
function copyOut(from: string, to: string | undefined): void {
  if (!to) return;
  const key = (dir: string) => {
    try {
      return ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).key;
    } catch {
      return undefined;
    }
  };
  if (key(to) !== undefined && key(to) === key(from)) return;
  mkdirSync(to, { recursive: true });
  const replace = (f: string) => {
    const tmp = join(to, `.${f}.${process.pid}`);
    cpSync(join(from, f), tmp);
    renameSync(tmp, join(to, f));
  };
  rmSync(join(to, 'manifest.json'), { force: true });
  for (const f of OPTIONAL_IMAGE_FILES) {
    if (existsSync(join(from, f))) replace(f);
    else rmSync(join(to, f), { force: true });
  }
  for (const f of IMAGE_FILES) if (f !== 'manifest.json') replace(f);
  replace('manifest.json');
}

interface Kernel {
  /** The unpacked kernel package. */
  root: string;
  release: string;
  modules: Awaited<ReturnType<typeof indexModules>>;
  builtin: Set<string>;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * The ELF kernel inside an x86 bzImage: the boot protocol's setup header says where the
 * compressed payload is (setup_sects at 0x1f1, payload_offset at 0x248 from the protected-mode
 * code); Debian compresses it with xz.
 */
async function extractVmlinux(bzImage: string, out: string, work: string): Promise<void> {
  const image = readFileSync(bzImage);
  const setupSects = image.readUInt8(0x1f1) || 4;
  const start = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const payload = image.subarray(start, start + image.readUInt32LE(0x24c));
  if (!payload.subarray(0, XZ_MAGIC.length).equals(XZ_MAGIC))
    throw new Error(`${bzImage}: the kernel payload is not xz-compressed`);
  const xz = join(work, 'vmlinux.xz');
  writeFileSync(xz, payload);
  await run('xz', ['-d', '--single-stream', xz]);
  renameSync(join(work, 'vmlinux'), out);
  chmodSync(out, 0o644);
}

async function assembleKernel(
  deb: DebPackage,
  arch: GuestArch,
  work: string,
  stage: string,
): Promise<Kernel> {
  const root = join(work, 'kernel');
  await unpackDeb(deb.file, root);
  const [release] = readdirSync(join(root, 'lib/modules'));
  if (!release) throw new Error(`${deb.file} has no lib/modules`);
  cpSync(join(root, 'boot', `vmlinuz-${release}`), join(stage, 'vmlinuz'));
  chmodSync(join(stage, 'vmlinuz'), 0o644);
  if (arch === 'amd64') await extractVmlinux(join(stage, 'vmlinuz'), join(stage, 'vmlinux'), work);
  return {
    root,
    release,
    modules: await indexModules(root, release),
    builtin: builtinModules(root, release),
  };
}

interface SystemInputs {
  arch: GuestArch;
  debs: DebPackage[];
  tarballs: NpmTarball[];
  root: string;
  work: string;
  kernel: Kernel;
  /** esbuild's output: berthd.mjs, agent.mjs and their shared chunks. */
  bundleDir: string;
  bundleFiles: string[];
  runtimeVersion: string;
  key: string;
}

function findIn(root: string, name: string): string | undefined {
  return BIN_DIRS.map((d) => `${d}/${name}`).find((p) =>
    lstatSync(join(root, p), { throwIfNoEntry: false }),
  );
}

function link(root: string, rel: string, target: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  rmSync(join(root, rel), { force: true });
  symlinkSync(target, join(root, rel));
}

function writeGuest(root: string, rel: string, data: Buffer | string, mode = 0o644): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), data);
  chmodSync(join(root, rel), mode);
}

async function assembleSystem(s: SystemInputs): Promise<void> {
  const { root, kernel } = s;
  const info = ARCH[s.arch];
  for (const d of s.debs) await unpackDeb(d.file, root);
  for (const p of SYSTEM_PRUNE) rmSync(join(root, p), { recursive: true, force: true });

  // What maintainer scripts would have done: alternatives and the shell.
  for (const t of [
    'iptables',
    'iptables-save',
    'iptables-restore',
    'ip6tables',
    'ip6tables-save',
    'ip6tables-restore',
  ]) {
    link(root, `usr/sbin/${t}`, 'xtables-nft-multi');
  }
  for (const a of APPLETS) {
    if (!findIn(root, a)) link(root, `bin/${a}`, '/bin/busybox');
  }
  link(root, 'bin/sh', 'dash');
  link(root, 'sbin/init', '/bin/busybox');
  link(root, 'sbin/modprobe', '/bin/busybox');
  link(root, 'sbin/insmod', '/bin/busybox');

  // Node, berthd and koffi's native module where koffi's loader looks for it.
  const nodePkg = join(s.work, 'node-pkg');
  await unpackNpm(s.tarballs[0]!.file, nodePkg);
  writeGuest(root, 'usr/bin/node', readFileSync(join(nodePkg, 'bin/node')), 0o755);
  const berth = 'usr/lib/berth';
  // The services' bundles and berthd's sit together: they import the same chunks.
  for (const f of s.bundleFiles)
    writeGuest(root, `${berth}/dist/cli/${f}`, readFileSync(join(s.bundleDir, f)));
  // berthd reads its version from the package.json two levels above its entry point.
  writeGuest(
    root,
    `${berth}/package.json`,
    `${JSON.stringify({ name: '@berth/runtime', version: s.runtimeVersion, private: true })}\n`,
  );
  const koffiDir = `${berth}/node_modules/@koromix/koffi-linux-${info.nodeArch}`;
  await unpackNpm(s.tarballs[1]!.file, join(root, koffiDir));
  rmSync(join(root, koffiDir, `musl_${info.nodeArch}`), { recursive: true, force: true });
  for (const f of ['rcS', 'udhcpc.script', 'node-service.sh', 'shutdown.sh'])
    writeGuest(root, `${berth}/${f}`, guestFile(f), 0o755);
  writeGuest(root, 'etc/inittab', guestFile('inittab'));
  // busybox acpid runs /etc/acpi/<action> for an event; the power button's is PWRF/00000080.
  writeGuest(root, 'etc/acpi/PWRF/00000080', guestFile('power-button'), 0o755);

  // The guest's identity and the files every Linux userland expects.
  writeGuest(
    root,
    'etc/passwd',
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeGuest(root, 'etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeGuest(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
  writeGuest(
    root,
    'etc/hosts',
    '127.0.0.1\tlocalhost berth\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  writeGuest(root, 'etc/hostname', 'berth\n');
  writeGuest(root, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  writeGuest(root, 'etc/resolv.conf', '');
  writeGuest(
    root,
    'etc/os-release',
    `NAME="Berth"\nID=berth\nID_LIKE=debian\nVERSION_ID="${s.runtimeVersion}"\nBUILD_ID=${s.key}\nPRETTY_NAME="Berth VM ${s.runtimeVersion} (${s.key})"\n`,
  );
  writeGuest(root, 'etc/berth/image', `${s.key}\n`);
  for (const d of [
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'root',
    'mnt',
    'var/lib/berth',
    'var/log',
    'var/tmp',
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);

  // Kernel modules: what the engine needs (and what netfilter may autoload), re-indexed.
  const engine = moduleClosure(
    kernel.modules,
    [...BOOT_MODULES, ...ENGINE_MODULES, ...INITRAMFS_MODULES],
    MODULE_TREES,
    kernel.builtin,
  );
  const modDir = `lib/modules/${kernel.release}`;
  for (const m of engine) cpSync(join(kernel.root, modDir, m), join(root, modDir, m));
  for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    cpSync(join(kernel.root, modDir, f), join(root, modDir, f));
  }
  await run('depmod', ['-b', root, kernel.release]);
  const loadable = (names: readonly string[]) =>
    names.filter((m) => kernel.modules.byName.has(m.replaceAll('-', '_'))).join('\n') + '\n';
  writeGuest(root, 'etc/berth/modules-boot', loadable(BOOT_MODULES));
  writeGuest(root, 'etc/berth/modules', loadable(ENGINE_MODULES));

  const libDirs = [`lib/${info.triplet}`, `usr/lib/${info.triplet}`, 'lib', 'usr/lib'];
  const missing = await missingLibraries(
    root,
    [
      'usr/bin/node',
      'bin/dash',
      'usr/bin/crun',
      'bin/ip',
      'usr/sbin/xtables-nft-multi',
      'usr/bin/unshare',
      'usr/bin/nsenter',
      'sbin/mke2fs',
      'sbin/blkid',
    ],
    libDirs,
  );
  if (missing.length > 0)
    throw new Error(`system image lacks shared libraries: ${missing.join(', ')}`);
}

function assembleInitramfs(i: { root: string; kernel: Kernel; sde: number; out: string }): void {
  const { kernel } = i;
  const mods = moduleClosure(kernel.modules, INITRAMFS_MODULES, [], kernel.builtin);
  const entries: CpioEntry[] = [
    { path: 'dev', mode: S_IFDIR | 0o755 },
    { path: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } },
    { path: 'bin', mode: S_IFDIR | 0o755 },
    { path: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(join(i.root, 'bin/busybox')) },
    { path: 'init', mode: S_IFREG | 0o755, data: guestFile('init') },
    { path: 'etc', mode: S_IFDIR | 0o755 },
    { path: 'etc/modules', mode: S_IFREG | 0o644, data: Buffer.from(`${mods.join('\n')}\n`) },
  ];
  const dirs = new Set<string>();
  for (const m of mods) {
    const parts = `lib/modules/${m}`.split('/');
    for (let n = 1; n < parts.length; n++) dirs.add(parts.slice(0, n).join('/'));
    entries.push({
      path: `lib/modules/${m}`,
      mode: S_IFREG | 0o644,
      data: readFileSync(join(kernel.root, 'lib/modules', kernel.release, m)),
    });
  }
  for (const d of dirs) entries.push({ path: d, mode: S_IFDIR | 0o755 });
  writeFileSync(i.out, gzipSync(writeCpio(entries, i.sde), { level: 9 }));
}

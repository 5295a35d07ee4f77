/**
 * Test images built from real parts: busybox-static's /bin/busybox as content, umoci to make
 * OCI image layouts, skopeo to push them to a loopback registry. Built once per test process
 * into a temp OCI layout (removed at exit) and pushed on demand.
 *
 * - `busybox`: one layer (busybox + applet symlinks + /etc/passwd), config as in BUSYBOX.
 * - `multilayer`: three layers; layer 2 whites out a file of layer 1 and makes a directory
 *   opaque, layer 3 rewrites a file (what an unpacker must end with: MULTILAYER).
 * - `multiarch`: an OCI index with linux/amd64 and linux/arm64 manifests (same busybox; the
 *   arm64 config says arm64 and carries the label in MULTIARCH.archLabel).
 * - `big`: ~100 MB in three layers of seeded incompressible bytes, for the pull bench.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { z } from 'zod';
import { MediaTypes, descriptorSchema, isDigest, sha256Digest } from '../images/oci.js';
import type { Digest } from '../images/oci.js';
import { processTempDir, runOk } from './process.js';

export type TestImageName = 'busybox' | 'multilayer' | 'multiarch' | 'big';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config every busybox-based test image carries. */
export const BUSYBOX = {
  cmd: ['sh'],
  env: [PATH_ENV, 'BERTH_TEST=1'],
  workingDir: '/home',
  labels: { 'org.berth.test': 'busybox', 'org.berth.test.kind': 'base' },
  exposedPorts: ['8080/tcp'],
  architecture: 'amd64',
  os: 'linux',
} as const;

/** Files of the `multilayer` image after its three layers are applied in order. */
export const MULTILAYER = {
  labels: { 'org.berth.test': 'multilayer' },
  /** path → content after unpacking all layers */
  present: {
    '/data/keep.txt': 'keep v3\n',
    '/opq/new.txt': 'new in layer 2\n',
    '/etc/layer3': 'layer 3\n',
  },
  /** paths deleted by layer 2 (a whiteout, and an opaque directory hiding layer 1's files) */
  absent: ['/data/gone.txt', '/opq/old1.txt', '/opq/old2.txt'],
  layers: 3,
} as const;

export const MULTIARCH = {
  platforms: ['linux/amd64', 'linux/arm64'],
  archLabel: 'org.berth.test.arch',
} as const;

/** Sizes of the three `big` layers (uncompressed file bytes; they do not compress). */
export const BIG_LAYER_BYTES = [40, 35, 25].map((mb) => mb * 1024 * 1024);

const BUSYBOX_BIN = '/bin/busybox';
const UMOCI = 'umoci';
const SKOPEO = 'skopeo';

const work = processTempDir('test-images');
const layoutDir = () => join(work(), 'oci');

// umoci rewrites index.json on every command, so builds (and the copies that read the layout)
// go one at a time.
let queue: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn);
  queue = next.catch(() => undefined);
  return next;
}

let layoutReady: Promise<void> | undefined;
function ensureLayout(): Promise<void> {
  layoutReady ??= runOk(UMOCI, ['init', '--layout', layoutDir()]).then(() => undefined);
  return layoutReady;
}

const umoci = (args: string[]) => runOk(UMOCI, args, { timeoutMs: 120_000 });
const img = (tag: string) => `${layoutDir()}:${tag}`;

/** Unpacks `tag` into a fresh bundle, lets `edit` change its rootfs, repacks as `tag`. */
async function editLayer(tag: string, edit: (rootfs: string) => void): Promise<void> {
  const bundle = mkdtempSync(join(work(), 'bundle-'));
  rmSync(bundle, { recursive: true });
  await umoci(['unpack', '--image', img(tag), bundle]);
  edit(join(bundle, 'rootfs'));
  await umoci(['repack', '--image', img(tag), bundle]);
  rmSync(bundle, { recursive: true, force: true });
}

/** Appends a layer made from a tar built in memory (for entries umoci repack never makes). */
async function addRawLayer(tag: string, entries: RawEntry[]): Promise<void> {
  const tarPath = join(work(), `raw-${Date.now()}-${Math.random().toString(16).slice(2)}.tar`);
  writeFileSync(tarPath, await tarOf(entries));
  await umoci(['raw', 'add-layer', '--image', img(tag), tarPath]);
  rmSync(tarPath);
}

interface RawEntry {
  name: string;
  type: 'file' | 'directory';
  data?: Buffer;
  mode?: number;
}

async function tarOf(entries: RawEntry[]): Promise<Buffer> {
  const p = pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of p) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const e of entries) {
    const mode = e.mode ?? (e.type === 'directory' ? 0o755 : 0o644);
    const header = { name: e.name, type: e.type, mode, mtime, uid: 0, gid: 0 };
    await new Promise<void>((resolve, reject) =>
      p.entry(header, e.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  p.finalize();
  return collected;
}

function writeBusyboxRootfs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'home', 'root', 'tmp', 'var', 'proc', 'sys', 'dev']) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  writeFileSync(join(rootfs, 'bin/busybox'), readFileSync(BUSYBOX_BIN), { mode: 0o755 });
  for (const applet of busyboxApplets()) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

let applets: string[] | undefined;
function busyboxApplets(): string[] {
  if (applets === undefined) throw new Error('busybox applets not listed yet');
  return applets;
}
async function listApplets(): Promise<void> {
  const r = await runOk(BUSYBOX_BIN, ['--list']);
  applets = r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'));
}

function configArgs(c: {
  cmd?: readonly string[];
  env?: readonly string[];
  workingDir?: string;
  labels?: Readonly<Record<string, string>>;
  exposedPorts?: readonly string[];
  architecture?: string;
}): string[] {
  const args: string[] = [];
  for (const part of c.cmd ?? []) args.push('--config.cmd', part);
  for (const e of c.env ?? []) args.push('--config.env', e);
  if (c.workingDir !== undefined) args.push('--config.workingdir', c.workingDir);
  for (const [k, v] of Object.entries(c.labels ?? {})) args.push('--config.label', `${k}=${v}`);
  for (const p of c.exposedPorts ?? []) args.push('--config.exposedports', p);
  if (c.architecture !== undefined) args.push('--architecture', c.architecture);
  return args;
}

async function buildBusybox(): Promise<void> {
  await listApplets();
  await umoci(['new', '--image', img('busybox')]);
  await editLayer('busybox', writeBusyboxRootfs);
  await umoci(['config', '--image', img('busybox'), ...configArgs(BUSYBOX)]);
}

async function buildMultilayer(): Promise<void> {
  await listApplets();
  const tag = 'multilayer';
  await umoci(['new', '--image', img(tag)]);
  await editLayer(tag, (rootfs) => {
    writeBusyboxRootfs(rootfs);
    mkdirSync(join(rootfs, 'data'));
    mkdirSync(join(rootfs, 'opq'));
    writeFileSync(join(rootfs, 'data/keep.txt'), 'keep v1\n');
    writeFileSync(join(rootfs, 'data/gone.txt'), 'deleted by layer 2\n');
    writeFileSync(join(rootfs, 'opq/old1.txt'), 'hidden by opaque dir\n');
    writeFileSync(join(rootfs, 'opq/old2.txt'), 'hidden by opaque dir\n');
  });
  // umoci writes one whiteout per deleted file and never an opaque marker, so layer 2 is
  // written by hand with both kinds.
  await addRawLayer(tag, [
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh.gone.txt', type: 'file', data: Buffer.alloc(0), mode: 0 },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/.wh..wh..opq', type: 'file', data: Buffer.alloc(0), mode: 0 },
    { name: 'opq/new.txt', type: 'file', data: Buffer.from(MULTILAYER.present['/opq/new.txt']) },
  ]);
  await editLayer(tag, (rootfs) => {
    writeFileSync(join(rootfs, 'data/keep.txt'), MULTILAYER.present['/data/keep.txt']);
    writeFileSync(join(rootfs, 'etc/layer3'), MULTILAYER.present['/etc/layer3']);
  });
  await umoci([
    'config',
    '--image',
    img(tag),
    ...configArgs({ ...BUSYBOX, labels: MULTILAYER.labels }),
  ]);
}

const layoutIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  manifests: z.array(descriptorSchema),
});

function readLayoutIndex(): z.infer<typeof layoutIndexSchema> {
  return layoutIndexSchema.parse(JSON.parse(readFileSync(join(layoutDir(), 'index.json'), 'utf8')));
}

function descriptorOfTag(tag: string) {
  const d = readLayoutIndex().manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (d === undefined) throw new Error(`no tag ${tag} in the test layout`);
  return d;
}

/** Runs after busybox is built (see ensureBuilt). */
async function buildMultiarch(): Promise<void> {
  const platforms = [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux' },
  ];
  const manifests = [];
  for (const p of platforms) {
    const tag = `multiarch-${p.architecture}`;
    await umoci([
      'config',
      '--image',
      img('busybox'),
      '--tag',
      tag,
      ...configArgs({
        architecture: p.architecture,
        labels: { [MULTIARCH.archLabel]: p.architecture },
      }),
    ]);
    const { annotations: _ignored, ...desc } = descriptorOfTag(tag);
    manifests.push({ ...desc, platform: p });
  }
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }),
  );
  const digest = sha256Digest(index);
  writeFileSync(join(layoutDir(), 'blobs/sha256', digest.slice('sha256:'.length)), index);
  const top = readLayoutIndex();
  top.manifests.push({
    mediaType: MediaTypes.ociIndex,
    digest,
    size: index.length,
    annotations: { 'org.opencontainers.image.ref.name': 'multiarch' },
  });
  writeFileSync(join(layoutDir(), 'index.json'), JSON.stringify(top));
}

/** Deterministic incompressible bytes: AES-256-CTR keystream keyed by a hash of the seed. */
export function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

async function buildBig(): Promise<void> {
  const tag = 'big';
  await umoci(['new', '--image', img(tag)]);
  for (const [i, size] of BIG_LAYER_BYTES.entries()) {
    await addRawLayer(tag, [
      { name: 'big/', type: 'directory' },
      { name: `big/layer${i + 1}.bin`, type: 'file', data: seededBytes(`berth-big-${i}`, size) },
    ]);
  }
  await umoci([
    'config',
    '--image',
    img(tag),
    ...configArgs({ cmd: ['/bin/sh'], env: [PATH_ENV] }),
  ]);
}

const builders: Record<TestImageName, () => Promise<void>> = {
  busybox: buildBusybox,
  multilayer: buildMultilayer,
  multiarch: buildMultiarch,
  big: buildBig,
};

const built = new Map<TestImageName, Promise<void>>();
function ensureBuilt(name: TestImageName): Promise<void> {
  let p = built.get(name);
  if (p === undefined) {
    // multiarch re-tags busybox's manifest, so busybox must be built first.
    const build = () => ensureLayout().then(builders[name]);
    p = name === 'multiarch' ? ensureBuilt('busybox').then(() => serial(build)) : serial(build);
    built.set(name, p);
  }
  return p;
}

/** The OCI layout (`oci:<layout>:<tag>` for skopeo) holding a built test image. */
export async function testImageLayout(
  name: TestImageName,
): Promise<{ layout: string; tag: string }> {
  await ensureBuilt(name);
  return { layout: layoutDir(), tag: name };
}

export interface PushOptions {
  /** Repository on the registry; default: the image name. */
  repo?: string;
  tag?: string;
  /** `v2s2` pushes Docker schema2 manifests and media types instead of OCI ones. */
  format?: 'oci' | 'v2s2';
}

export interface PushedImage {
  /** `127.0.0.1:PORT/repo:tag` */
  ref: string;
  /** `127.0.0.1:PORT/repo` */
  repository: string;
  tag: string;
  /** Digest of the top manifest (the index for `multiarch`) as the registry serves it. */
  digest: Digest;
}

/** Builds (once per process) and pushes a test image to the registry at `host` (127.0.0.1:PORT). */
export async function pushTestImage(
  host: string,
  name: TestImageName,
  opts: PushOptions = {},
): Promise<PushedImage> {
  const { layout, tag: srcTag } = await testImageLayout(name);
  const repository = `${host}/${opts.repo ?? name}`;
  const tag = opts.tag ?? 'latest';
  const digestFile = join(work(), `digest-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  // skopeo reads index.json, which a concurrent umoci build rewrites: copies wait their turn.
  await serial(() =>
    runOk(
      SKOPEO,
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        '--digestfile',
        digestFile,
        ...(name === 'multiarch' ? ['--all'] : []),
        ...(opts.format ? ['--format', opts.format] : []),
        `oci:${layout}:${srcTag}`,
        `docker://${repository}:${tag}`,
      ],
      { timeoutMs: 180_000 },
    ),
  );
  const written = readFileSync(digestFile, 'utf8').trim();
  rmSync(digestFile);
  const digest = written;
  if (!isDigest(digest)) throw new Error(`skopeo wrote no digest: ${written}`);
  return { ref: `${repository}:${tag}`, repository, tag, digest };
}

/**
 * Pushes the small test images under their own names: busybox, multilayer, multiarch, and
 * busybox-v2s2 (busybox as a Docker schema2 image).
 */
export async function pushStandardImages(
  host: string,
): Promise<Record<'busybox' | 'multilayer' | 'multiarch' | 'busyboxV2s2', PushedImage>> {
  const busybox = await pushTestImage(host, 'busybox');
  const [multilayer, multiarch, busyboxV2s2] = await Promise.all([
    pushTestImage(host, 'multilayer'),
    pushTestImage(host, 'multiarch'),
    pushTestImage(host, 'busybox', { repo: 'busybox-v2s2', format: 'v2s2' }),
  ]);
  return { busybox, multilayer, multiarch, busyboxV2s2 };
}

/**
 * `docker save` / `docker load` archives. We write what Docker ≥ 25 writes: an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) that also carries the legacy docker-archive
 * `manifest.json` (`[{Config, RepoTags, Layers}]`, paths into `blobs/`), so both old loaders and
 * OCI tools read it. Layers are written as stored (compressed); loaders decompress by sniffing.
 *
 * Loading reads either form (manifest.json first, else index.json), from archives made by
 * anyone, so the archive is hostile until checked: entries are staged under numbered names in
 * a private temp dir (an archive path never becomes a filesystem path), paths with `..` or a
 * leading `/` refuse the archive, every `blobs/sha256/<hex>` must hash to its name, every
 * layer's uncompressed digest must equal the config's diff_id, and documents and totals are
 * bounded. Only when all of that holds is anything written to the stores.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { posix, join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import tar from 'tar-stream';
import { z } from 'zod';
import { InvalidParameterError, NotFoundError, SystemError } from '../api/errors.js';
import type { Engine } from '../engine.js';
import { decompressLayer, detectCompression, type Compression } from '../storage/decompress.js';
import type { BlobInfo } from './content-store.js';
import { type ImageRecord, type ImageStore, normalizeRef } from './image-store.js';
import { readImageConfig } from './inspect.js';
import {
  chainIds,
  type Descriptor,
  type Digest,
  type ImageConfig,
  imageConfigSchema,
  indexSchema,
  isIndexMediaType,
  isManifestMediaType,
  type Manifest,
  manifestSchema,
  MediaTypes,
} from './oci.js';
import { hostPlatform, platformMatches } from './platform.js';
import {
  familiarString,
  parseNormalizedTagged,
  parseReference,
  repositoryName,
} from './reference.js';

export type ArchiveDeps = Pick<Engine, 'content' | 'snapshots' | 'images'>;

// ---------------------------------------------------------------------------------------------
// save

/** One image to save and the tag references (normalised) to list for it. */
export interface SaveEntry {
  record: ImageRecord;
  repoTags: string[];
}

/**
 * Resolves `docker save` arguments as moby does: a repository without tag or digest means every
 * tag of it; a tag reference, that tag; an ID or ID prefix, the image without names.
 * Throws NotFoundError ("No such image: …") for a name that matches nothing.
 */
export async function resolveSaveNames(images: ImageStore, names: string[]): Promise<SaveEntry[]> {
  const entries = new Map<Digest, SaveEntry>();
  const add = (record: ImageRecord, tag?: string): void => {
    const entry = entries.get(record.id) ?? { record, repoTags: [] };
    if (tag !== undefined && !entry.repoTags.includes(tag)) entry.repoTags.push(tag);
    entries.set(record.id, entry);
  };
  for (const name of names) {
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && ref.tag === undefined && ref.digest === undefined) {
      const repo = repositoryName(ref);
      let matched = false;
      for (const record of await images.list()) {
        for (const tag of record.repoTags) {
          if (tag.slice(0, tag.lastIndexOf(':')) !== repo) continue;
          add(record, tag);
          matched = true;
        }
        if (record.repoDigests.some((d) => d.startsWith(`${repo}@`))) {
          add(record);
          matched = true;
        }
      }
      if (matched) continue;
    }
    const record = await images.lookup(name);
    if (!record) throw new NotFoundError(`No such image: ${name}`);
    const normalized = ref?.tag !== undefined && ref.digest === undefined ? normalizeRef(name) : '';
    add(record, record.repoTags.includes(normalized) ? normalized : undefined);
  }
  return [...entries.values()];
}

type TarHeader = Partial<tar.Header> & { name: string };

const EPOCH = new Date(0);
const blobPath = (d: Digest): string => `blobs/sha256/${d.slice('sha256:'.length)}`;

interface SavePlan extends SaveEntry {
  manifestDesc: Descriptor;
  manifest: Manifest;
  /** Every blob of the image with its size: config, layers, manifest. */
  blobs: BlobInfo[];
}

/**
 * Checks that every blob of `entries` is stored, then writes their archive into a tar stream.
 * A missing blob rejects here, before any byte is sent; a read failure later errors (and ends)
 * the stream. Nothing is buffered beyond one chunk.
 */
export async function saveArchive(deps: ArchiveDeps, entries: SaveEntry[]): Promise<tar.Pack> {
  const plans: SavePlan[] = [];
  for (const entry of entries) {
    const manifestDesc = entry.record.manifest;
    if (!manifestDesc) throw new SystemError(`no manifest recorded for image ${entry.record.id}`);
    const manifest = manifestSchema.parse(
      JSON.parse((await deps.content.read(manifestDesc.digest)).toString('utf8')),
    );
    const blobs: BlobInfo[] = [];
    for (const digest of [
      entry.record.id,
      ...manifest.layers.map((l) => l.digest),
      manifestDesc.digest,
    ]) {
      const info = await deps.content.stat(digest);
      if (!info) throw new SystemError(`content digest ${digest}: not found`);
      blobs.push(info);
    }
    plans.push({ ...entry, manifestDesc, manifest, blobs });
  }
  const pack = tar.pack();
  writeSave(deps, plans, pack).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return pack;
}

async function writeSave(deps: ArchiveDeps, plans: SavePlan[], pack: tar.Pack): Promise<void> {
  const written = new Set<Digest>();
  const addDoc = (name: string, doc: unknown): Promise<void> =>
    addBuffer(pack, name, Buffer.from(JSON.stringify(doc)));

  await addEntry(pack, { name: 'blobs/', type: 'directory', mtime: EPOCH, mode: 0o755 });
  await addEntry(pack, { name: 'blobs/sha256/', type: 'directory', mtime: EPOCH, mode: 0o755 });

  const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const index: Descriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { record, repoTags, manifestDesc, manifest, blobs } of plans) {
    for (const blob of blobs) {
      if (written.has(blob.digest)) continue;
      written.add(blob.digest);
      const source = await deps.content.createReadStream(blob.digest);
      await addStream(pack, blobPath(blob.digest), blob.size, source);
    }

    const config = await readImageConfig(deps.content, record.id);
    const topLayer = config.rootfs.diff_ids.at(-1);
    const names = repoTags.map((t) => parseNormalizedTagged(t));
    dockerManifest.push({
      Config: blobPath(record.id),
      RepoTags: names.length === 0 ? null : names.map((n) => familiarString(n)),
      Layers: manifest.layers.map((l) => blobPath(l.digest)),
    });
    const plain = {
      mediaType: manifestDesc.mediaType,
      digest: manifestDesc.digest,
      size: manifestDesc.size,
    };
    if (names.length === 0) index.push(plain);
    for (const n of names) {
      index.push({
        ...plain,
        annotations: {
          'io.containerd.image.name': repositoryName(n) + `:${n.tag ?? 'latest'}`,
          'org.opencontainers.image.ref.name': n.tag ?? 'latest',
        },
      });
      if (topLayer !== undefined) {
        (repositories[familiarString({ ...n, tag: undefined })] ??= {})[n.tag ?? 'latest'] =
          topLayer.slice('sha256:'.length);
      }
    }
  }
  await addDoc('index.json', {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: index,
  });
  await addDoc('manifest.json', dockerManifest);
  await addDoc('oci-layout', { imageLayoutVersion: '1.0.0' });
  if (Object.keys(repositories).length > 0) await addDoc('repositories', repositories);
}

function addEntry(pack: tar.Pack, header: TarHeader, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return addEntry(pack, { name, size: data.length, mtime: EPOCH, mode: 0o644 }, data);
}

async function addStream(
  pack: tar.Pack,
  name: string,
  size: number,
  source: Readable,
): Promise<void> {
  let sink!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry({ name, size, mtime: EPOCH, mode: 0o644 }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
    }
  } finally {
    source.destroy();
  }
  sink.end(undefined);
  await done;
}

// ---------------------------------------------------------------------------------------------
// load

export interface LoadLimits {
  /** Largest archive entry count. */
  maxEntries: number;
  /** Largest total of file bytes in the archive. */
  maxTotalBytes: number;
  /** Largest JSON document (manifest.json, index.json, configs, manifests). */
  maxDocumentBytes: number;
}

export const DEFAULT_LOAD_LIMITS: LoadLimits = {
  maxEntries: 100_000,
  maxTotalBytes: 64 * 1024 ** 3,
  maxDocumentBytes: 16 * 1024 * 1024,
};

export interface LoadedImage {
  id: Digest;
  /** Normalised tag references now pointing at this image. */
  repoTags: string[];
}

export interface LoadResult {
  images: LoadedImage[];
  /** The lines Docker prints: "Loaded image: busybox:latest\n", "Loaded image ID: sha256:…\n". */
  messages: string[];
}

const dockerManifestSchema = z.array(
  z.looseObject({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);

interface StagedFile {
  /** Where the bytes were written in the staging dir. */
  path: string;
  digest: Digest;
  size: number;
}

interface Staging {
  dir: string;
  files: Map<string, StagedFile>;
  links: Map<string, string>;
}

interface PlannedLayer {
  file: StagedFile;
  compression: Compression;
  diffId: Digest;
}

interface PlannedImage {
  config: StagedFile;
  configDoc: ImageConfig;
  layers: PlannedLayer[];
  /** A manifest found in the archive that names exactly these config and layer blobs. */
  manifest?: { file: StagedFile; descriptor: Descriptor };
  repoTags: string[];
}

const invalidArchive = (why: string): InvalidParameterError =>
  new InvalidParameterError(`invalid archive: ${why}`);

/**
 * Loads a docker-archive or OCI-layout tar into the stores. `tmpRoot` holds the staging dir
 * (same filesystem as the data root). Refuses the whole archive, writing nothing, when any
 * check fails.
 */
export async function loadArchive(
  deps: ArchiveDeps,
  input: Readable,
  tmpRoot: string,
  limits: LoadLimits = DEFAULT_LOAD_LIMITS,
): Promise<LoadResult> {
  const staging: Staging = {
    dir: join(tmpRoot, `load-${randomBytes(8).toString('hex')}`),
    files: new Map(),
    links: new Map(),
  };
  await mkdir(staging.dir, { recursive: true, mode: 0o700 });
  try {
    await stage(input, staging, limits);
    const plan = await planLoad(staging, limits);
    return await commit(deps, plan);
  } finally {
    await rm(staging.dir, { recursive: true, force: true });
  }
}

/** Removes staging dirs of loads a crash interrupted; call before serving. */
export async function removeLoadLeftovers(tmpRoot: string): Promise<void> {
  const names = await readdir(tmpRoot).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith('load-'))) {
    await rm(join(tmpRoot, name), { recursive: true, force: true });
  }
}

/** The normalised archive path, or an error for absolute paths and `..` components. */
function archivePath(name: string): string {
  if (name.startsWith('/') || name.includes('\0'))
    throw invalidArchive(`unsafe path ${JSON.stringify(name)}`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArchive(`unsafe path ${JSON.stringify(name)}`);
  return parts.join('/');
}

async function stage(input: Readable, staging: Staging, limits: LoadLimits): Promise<void> {
  const extract = tar.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  let count = 0;
  let total = 0;
  for await (const entry of extract) {
    if (++count > limits.maxEntries) throw invalidArchive(`more than ${limits.maxEntries} entries`);
    const { header } = entry;
    const name = archivePath(header.name);
    switch (header.type) {
      case 'file':
      case 'contiguous-file': {
        const path = join(staging.dir, String(count));
        const hash = createHash('sha256');
        let size = 0;
        const out = createWriteStream(path, { mode: 0o600 });
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          size += chunk.length;
          total += chunk.length;
          if (total > limits.maxTotalBytes) {
            out.destroy();
            throw invalidArchive(`more than ${limits.maxTotalBytes} bytes`);
          }
          hash.update(chunk);
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        out.end();
        await finished(out);
        staging.files.set(name, { path, size, digest: `sha256:${hash.digest('hex')}` });
        staging.links.delete(name);
        break;
      }
      case 'symlink': {
        // Old docker-archives link repeated layers to their first copy; keep the link inside
        // the archive's namespace.
        const target = header.linkname ?? '';
        if (target.startsWith('/')) throw invalidArchive(`unsafe link ${JSON.stringify(name)}`);
        const resolved = posix.normalize(posix.join(posix.dirname(name), target));
        staging.links.set(name, archivePath(resolved));
        staging.files.delete(name);
        entry.resume();
        break;
      }
      case 'directory':
        entry.resume();
        break;
      default:
        throw invalidArchive(`unsupported entry type ${header.type ?? 'unknown'} at ${name}`);
    }
  }
}

function findFile(staging: Staging, name: string): StagedFile | undefined {
  let path = archivePath(name);
  for (let hops = 0; hops < 16; hops++) {
    const file = staging.files.get(path);
    if (file) return file;
    const link = staging.links.get(path);
    if (link === undefined) return undefined;
    path = link;
  }
  return undefined;
}

function requireFile(staging: Staging, name: string): StagedFile {
  const file = findFile(staging, name);
  if (!file) throw invalidArchive(`missing file ${JSON.stringify(name)}`);
  return file;
}

async function readDoc(file: StagedFile, limits: LoadLimits, what: string): Promise<unknown> {
  if (file.size > limits.maxDocumentBytes) throw invalidArchive(`${what} is too large`);
  try {
    return JSON.parse(await readFile(file.path, 'utf8'));
  } catch (err) {
    throw invalidArchive(`${what}: ${(err as Error).message}`);
  }
}

function parseDoc<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidArchive(`${what}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** `blobs/sha256/<hex>` (or a legacy `<hex>.json`, `<hex>/layer.tar`-free name): its digest. */
function digestInName(name: string): Digest | undefined {
  const m =
    /^blobs\/sha256\/([a-f0-9]{64})$/.exec(archivePath(name)) ??
    /^([a-f0-9]{64})\.json$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

function verifyBlobNames(staging: Staging): void {
  for (const [name, file] of staging.files) {
    const expected = digestInName(name);
    if (expected !== undefined && expected !== file.digest) {
      throw invalidArchive(`digest mismatch for ${name}: content is ${file.digest}`);
    }
  }
}

async function planLoad(staging: Staging, limits: LoadLimits): Promise<PlannedImage[]> {
  verifyBlobNames(staging);
  const manifestJson = findFile(staging, 'manifest.json');
  const indexJson = findFile(staging, 'index.json');
  const ociManifests = indexJson ? await ociManifestsIn(staging, indexJson, limits) : [];
  const plan: PlannedImage[] = [];
  if (manifestJson) {
    const entries = parseDoc(
      dockerManifestSchema,
      await readDoc(manifestJson, limits, 'manifest.json'),
      'manifest.json',
    );
    for (const entry of entries) {
      const layers = entry.Layers.map((l) => requireFile(staging, l));
      const repoTags = (entry.RepoTags ?? []).map((t) => normalizeTag(t));
      const image = await planImage(requireFile(staging, entry.Config), layers, repoTags, limits);
      const match = ociManifests.find(
        (m) =>
          m.manifest.config.digest === image.config.digest &&
          m.manifest.layers.length === layers.length &&
          m.manifest.layers.every((l, i) => l.digest === layers[i]?.digest),
      );
      if (match) image.manifest = { file: match.file, descriptor: match.descriptor };
      plan.push(image);
    }
  } else if (indexJson) {
    for (const m of ociManifests) {
      const config = blobFile(staging, m.manifest.config.digest);
      const layers = m.manifest.layers.map((l) => blobFile(staging, l.digest));
      const image = await planImage(config, layers, m.names, limits);
      image.manifest = { file: m.file, descriptor: m.descriptor };
      plan.push(image);
    }
  } else {
    throw invalidArchive('neither manifest.json nor index.json found');
  }
  if (plan.length === 0) throw invalidArchive('no images found');
  return plan;
}

function normalizeTag(tag: string): string {
  try {
    const ref = parseNormalizedTagged(tag);
    if (ref.digest !== undefined) throw invalidArchive(`tag ${JSON.stringify(tag)} has a digest`);
    return normalizeRef(tag);
  } catch (err) {
    if (err instanceof InvalidParameterError && err.message.startsWith('invalid archive'))
      throw err;
    throw invalidArchive(`invalid tag ${JSON.stringify(tag)}: ${(err as Error).message}`);
  }
}

function blobFile(staging: Staging, digest: Digest): StagedFile {
  return requireFile(staging, blobPath(digest));
}

interface OciManifest {
  file: StagedFile;
  descriptor: Descriptor;
  manifest: Manifest;
  names: string[];
}

/**
 * The image manifests an OCI layout's index.json points at (through nested indexes, picking
 * this host's platform among those present), with the names its annotations give.
 */
async function ociManifestsIn(
  staging: Staging,
  indexFile: StagedFile,
  limits: LoadLimits,
): Promise<OciManifest[]> {
  const out: OciManifest[] = [];
  const visit = async (
    descriptors: Descriptor[],
    names: string[],
    depth: number,
  ): Promise<void> => {
    if (depth > 4) throw invalidArchive('indexes nested too deeply');
    const candidates = descriptors.filter((d) => findFile(staging, blobPath(d.digest)));
    for (const d of candidates) {
      const file = blobFile(staging, d.digest);
      if (file.size !== d.size) throw invalidArchive(`size mismatch for ${d.digest}`);
      const doc = await readDoc(file, limits, d.digest);
      const own = names.length > 0 ? names : nameFromAnnotations(d);
      if (isIndexMediaType(d.mediaType)) {
        const nested = parseDoc(indexSchema, doc, d.digest);
        // One image per index, as docker load does: this host's platform if present.
        const present = nested.manifests.filter((m) => findFile(staging, blobPath(m.digest)));
        const pick =
          present.find((m) => m.platform && platformMatches(hostPlatform(), m.platform)) ??
          present[0];
        if (pick) await visit([pick], own, depth + 1);
      } else if (isManifestMediaType(d.mediaType)) {
        const manifest = parseDoc(manifestSchema, doc, d.digest);
        // A multi-platform layout may hold blobs for one platform only; skip incomplete ones.
        if (!findFile(staging, blobPath(manifest.config.digest))) continue;
        const existing = out.find((m) => m.descriptor.digest === d.digest);
        if (existing) existing.names.push(...own.filter((n) => !existing.names.includes(n)));
        else
          out.push({
            file,
            descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
            manifest,
            names: [...own],
          });
      }
    }
  };
  const index = parseDoc(indexSchema, await readDoc(indexFile, limits, 'index.json'), 'index.json');
  await visit(index.manifests, [], 0);
  return out;
}

/** containerd's full name annotation, or an OCI ref.name that is a whole reference. */
function nameFromAnnotations(d: Descriptor): string[] {
  const full = d.annotations?.['io.containerd.image.name'];
  const refName = d.annotations?.['org.opencontainers.image.ref.name'];
  const name = full ?? (refName !== undefined && /[/:]/.test(refName) ? refName : undefined);
  if (name === undefined) return [];
  try {
    return [normalizeTag(name)];
  } catch {
    return [];
  }
}

async function planImage(
  config: StagedFile,
  layerFiles: StagedFile[],
  repoTags: string[],
  limits: LoadLimits,
): Promise<PlannedImage> {
  const configDoc = parseDoc(
    imageConfigSchema,
    await readDoc(config, limits, 'image config'),
    'image config',
  );
  const diffIds = configDoc.rootfs.diff_ids;
  if (diffIds.length !== layerFiles.length) {
    throw invalidArchive(`config lists ${diffIds.length} layers, manifest ${layerFiles.length}`);
  }
  const layers: PlannedLayer[] = [];
  for (const [i, file] of layerFiles.entries()) {
    const { compression, diffId } = await uncompressedDigest(file);
    const expected = diffIds[i];
    if (diffId !== expected) {
      throw invalidArchive(
        `invalid diffID for layer ${i}: expected "${expected}", got "${diffId}"`,
      );
    }
    layers.push({ file, compression, diffId });
  }
  return { config, configDoc, layers, repoTags };
}

async function uncompressedDigest(
  file: StagedFile,
): Promise<{ compression: Compression; diffId: Digest }> {
  const head = Buffer.alloc(512);
  const fh = await open(file.path, 'r');
  let headLength: number;
  try {
    headLength = (await fh.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await fh.close();
  }
  const compression = detectCompression(head.subarray(0, headLength));
  if (compression === undefined)
    throw invalidArchive(`layer ${file.digest} is neither tar, gzip nor zstd`);
  if (compression === 'none') return { compression, diffId: file.digest };
  const hash = createHash('sha256');
  try {
    for await (const chunk of (await decompressLayer(
      createReadStream(file.path),
    )) as AsyncIterable<Buffer>) {
      hash.update(chunk);
    }
  } catch (err) {
    throw invalidArchive(`layer ${file.digest}: ${(err as Error).message}`);
  }
  return { compression, diffId: `sha256:${hash.digest('hex')}` };
}

const LAYER_MEDIA_TYPE: Record<Compression, string> = {
  none: MediaTypes.ociLayer,
  gzip: MediaTypes.ociLayerGzip,
  zstd: MediaTypes.ociLayerZstd,
};

async function commit(deps: ArchiveDeps, plan: PlannedImage[]): Promise<LoadResult> {
  const result: LoadResult = { images: [], messages: [] };
  for (const image of plan) {
    const ingest = (f: StagedFile) =>
      deps.content.ingest({ digest: f.digest, size: f.size }, () =>
        Promise.resolve(createReadStream(f.path)),
      );
    await ingest(image.config);
    for (const layer of image.layers) await ingest(layer.file);
    let manifest: Descriptor;
    if (image.manifest) {
      await ingest(image.manifest.file);
      manifest = image.manifest.descriptor;
    } else {
      const doc = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: {
            mediaType: MediaTypes.ociConfig,
            digest: image.config.digest,
            size: image.config.size,
          },
          layers: image.layers.map((l) => ({
            mediaType: LAYER_MEDIA_TYPE[l.compression],
            digest: l.file.digest,
            size: l.file.size,
          })),
        }),
      );
      const info = await deps.content.put(doc);
      manifest = { mediaType: MediaTypes.ociManifest, digest: info.digest, size: info.size };
    }

    const chains = chainIds(image.layers.map((l) => l.diffId));
    for (const [i, layer] of image.layers.entries()) {
      const chain = chains[i] as Digest;
      if (await deps.snapshots.stat(chain)) continue;
      const stream = createReadStream(layer.file.path);
      await deps.snapshots.unpack(chain, chains[i - 1], { stream, diffId: layer.diffId });
    }

    const id = image.config.digest;
    for (const tag of image.repoTags) {
      const previous = await deps.images.lookup(tag);
      if (previous && previous.id !== id) {
        result.messages.push(
          `The image ${familiarString(parseNormalizedTagged(tag))} already exists, renaming the old one with ID ${previous.id} to empty string\n`,
        );
      }
    }
    const record = await deps.images.put({
      id,
      manifest,
      repoTags: image.repoTags,
      repoDigests: [],
      stored: new Date().toISOString(),
    });
    result.images.push({ id, repoTags: image.repoTags });
    if (image.repoTags.length === 0) result.messages.push(`Loaded image ID: ${record.id}\n`);
    for (const tag of image.repoTags) {
      result.messages.push(`Loaded image: ${familiarString(parseNormalizedTagged(tag))}\n`);
    }
  }
  return result;
}

/**
 * `docker pull`: resolve a reference at its registry, pick the platform's manifest from an
 * index, fetch config and layers into the content store (a few at a time), unpack the layers
 * in order into snapshots, and record the image — reporting progress in Docker's words.
 *
 * Sharing: two pulls of one image fetch each blob once (the content store's single-flight
 * ingest) and unpack each layer once (the snapshotter's).
 */
import { PassThrough, pipeline } from 'node:stream';
import { NotFoundError, SystemError } from '../api/errors.js';
import type { LayerSource, Snapshotter } from '../storage/snapshots.js';
import type { BlobInfo, ContentStore } from './content-store.js';
import type { ImageRecord, ImageStore } from './image-store.js';
import {
  chainIds,
  type Descriptor,
  type Digest,
  type ImageConfig,
  imageConfigSchema,
  type Index,
  indexSchema,
  isIndexMediaType,
  isManifestMediaType,
  type Manifest,
  manifestSchema,
} from './oci.js';
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  platformMatches,
  type PlatformSpec,
  selectManifest,
} from './platform.js';
import { progressLine, type ProgressEmitter, throttled } from './progress.js';
import {
  familiarName,
  familiarString,
  formatReference,
  parseReference,
  type Reference,
  repositoryName,
  withDefaultTag,
} from './reference.js';
import type { RegistryAuth } from './registry/auth.js';
import {
  type FetchedManifest,
  RegistryClient,
  type RegistryClientOptions,
} from './registry/client.js';
import { registryErrorCode } from './registry/errors.js';
import { countBytes, shortId, teeWithHeldEnd, TransferLimiter } from './transfer.js';

/** Docker's default max-concurrent-downloads is 3. */
export const PULL_CONCURRENCY = 3;

/**
 * Buffer depth of the streams a layer flows through. At Node's default 16 KiB every 64 KiB
 * network chunk stops and restarts the socket; a few chunks of slack keep it flowing.
 */
const STREAM_BUFFER_BYTES = 1 << 20;

export type { LayerSource };

/** What pull needs of a Snapshotter. */
export type LayerUnpacker = Pick<Snapshotter, 'stat' | 'unpack'>;

export interface PullOptions {
  /** As the user typed it ("busybox") or parsed; "latest" is added when no tag or digest. */
  ref: string | Reference;
  /** Defaults to the host's platform. Given explicitly, a single-platform image must match it. */
  platform?: PlatformSpec | undefined;
  auth?: RegistryAuth | undefined;
  registry?: Omit<RegistryClientOptions, 'auth'> | undefined;
  content: ContentStore;
  snapshotter: LayerUnpacker;
  imageStore: ImageStore;
  onProgress: ProgressEmitter;
  signal?: AbortSignal | undefined;
}

export interface PullResult {
  record: ImageRecord;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  digest: Digest;
  /** False when the image was already stored under this name. */
  downloaded: boolean;
}

export async function pullImage(opts: PullOptions): Promise<PullResult> {
  const ref = withDefaultTag(typeof opts.ref === 'string' ? parseReference(opts.ref) : opts.ref);
  try {
    return await pull(ref, opts);
  } catch (err) {
    throw translatePullError(err, ref);
  }
}

async function pull(ref: Reference, opts: PullOptions): Promise<PullResult> {
  const { content, onProgress: emit, signal } = opts;
  const client = new RegistryClient(ref.domain, { ...opts.registry, auth: opts.auth });
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const top = await client.getManifest(ref.path, tagOrDigest, signal);
  const wanted = opts.platform ?? hostPlatform();
  emit({ status: `Pulling from ${ref.path}`, id: tagOrDigest });

  let manifestDoc = top;
  let indexDigest: Digest | undefined;
  let manifestDesc: Descriptor;
  const topDoc = parseDocument(top);
  if (topDoc.kind === 'index') {
    const chosen = selectManifest(
      topDoc.index.manifests.filter((m) => isManifestMediaType(m.mediaType)),
      wanted,
    );
    manifestDoc = await client.getManifest(ref.path, chosen.digest, signal);
    if (manifestDoc.bytes.length !== chosen.size) {
      throw new SystemError(`manifest ${chosen.digest}: size does not match its index entry`);
    }
    indexDigest = top.digest;
    manifestDesc = { ...chosen };
  } else {
    manifestDesc = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
  }
  const parsed = parseDocument(manifestDoc);
  if (parsed.kind !== 'manifest') {
    throw new SystemError(`${manifestDoc.digest}: expected an image manifest, got an index`);
  }
  const manifest = parsed.manifest;

  if (topDoc.kind === 'index') await content.put(top.bytes);
  await content.put(manifestDoc.bytes);
  await content.ingest(blobInfo(manifest.config), () =>
    client.getBlob(ref.path, manifest.config.digest, signal),
  );
  const config = parseConfig(await content.read(manifest.config.digest));
  if (opts.platform && topDoc.kind === 'manifest' && !platformMatches(opts.platform, config)) {
    const actual = normalizePlatform(config);
    throw new NotFoundError(
      `image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${formatPlatform(opts.platform)}, actual: ${formatPlatform(actual)}`,
    );
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new SystemError(
      `invalid image: manifest has ${manifest.layers.length} layers, config has ${diffIds.length} diff_ids`,
    );
  }

  await fetchAndUnpack(client, ref, manifest.layers, diffIds, opts);

  emit({ status: `Digest: ${top.digest}` });
  const nameRef = formatReference(ref);
  const before = await opts.imageStore.lookup(nameRef);
  const record = await opts.imageStore.put({
    id: manifest.config.digest,
    manifest: manifestDesc,
    ...(indexDigest ? { indexDigest } : {}),
    repoTags: ref.tag !== undefined && ref.digest === undefined ? [nameRef] : [],
    repoDigests: [`${repositoryName(ref)}@${top.digest}`],
    stored: new Date().toISOString(),
  });
  const downloaded = before?.id !== record.id;
  emit({
    status: downloaded
      ? `Status: Downloaded newer image for ${familiarString(ref)}`
      : `Status: Image is up to date for ${familiarString(ref)}`,
  });
  return { record, digest: top.digest, downloaded };
}

/**
 * Downloads missing layers (at most PULL_CONCURRENCY at once) and unpacks them in the same
 * pass: each layer's bytes go to the content store and to its snapshot at once, and all
 * layers are applied concurrently (the snapshotter commits them bottom-up). The unpacker's
 * input ends only after the content store verified the blob's digest, so a tampered blob
 * never becomes a snapshot. Progress messages keep Docker's per-layer order.
 */
async function fetchAndUnpack(
  client: RegistryClient,
  ref: Reference,
  layers: readonly Descriptor[],
  diffIds: readonly Digest[],
  opts: PullOptions,
): Promise<void> {
  const { content, snapshotter, onProgress: emit } = opts;
  const chains = chainIds(diffIds);
  const present = await Promise.all(
    chains.map(async (c) => (await snapshotter.stat(c)) !== undefined),
  );
  layers.forEach((layer, i) => {
    emit({ status: present[i] ? 'Already exists' : 'Pulling fs layer', id: shortId(layer.digest) });
  });

  // One failed layer cancels the others.
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
  const limiter = new TransferLimiter(PULL_CONCURRENCY);
  await allThenFirstError(
    layers.map((layer, i) => (present[i] ? Promise.resolve() : pullLayer(layer, i))),
    () => failed.abort(),
  );

  async function pullLayer(layer: Descriptor, i: number): Promise<void> {
    const id = shortId(layer.digest);
    const input = new PassThrough({ highWaterMark: STREAM_BUFFER_BYTES });
    let downloaded = false;
    let extracted = 0;
    const reportExtracting = throttled((cur, total) =>
      emit(progressLine(id, 'Extracting', cur, total)),
    );
    const stream = countBytes(input, layer.size, (cur, total) => {
      extracted = cur;
      if (downloaded) reportExtracting(cur, total);
    });
    // Called now, in layer order, so that each snapshot's parent is registered before it.
    const unpacked = snapshotter.unpack(chains[i] as string, chains[i - 1], {
      stream,
      diffId: diffIds[i] as Digest,
      mediaType: layer.mediaType,
    });
    const fetched = limiter
      .run(
        async () => {
          let teed = false;
          if (!(await content.stat(layer.digest))) {
            const report = throttled((cur, total) =>
              emit(progressLine(id, 'Downloading', cur, total)),
            );
            await content.ingest(
              blobInfo(layer),
              async () => {
                teed = true;
                return teeWithHeldEnd(await client.getBlob(ref.path, layer.digest, signal), input);
              },
              report,
            );
            emit({ status: 'Verifying Checksum', id });
          }
          emit({ status: 'Download complete', id });
          downloaded = true;
          if (teed) {
            if (extracted > 0) emit(progressLine(id, 'Extracting', extracted, layer.size));
            input.end();
          } else {
            // Stored already (or fetched by a concurrent pull): unpack from the store.
            pipeline(await content.createReadStream(layer.digest), input, () => undefined);
          }
        },
        () => emit({ status: 'Waiting', id }),
      )
      .catch((err: unknown) => {
        input.destroy(err instanceof Error ? err : new Error(String(err)));
        throw err;
      });
    // A failed layer's unpack removes its directory before this returns: nothing writes into
    // the store once the pull has failed.
    await allThenFirstError([fetched, unpacked]);
    emit({ status: 'Pull complete', id });
  }
}

/**
 * Waits until every promise settled, then rejects with the first rejection (in time) if any,
 * after telling `onFirstError` at once. Promise.all would reject while the others still run.
 */
async function allThenFirstError(
  promises: readonly Promise<unknown>[],
  onFirstError?: (err: unknown) => void,
): Promise<void> {
  let failure: { err: unknown } | undefined;
  await Promise.allSettled(
    promises.map((p) =>
      p.catch((err: unknown) => {
        if (!failure) {
          failure = { err };
          onFirstError?.(err);
        }
      }),
    ),
  );
  if (failure) throw failure.err;
}

type ParsedDocument = { kind: 'index'; index: Index } | { kind: 'manifest'; manifest: Manifest };

/** Validates a fetched document by its media type; an index with layers (or a manifest with manifests) is refused. */
function parseDocument(doc: FetchedManifest): ParsedDocument {
  let json: unknown;
  try {
    json = JSON.parse(doc.bytes.toString('utf8'));
  } catch {
    throw new SystemError(`invalid manifest ${doc.digest}: not JSON`);
  }
  if (isIndexMediaType(doc.mediaType)) {
    const r = indexSchema.safeParse(json);
    if (!r.success)
      throw new SystemError(`invalid index ${doc.digest}: ${r.error.issues[0]?.message}`);
    return { kind: 'index', index: r.data };
  }
  if (isManifestMediaType(doc.mediaType)) {
    const r = manifestSchema.safeParse(json);
    if (!r.success) {
      throw new SystemError(`invalid manifest ${doc.digest}: ${r.error.issues[0]?.message}`);
    }
    return { kind: 'manifest', manifest: r.data };
  }
  throw new SystemError(`unsupported manifest media type: ${doc.mediaType}`);
}

function parseConfig(bytes: Buffer): ImageConfig {
  try {
    return imageConfigSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    throw new SystemError(`invalid image config: ${(e as Error).message}`);
  }
}

function blobInfo(d: Descriptor): BlobInfo {
  return { digest: d.digest, size: d.size };
}

/** moby's translatePullError: registry "not found"-like codes in Docker's sentences. */
function translatePullError(err: unknown, ref: Reference): unknown {
  const code = registryErrorCode(err);
  const cause = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'DENIED':
      return new NotFoundError(
        `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${cause}`,
      );
    case 'MANIFEST_UNKNOWN':
      return new NotFoundError(`manifest for ${familiarString(ref)} not found: ${cause}`);
    case 'NAME_UNKNOWN':
      return new NotFoundError(`repository ${familiarName(ref)} not found: ${cause}`);
    default:
      return err;
  }
}

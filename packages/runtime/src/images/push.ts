/**
 * `docker push`: upload an image's layers and config to a registry (skipping blobs it has,
 * mounting blobs from another repository of the same registry when the image came from one),
 * then put the manifest under the tag — reporting progress in Docker's words.
 */
import { InvalidParameterError, NotFoundError, SystemError } from '../api/errors.js';
import type { ContentStore } from './content-store.js';
import type { ImageStore } from './image-store.js';
import {
  type Descriptor,
  type Digest,
  isIndexMediaType,
  imageConfigSchema,
  manifestSchema,
  MediaTypes,
} from './oci.js';
import { progressLine, type ProgressEmitter, throttled } from './progress.js';
import {
  familiarName,
  formatReference,
  parseReference,
  type Reference,
  repositoryName,
  withDefaultTag,
} from './reference.js';
import type { RegistryAuth } from './registry/auth.js';
import { RegistryClient, type RegistryClientOptions } from './registry/client.js';
import { shortId, TransferLimiter } from './transfer.js';

/** Docker's default max-concurrent-uploads is 5. */
export const PUSH_CONCURRENCY = 5;

export interface PushOptions {
  /** The tag reference to push ("localhost:5000/x:1"); "latest" when no tag. */
  ref: string | Reference;
  auth?: RegistryAuth | undefined;
  registry?: Omit<RegistryClientOptions, 'auth'> | undefined;
  content: ContentStore;
  imageStore: ImageStore;
  onProgress: ProgressEmitter;
  signal?: AbortSignal | undefined;
}

export interface PushResult {
  tag: string;
  digest: Digest;
  /** Size of the manifest in bytes. */
  size: number;
}

export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { content, onProgress: emit, signal } = opts;
  const ref = withDefaultTag(typeof opts.ref === 'string' ? parseReference(opts.ref) : opts.ref);
  if (ref.digest !== undefined || ref.tag === undefined) {
    throw new InvalidParameterError('cannot push a digest reference');
  }
  const tag = ref.tag;
  emit({ status: `The push refers to repository [${repositoryName(ref)}]` });

  const record = await opts.imageStore.lookup(formatReference(ref));
  if (!record) {
    throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(ref)}`);
  }
  if (!record.manifest || isIndexMediaType(record.manifest.mediaType)) {
    throw new SystemError(`image ${record.id} has no image manifest to push`);
  }
  const manifestBytes = await content.read(record.manifest.digest);
  const parsed = manifestSchema.safeParse(JSON.parse(manifestBytes.toString('utf8')));
  if (!parsed.success) throw new SystemError(`invalid stored manifest ${record.manifest.digest}`);
  const manifest = parsed.data;
  const mediaType = manifest.mediaType ?? record.manifest.mediaType ?? MediaTypes.ociManifest;

  const client = new RegistryClient(ref.domain, { ...opts.registry, auth: opts.auth });
  // A repository of the same registry that has this image's blobs, to mount them from.
  const mountFrom = record.repoDigests
    .map((r) => parseReference(r))
    .find((r) => r.domain === ref.domain && r.path !== ref.path)?.path;

  // Docker names each pushed layer by its short diff ID (the uncompressed digest), not by the
  // compressed blob digest that pull shows.
  const config = imageConfigSchema.safeParse(
    JSON.parse((await content.read(manifest.config.digest)).toString('utf8')),
  );
  if (!config.success) throw new SystemError(`invalid stored config ${manifest.config.digest}`);
  const diffIds = config.data.rootfs.diff_ids;
  const layerId = (layer: Descriptor) =>
    shortId(diffIds[manifest.layers.indexOf(layer)] ?? layer.digest);

  // Docker lists layers top-down.
  const layers = [...manifest.layers].reverse();
  for (const layer of layers) emit({ status: 'Preparing', id: layerId(layer) });
  const limiter = new TransferLimiter(PUSH_CONCURRENCY);
  const pushLayer = (layer: Descriptor) => {
    const id = layerId(layer);
    return limiter.run(
      async () => {
        if (await client.blobExists(ref.path, layer.digest, signal)) {
          emit({ status: 'Layer already exists', id });
          return;
        }
        const report = throttled((cur, total) => emit(progressLine(id, 'Pushing', cur, total)));
        const how = await pushBlob(client, ref, content, layer, mountFrom, report, signal);
        emit({ status: how === 'mounted' ? `Mounted from ${mountFrom ?? ''}` : 'Pushed', id });
      },
      () => emit({ status: 'Waiting', id }),
    );
  };
  const results = await Promise.allSettled(layers.map(pushLayer));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;

  if (!(await client.blobExists(ref.path, manifest.config.digest, signal))) {
    await pushBlob(client, ref, content, manifest.config, mountFrom, undefined, signal);
  }
  const digest = await client.putManifest(ref.path, tag, mediaType, manifestBytes, signal);
  const size = manifestBytes.length;
  emit({ status: `${tag}: digest: ${digest} size: ${size}` });
  emit({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: size } });

  const repoDigest = `${repositoryName(ref)}@${digest}`;
  if (!record.repoDigests.includes(repoDigest)) {
    await opts.imageStore.put({ ...record, repoDigests: [...record.repoDigests, repoDigest] });
  }
  return { tag, digest, size };
}

async function pushBlob(
  client: RegistryClient,
  ref: Reference,
  content: ContentStore,
  blob: Descriptor,
  mountFrom: string | undefined,
  onProgress: ((sent: number, total: number) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<'mounted' | 'uploaded'> {
  const info = await content.stat(blob.digest);
  if (!info) throw new SystemError(`blob ${blob.digest} is missing from the content store`);
  return client.pushBlob(ref.path, info, () => content.createReadStream(blob.digest), {
    from: mountFrom,
    onProgress,
    signal,
  });
}

/**
 * The OCI image spec and Docker schema2 documents, as zod schemas. Everything read from a
 * registry, an archive or the store is parsed through these before it is trusted.
 *
 * Terms: a *descriptor* names a blob by media type, digest and size; a *manifest* lists one
 * image's config and layers; an *index* (Docker: manifest list) lists manifests per platform;
 * the *config* holds the image's runtime defaults and its rootfs `diff_ids` (digests of the
 * uncompressed layers), from which chain IDs and the image ID (= config digest) derive.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Only sha256 is produced and accepted; anything else is refused before it reaches a path. */
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
export const digestSchema = z.string().regex(DIGEST_RE, 'invalid digest');
export type Digest = z.infer<typeof digestSchema>;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function sha256Digest(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

/**
 * An image manifest. A document that carries `manifests` is refused (CVE-2021-41190: an
 * ambiguous document could be read as an index by one party and a manifest by another).
 */
export const manifestSchema = z
  .looseObject({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    config: descriptorSchema,
    layers: z.array(descriptorSchema),
    annotations: z.record(z.string(), z.string()).optional(),
    manifests: z.undefined({ message: 'a manifest must not carry "manifests"' }).optional(),
  })
  .refine((m) => !('manifests' in m), { message: 'a manifest must not carry "manifests"' });
export type Manifest = z.infer<typeof manifestSchema>;

/** An image index / manifest list. One that carries `layers` or `config` is refused (CVE-2021-41190). */
export const indexSchema = z
  .looseObject({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    manifests: z.array(descriptorSchema),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .refine((m) => !('layers' in m) && !('config' in m), {
    message: 'an index must not carry "layers" or "config"',
  });
export type Index = z.infer<typeof indexSchema>;

const healthcheckSchema = z.looseObject({
  Test: z.array(z.string()).optional(),
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  StartPeriod: z.number().optional(),
  Retries: z.number().optional(),
});

/** The runtime defaults in an image config (Docker's capitalised names, as the spec keeps them). */
export const containerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: z.record(z.string(), z.object({})).nullish(),
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: z.record(z.string(), z.object({})).nullish(),
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  StopSignal: z.string().optional(),
  Healthcheck: healthcheckSchema.optional(),
  OnBuild: z.array(z.string()).nullish(),
  Shell: z.array(z.string()).nullish(),
});
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

export const historySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type HistoryEntry = z.infer<typeof historySchema>;

export const imageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  config: containerConfigSchema.optional(),
  rootfs: z.object({
    type: z.literal('layers'),
    diff_ids: z.array(digestSchema),
  }),
  history: z.array(historySchema).optional(),
});
export type ImageConfig = z.infer<typeof imageConfigSchema>;

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}

/**
 * Chain IDs name a stack of layers: chain(L1) = diffID(L1), chain(L1..Ln) =
 * sha256(chain(L1..Ln-1) + " " + diffID(Ln)). One snapshot is kept per chain ID, so a layer
 * shared by two images on the same parents is unpacked once.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}

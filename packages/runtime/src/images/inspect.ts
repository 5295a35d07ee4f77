/**
 * What the Engine API says about a stored image: the shapes of `GET /images/json`
 * (ImageSummary), `GET /images/{name}/json` (ImageInspect) and `/history`, computed from the
 * record, the config blob and the unpacked snapshots. Sizes are the unpacked snapshot sizes,
 * as Docker reports them.
 */
import type { ContentStore } from './content-store.js';
import type { ImageRecord } from './image-store.js';
import { chainIds, type Digest, type ImageConfig, imageConfigSchema } from './oci.js';
import { parseReference, familiarString } from './reference.js';
import type { Snapshotter } from '../storage/snapshots.js';
import { compareApiVersions } from '../api/server.js';
import { SystemError } from '../api/errors.js';

/** An image with its parsed config and the chain IDs of its layers, base first. */
export interface ImageDetails {
  record: ImageRecord;
  config: ImageConfig;
  chainIds: Digest[];
}

// Configs are immutable (named by their digest), so a parsed one can be kept for good; the
// bound only keeps a long-lived daemon with many deleted images from growing.
const CONFIG_CACHE_MAX = 4096;
const configCache = new Map<Digest, ImageConfig>();

/** The image's config from the content store, parsed and validated. */
export async function readImageConfig(content: ContentStore, id: Digest): Promise<ImageConfig> {
  const cached = configCache.get(id);
  if (cached) return cached;
  const parsed = imageConfigSchema.safeParse(JSON.parse((await content.read(id)).toString('utf8')));
  if (!parsed.success) throw new SystemError(`invalid image config ${id}: ${parsed.error.message}`);
  if (configCache.size >= CONFIG_CACHE_MAX) configCache.clear();
  configCache.set(id, parsed.data);
  return parsed.data;
}

export async function imageDetails(
  content: ContentStore,
  record: ImageRecord,
): Promise<ImageDetails> {
  const config = await readImageConfig(content, record.id);
  return { record, config, chainIds: chainIds(config.rootfs.diff_ids) };
}

/** Unpacked size of each layer (its own snapshot), base first; 0 for a missing snapshot. */
export async function layerSizes(snapshots: Snapshotter, details: ImageDetails): Promise<number[]> {
  return Promise.all(details.chainIds.map(async (c) => (await snapshots.stat(c))?.size ?? 0));
}

export async function imageSize(snapshots: Snapshotter, details: ImageDetails): Promise<number> {
  return (await layerSizes(snapshots, details)).reduce((a, b) => a + b, 0);
}

/** "docker.io/library/busybox:latest" → "busybox:latest", as Docker displays references. */
export function familiar(ref: string): string {
  try {
    return familiarString(parseReference(ref));
  } catch {
    return ref;
  }
}

/** Unix seconds of the config's `created`, 0 when absent or unparsable. */
export function createdSeconds(config: ImageConfig): number {
  const ms = config.created === undefined ? NaN : Date.parse(config.created);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

export function imageLabels(config: ImageConfig): Record<string, string> {
  return config.config?.Labels ?? {};
}

/** One ImageSummary of `GET /images/json`. */
export function imageSummary(
  details: ImageDetails,
  size: number,
  apiVersion: string,
): Record<string, unknown> {
  const { record, config } = details;
  let repoTags = record.repoTags.map(familiar);
  let repoDigests = record.repoDigests.map(familiar);
  // Before API 1.43 untagged images were listed with placeholder names.
  if (compareApiVersions(apiVersion, '1.43') < 0 && repoTags.length === 0) {
    repoTags = ['<none>:<none>'];
    if (repoDigests.length === 0) repoDigests = ['<none>@<none>'];
  }
  const summary: Record<string, unknown> = {
    Id: record.id,
    ParentId: '',
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Created: createdSeconds(config),
    Size: size,
    SharedSize: -1,
    Labels: imageLabels(config),
    Containers: -1,
  };
  if (compareApiVersions(apiVersion, '1.44') < 0) summary.VirtualSize = size;
  return summary;
}

/** The image config's runtime part as Docker's ImageInspect.Config shows it. */
function inspectConfig(config: ImageConfig): Record<string, unknown> {
  const c = config.config ?? {};
  return {
    ...c,
    User: c.User ?? '',
    ExposedPorts: c.ExposedPorts ?? null,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
  };
}

/** ImageInspect of `GET /images/{name}/json`. `lowerDirs` are the snapshot dirs, top first. */
export function imageInspect(
  details: ImageDetails,
  size: number,
  lowerDirs: string[],
  apiVersion: string,
): Record<string, unknown> {
  const { record, config } = details;
  const [upper, ...lower] = lowerDirs;
  const graphData: Record<string, string> = {};
  if (upper !== undefined) graphData.UpperDir = upper;
  if (lower.length > 0) graphData.LowerDir = lower.join(':');
  const inspect: Record<string, unknown> = {
    Id: record.id,
    RepoTags: record.repoTags.map(familiar),
    RepoDigests: record.repoDigests.map(familiar),
    Parent: '',
    Comment: lastComment(config),
    Created: config.created ?? null,
    DockerVersion: '',
    Author: config.author ?? '',
    Config: inspectConfig(config),
    Architecture: config.architecture,
    Os: config.os,
    Size: size,
    GraphDriver: { Name: 'overlayfs', Data: graphData },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: record.lastTagTime === undefined ? {} : { LastTagTime: record.lastTagTime },
  };
  if (config.variant !== undefined) inspect.Variant = config.variant;
  if (config['os.version'] !== undefined) inspect.OsVersion = config['os.version'];
  if (compareApiVersions(apiVersion, '1.44') < 0) inspect.VirtualSize = size;
  if (compareApiVersions(apiVersion, '1.45') < 0) {
    inspect.Container = '';
    inspect.ContainerConfig = null;
  }
  return inspect;
}

// Docker's Comment is the comment of the last history entry (set by commit/import).
function lastComment(config: ImageConfig): string {
  return config.history?.at(-1)?.comment ?? '';
}

/**
 * `GET /images/{name}/history`, newest first, as moby builds it: an entry per history item,
 * the non-empty ones sized by their layer. The newest entries carry the IDs and tags of the
 * image and then of its parents (`lineage`: the image, its parent, …, as the classic builder
 * linked them, one history entry a step); the rest say `<missing>`. A config without history
 * gets one entry per layer.
 */
export function imageHistory(
  details: ImageDetails,
  sizes: number[],
  lineage: readonly Pick<ImageRecord, 'id' | 'repoTags'>[] = [details.record],
): Record<string, unknown>[] {
  const { config } = details;
  const history =
    config.history ??
    config.rootfs.diff_ids.map(() => ({
      created: config.created,
      created_by: '',
      comment: '',
      empty_layer: false,
    }));
  const out: Record<string, unknown>[] = [];
  let layer = 0;
  for (const h of history) {
    let size = 0;
    if (!h.empty_layer) {
      if (layer >= sizes.length) {
        throw new SystemError('too many non-empty layers in History section');
      }
      size = sizes[layer] ?? 0;
      layer++;
    }
    const created = h.created === undefined ? NaN : Date.parse(h.created);
    out.unshift({
      Id: '<missing>',
      Created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
      CreatedBy: h.created_by ?? '',
      Tags: [],
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  for (const [i, image] of lineage.entries()) {
    const entry = out[i];
    if (!entry) break;
    entry.Id = image.id;
    entry.Tags = image.repoTags.map(familiar);
  }
  return out;
}

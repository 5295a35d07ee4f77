/**
 * The images a build makes, one per step. Layers come from the container a step ran in,
 * through `docker commit`'s own code (containers/commit.ts: upper dir → gzip layer → content
 * store + snapshot); the builder then writes the step's image with the exact config and
 * history entry the classic builder records, which commit's config (the container's, with
 * its command as created_by) does not give.
 */
import { hostPlatform } from '../images/platform.js';
import { storeImage } from '../images/store-image.js';
import { commitContainer, type CommitContainers } from '../containers/commit.js';
import type { Engine } from '../engine.js';
import { readImageConfig } from '../images/inspect.js';
import {
  type ContainerConfig,
  type Descriptor,
  type Digest,
  type HistoryEntry,
  type ImageConfig,
  manifestSchema,
} from '../images/oci.js';

/** An image as the builder carries it from step to step. */
export interface BuildImage {
  id: Digest;
  config: ImageConfig;
  layers: Descriptor[];
}

export async function loadImage(engine: Engine, id: Digest): Promise<BuildImage> {
  const config = await readImageConfig(engine.content, id);
  const record = await engine.images.get(id);
  let layers: Descriptor[] = [];
  if (record?.manifest) {
    layers = manifestSchema.parse(
      JSON.parse((await engine.content.read(record.manifest.digest)).toString('utf8')),
    ).layers;
  }
  return { id, config, layers };
}

/** Stores the step's image (an untagged record); returns it as the builder carries it. */
export async function storeBuildImage(
  engine: Engine,
  config: ImageConfig,
  layers: Descriptor[],
): Promise<BuildImage> {
  return { id: await storeImage(engine, config, layers), config, layers };
}

/** The image `FROM scratch` starts from: no layers, an empty config. */
export function scratchConfig(platform = hostPlatform()): ImageConfig {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/** A step that only changes the config: an `empty_layer` history entry, same layers. */
export function metadataImage(
  engine: Engine,
  parent: BuildImage,
  config: ContainerConfig,
  createdBy: string,
): Promise<BuildImage> {
  const created = new Date().toISOString();
  return storeBuildImage(
    engine,
    {
      ...parent.config,
      created,
      config,
      history: [
        ...(parent.config.history ?? []),
        { created, created_by: createdBy, empty_layer: true },
      ],
    },
    parent.layers,
  );
}

/**
 * Commits container `containerId` (made from `parent`) as the step's image: its changes become
 * a layer (none when empty), the config is `config` and the history entry says `createdBy`.
 */
export async function commitStep(
  engine: Engine,
  containers: CommitContainers,
  containerId: string,
  parent: BuildImage,
  config: ContainerConfig,
  createdBy: string,
): Promise<BuildImage> {
  const { Id: committedId } = await commitContainer(engine, containers, {
    container: containerId,
    pause: false,
    changes: [],
  });
  const committed = await loadImage(engine, committedId);
  const emptyLayer =
    committed.config.rootfs.diff_ids.length === parent.config.rootfs.diff_ids.length;
  const created = committed.config.created ?? new Date().toISOString();
  const entry: HistoryEntry = {
    created,
    created_by: createdBy,
    ...(emptyLayer ? { empty_layer: true } : {}),
  };
  const image = await storeBuildImage(
    engine,
    {
      ...parent.config,
      created,
      config,
      rootfs: committed.config.rootfs,
      history: [...(parent.config.history ?? []), entry],
    },
    committed.layers,
  );
  if (image.id !== committedId) await dropRecord(engine, committedId);
  return image;
}

/** Removes commit's interim record and its own config/manifest blobs (layers are shared). */
async function dropRecord(engine: Engine, id: Digest): Promise<void> {
  const record = await engine.images.get(id);
  if (!record || record.repoTags.length > 0) return;
  await engine.images.delete(id);
  await engine.content.delete(id).catch(() => undefined);
  if (record.manifest) await engine.content.delete(record.manifest.digest).catch(() => undefined);
}

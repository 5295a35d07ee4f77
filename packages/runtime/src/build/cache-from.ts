/**
 * `docker build --cache-from IMAGE`: images built elsewhere (pulled from a registry, loaded)
 * stand in for steps, matched as moby's classic image cache matches them — by history, since
 * such images carry no parent links and this daemon's step cache never saw them. A source fits
 * a step when the stage's image is a prefix of it (same history entries, same layers) and its
 * next history entry was created by the same instruction. When that entry is the source's last,
 * the source itself is the step's image (so a rebuild of an unchanged Dockerfile gives the very
 * image that was pulled); otherwise the step's image is made from the parent plus that entry and
 * its layer, whose snapshot the source already brought.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Engine } from '../engine.js';
import type { ContainerConfig, Descriptor, HistoryEntry } from '../images/oci.js';
import { type BuildImage, loadImage, storeBuildImage } from './images.js';

/** The fields moby compares; a missing empty_layer means false, as in its Go struct. */
function historyKey(h: HistoryEntry): unknown {
  return {
    created: h.created ?? '',
    created_by: h.created_by ?? '',
    author: h.author ?? '',
    comment: h.comment ?? '',
    empty_layer: h.empty_layer === true,
  };
}

/** moby's isValidParent: `parent` is where `target` was when it was one step shorter or more. */
function grewFrom(target: BuildImage, parent: BuildImage): boolean {
  const th = target.config.history ?? [];
  const ph = parent.config.history ?? [];
  const td = target.config.rootfs.diff_ids;
  const pd = parent.config.rootfs.diff_ids;
  if (th.length === 0) return false;
  if (ph.length === 0 && pd.length === 0) return true;
  if (ph.length >= th.length || pd.length > td.length) return false;
  return (
    ph.every((h, i) => isDeepStrictEqual(historyKey(h), historyKey(th[i] as HistoryEntry))) &&
    pd.every((d, i) => d === td[i])
  );
}

/** The layer history entry `index` of `image` added, or null for an empty-layer entry. */
function layerAt(
  image: BuildImage,
  index: number,
): { diffId: string; layer: Descriptor } | null | undefined {
  const history = image.config.history ?? [];
  if (history[index]?.empty_layer) return null;
  const layerIndex = history.slice(0, index).filter((h) => !h.empty_layer).length;
  const diffId = image.config.rootfs.diff_ids[layerIndex];
  const layer = image.layers[layerIndex];
  // A source whose history and layers disagree cannot be trusted for this step.
  return diffId && layer ? { diffId, layer } : undefined;
}

export class CacheFromSources {
  private constructor(
    private readonly engine: Engine,
    private sources: BuildImage[],
  ) {}

  /**
   * The images `refs` name; one that is not here is skipped with a warning (moby logs it and
   * builds on), never pulled.
   */
  static async resolve(
    engine: Engine,
    refs: readonly string[],
    warn: (text: string, ref: string) => void,
  ): Promise<CacheFromSources> {
    const sources: BuildImage[] = [];
    for (const ref of refs) {
      const record = await engine.images.lookup(ref).catch(() => undefined);
      if (!record) {
        warn(`Could not look up ${ref} for cache resolution, skipping: No such image: ${ref}`, ref);
        continue;
      }
      sources.push(await loadImage(engine, record.id));
    }
    return new CacheFromSources(engine, sources);
  }

  get empty(): boolean {
    return this.sources.length === 0;
  }

  /**
   * The image a source gives for the step `createdBy` on top of `parent`, whose config after
   * the step is `run`; undefined when no source fits.
   */
  async probe(
    parent: BuildImage,
    createdBy: string,
    run: ContainerConfig,
  ): Promise<BuildImage | undefined> {
    const index = parent.config.history?.length ?? 0;
    for (const target of this.sources) {
      if (!grewFrom(target, parent)) continue;
      const entry = (target.config.history ?? [])[index];
      if (entry?.created_by !== createdBy) continue;
      const layer = layerAt(target, index);
      if (layer === undefined) continue;
      // As moby: once a source served a step, the rest of the build follows only that one.
      this.sources = [target];
      if (index === (target.config.history ?? []).length - 1) return target;
      return storeBuildImage(
        this.engine,
        {
          ...parent.config,
          created: entry.created,
          config: run,
          rootfs: {
            type: 'layers',
            diff_ids: [...parent.config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])],
          },
          history: [...(parent.config.history ?? []), entry],
        },
        [...parent.layers, ...(layer ? [layer.layer] : [])],
      );
    }
    return undefined;
  }
}

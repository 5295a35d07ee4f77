/**
 * The image endpoints of the Engine API: pull, list, inspect, history, tag, remove, prune,
 * push, save and load. Streaming endpoints answer with a normal status until their first
 * progress line, and report later failures in-band, as moby does.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine } from '../../engine.js';
import {
  loadArchive,
  removeLoadLeftovers,
  resolveSaveNames,
  saveArchive,
} from '../../images/archive.js';
import {
  danglingFilter,
  deleteImage,
  type ImageParents,
  intermediateImages,
  labelsMatch,
  PRUNE_FILTER_KEYS,
  pruneImages,
} from '../../images/delete.js';
import { type ImageRecord, normalizeRef } from '../../images/image-store.js';
import {
  createdSeconds,
  familiar,
  type ImageDetails,
  imageDetails,
  imageHistory,
  imageInspect,
  imageLabels,
  imageSize,
  imageSummary,
  layerSizes,
} from '../../images/inspect.js';
import { type Digest, isDigest } from '../../images/oci.js';
import { parsePlatform } from '../../images/platform.js';
import { errorMessage, type ProgressMessage } from '../../images/progress.js';
import { pullImage } from '../../images/pull.js';
import { pushImage } from '../../images/push.js';
import {
  familiarName,
  familiarString,
  isValidTag,
  parseReference,
  withDefaultTag,
} from '../../images/reference.js';
import { decodeRegistryAuth } from '../../images/registry/auth.js';
import { decompressLayer } from '../../storage/decompress.js';
import { parseTimestamp } from '../../events/timestamp.js';
import { InvalidParameterError, NotFoundError, NotImplementedError } from '../errors.js';
import { checkFilterKeys, JsonStream, queryBool, queryFilters, sendJson } from '../http.js';
import type { RequestContext, Router } from '../router.js';

/** `parents` names the intermediate images (the builder's parent links). */
export function registerImageRoutes(router: Router, engine: Engine, parents?: ImageParents): void {
  void removeLoadLeftovers(loadTmp(engine)).catch((err: unknown) =>
    engine.logger.warn('cannot remove leftovers of interrupted loads', { error: String(err) }),
  );
  router
    .get('/images/json', (ctx) => listImages(engine, ctx, parents))
    .get('/images/get', (ctx) => saveImages(engine, ctx, ctx.query.getAll('names')))
    .get('/images/search', () => {
      throw new NotImplementedError('image search is not implemented');
    })
    .post('/images/create', (ctx) => createImage(engine, ctx))
    .post('/images/load', (ctx) => loadImages(engine, ctx))
    .post('/images/prune', async (ctx) => {
      const filters = queryFilters(ctx.query);
      checkFilterKeys(filters, PRUNE_FILTER_KEYS);
      const report = await pruneImages(engine, filters, parents);
      engine.events.emit('image', 'prune', '', { reclaimed: String(report.SpaceReclaimed) });
      sendJson(ctx.res, 200, report);
    })
    .get('/images/{name:.*}/json', (ctx) => inspectImage(engine, ctx))
    .get('/images/{name:.*}/history', (ctx) => historyImage(engine, ctx, parents))
    .get('/images/{name:.*}/get', (ctx) => saveImages(engine, ctx, [ctx.params.name ?? '']))
    .post('/images/{name:.*}/tag', (ctx) => tagImage(engine, ctx))
    .post('/images/{name:.*}/push', (ctx) => pushImageRoute(engine, ctx))
    .delete('/images/{name:.*}', async (ctx) => {
      const result = await deleteImage(engine, ctx.params.name ?? '', {
        force: queryBool(ctx.query, 'force'),
        parents,
        noPrune: queryBool(ctx.query, 'noprune'),
      });
      sendJson(ctx.res, 200, result.items);
    });
}

const loadTmp = (engine: Engine): string => join(engine.config.dataRoot, 'tmp');

/** The image `name` names, or Docker's 404. */
async function findImage(engine: Engine, name: string): Promise<ImageRecord> {
  const record = await engine.images.lookup(name);
  if (!record) throw new NotFoundError(`No such image: ${name}`);
  return record;
}

// --- pull / push -----------------------------------------------------------------------------

/** Aborts when the client goes away, so an abandoned pull stops downloading. */
function clientGone(ctx: RequestContext): AbortSignal {
  const controller = new AbortController();
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

function registryAuth(ctx: RequestContext) {
  const header = ctx.req.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(header) ? header[0] : header);
}

/**
 * Runs a progress-reporting operation on a JSON stream: a failure before the first line is a
 * normal error reply, after it an in-band error message the CLI prints.
 */
async function streamProgress(
  ctx: RequestContext,
  run: (emit: (msg: ProgressMessage) => void) => Promise<void>,
): Promise<void> {
  const stream = new JsonStream(ctx.res);
  try {
    await run((msg) => stream.write(msg));
  } catch (err) {
    if (!stream.headersSent) throw err;
    stream.write(errorMessage(err));
  }
  stream.end();
}

async function createImage(engine: Engine, ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  if (query.get('fromSrc') !== null) {
    throw new NotImplementedError('importing images (fromSrc) is not implemented');
  }
  const fromImage = query.get('fromImage') ?? '';
  if (fromImage === '') throw new InvalidParameterError('fromImage or fromSrc is required');
  const tag = query.get('tag') ?? '';
  let ref = parseReference(fromImage);
  if (tag !== '') {
    // The "tag" may be a digest (moby's postImagesCreate).
    if (isDigest(tag)) {
      ref = { ...ref, tag: undefined, digest: tag };
    } else {
      if (!isValidTag(tag)) throw new InvalidParameterError(`invalid tag format`);
      ref = { ...ref, tag, digest: undefined };
    }
  }
  ref = withDefaultTag(ref);
  const platformValue = query.get('platform') ?? '';
  const platform = platformValue === '' ? undefined : parsePlatform(platformValue);
  const auth = registryAuth(ctx);
  const signal = clientGone(ctx);
  await streamProgress(ctx, async (emit) => {
    const result = await pullImage({
      ref,
      platform,
      auth,
      registry: { insecureRegistries: engine.config.insecureRegistries },
      content: engine.content,
      snapshotter: engine.snapshots,
      imageStore: engine.images,
      onProgress: emit,
      signal,
    });
    engine.events.emit('image', 'pull', familiarString(ref), { name: familiarName(ref) });
    engine.logger.info('image pulled', { ref: familiarString(ref), id: result.record.id });
  });
}

async function pushImageRoute(engine: Engine, ctx: RequestContext): Promise<void> {
  const name = ctx.params.name ?? '';
  const tag = ctx.query.get('tag') ?? '';
  let ref = parseReference(name);
  if (tag !== '') {
    if (!isValidTag(tag)) throw new InvalidParameterError('invalid tag format');
    ref = { ...ref, tag };
  }
  ref = withDefaultTag(ref);
  const auth = registryAuth(ctx);
  const signal = clientGone(ctx);
  await streamProgress(ctx, async (emit) => {
    await pushImage({
      ref,
      auth,
      registry: { insecureRegistries: engine.config.insecureRegistries },
      content: engine.content,
      imageStore: engine.images,
      onProgress: emit,
      signal,
    });
    engine.events.emit('image', 'push', familiarString(ref), { name: familiarName(ref) });
  });
}

// --- list / inspect / history ----------------------------------------------------------------

const LIST_FILTER_KEYS = ['before', 'dangling', 'label', 'reference', 'since', 'until'] as const;

/** Go's path.Match: `*` and `?` stop at `/`, `[...]` classes, `\` escapes. */
function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern.charAt(++i)}`;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) throw new InvalidParameterError('syntax error in pattern');
      let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** reference.FamiliarMatch: the familiar string ("busybox:latest"), then the name ("busybox"). */
function referenceMatches(patterns: RegExp[], ref: string): boolean {
  const full = familiar(ref);
  const nameOnly = familiarName(parseReference(ref));
  return patterns.some((p) => p.test(full) || p.test(nameOnly));
}

async function listImages(
  engine: Engine,
  ctx: RequestContext,
  parents: ImageParents | undefined,
): Promise<void> {
  const filters = queryFilters(ctx.query);
  checkFilterKeys(filters, LIST_FILTER_KEYS);
  const dangling = danglingFilter(filters.get('dangling'));
  const patterns = (filters.get('reference') ?? []).map(globRegex);
  const createdOf = async (name: string): Promise<number> =>
    createdSeconds((await imageDetails(engine.content, await findImage(engine, name))).config);
  const before = filters.get('before')?.[0];
  const since = filters.get('since')?.[0];
  const beforeTime = before === undefined ? undefined : await createdOf(before);
  const sinceTime = since === undefined ? undefined : await createdOf(since);
  const untilValue = filters.get('until')?.[0];
  const until = untilValue === undefined ? undefined : parseTimestamp(untilValue);
  const hidden =
    parents && !queryBool(ctx.query, 'all') ? await intermediateImages(engine, parents) : undefined;

  const out: Record<string, unknown>[] = [];
  for (const record of await engine.images.list()) {
    if (hidden?.has(record.id)) continue;
    let details: ImageDetails;
    try {
      details = await imageDetails(engine.content, record);
    } catch {
      continue; // a record whose config vanished: repair() drops it at the next start
    }
    const created = createdSeconds(details.config);
    if (beforeTime !== undefined && created >= beforeTime) continue;
    if (sinceTime !== undefined && created <= sinceTime) continue;
    if (until !== undefined && BigInt(created) * 1_000_000_000n >= until) continue;
    if (!labelsMatch(imageLabels(details.config), filters.get('label') ?? [])) continue;
    if (dangling === true && record.repoTags.length > 0) continue;
    if (dangling === false && record.repoTags.length + record.repoDigests.length === 0) continue;
    let shown = record;
    if (patterns.length > 0) {
      shown = {
        ...record,
        repoTags: record.repoTags.filter((r) => referenceMatches(patterns, r)),
        repoDigests: record.repoDigests.filter((r) => referenceMatches(patterns, r)),
      };
      if (shown.repoTags.length + shown.repoDigests.length === 0) continue;
    }
    const size = await imageSize(engine.snapshots, details);
    out.push(imageSummary({ ...details, record: shown }, size, ctx.apiVersion));
  }
  out.sort((a, b) => (b.Created as number) - (a.Created as number));
  sendJson(ctx.res, 200, out);
}

async function inspectImage(engine: Engine, ctx: RequestContext): Promise<void> {
  const details = await imageDetails(
    engine.content,
    await findImage(engine, ctx.params.name ?? ''),
  );
  const size = await imageSize(engine.snapshots, details);
  const top = details.chainIds.at(-1);
  const dirs = top === undefined ? [] : await engine.snapshots.lowerDirs(top).catch(() => []);
  sendJson(ctx.res, 200, imageInspect(details, size, dirs, ctx.apiVersion));
}

async function historyImage(
  engine: Engine,
  ctx: RequestContext,
  parents: ImageParents | undefined,
): Promise<void> {
  const record = await findImage(engine, ctx.params.name ?? '');
  const details = await imageDetails(engine.content, record);
  const sizes = await layerSizes(engine.snapshots, details);
  sendJson(ctx.res, 200, imageHistory(details, sizes, await lineage(engine, record, parents)));
}

/** The image, its parent, its parent's parent… while they are still stored (moby's walk). */
async function lineage(
  engine: Engine,
  record: ImageRecord,
  parents: ImageParents | undefined,
): Promise<ImageRecord[]> {
  const links = parents ? await parents.parentLinks() : new Map<Digest, Digest>();
  const out = [record];
  for (let id = links.get(record.id); id !== undefined && out.length <= links.size;) {
    const parent = await engine.images.lookup(id);
    if (!parent) break;
    out.push(parent);
    id = links.get(parent.id);
  }
  return out;
}

// --- tag -------------------------------------------------------------------------------------

async function tagImage(engine: Engine, ctx: RequestContext): Promise<void> {
  const record = await findImage(engine, ctx.params.name ?? '');
  const repo = ctx.query.get('repo') ?? '';
  const tag = ctx.query.get('tag') ?? '';
  if (repo === '') throw new InvalidParameterError('repository name cannot be empty');
  const ref = parseReference(repo);
  if (ref.digest !== undefined) {
    throw new InvalidParameterError('refusing to create a tag with a digest reference');
  }
  if (familiarName(ref) === 'sha256') {
    throw new InvalidParameterError(
      'refusing to create an ambiguous tag using digest algorithm as name',
    );
  }
  if (tag !== '' && !isValidTag(tag)) throw new InvalidParameterError('invalid tag format');
  const tagged = withDefaultTag(tag === '' ? ref : { ...ref, tag });
  const normalized = normalizeRef(familiarString(tagged));
  await engine.images.tag(record.id, normalized);
  engine.events.emit('image', 'tag', record.id, { name: familiarString(tagged) });
  ctx.res.writeHead(201);
  ctx.res.end();
}

// --- save / load -----------------------------------------------------------------------------

async function saveImages(engine: Engine, ctx: RequestContext, names: string[]): Promise<void> {
  if (names.length === 0) throw new InvalidParameterError('no images specified');
  const entries = await resolveSaveNames(engine.images, names);
  const pack = await saveArchive(engine, entries);
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await pipeline(pack as unknown as Readable, ctx.res);
  } catch (err) {
    engine.logger.warn('image save failed', { error: (err as Error).message });
    ctx.res.destroy();
    return;
  }
  for (const { record } of entries) {
    engine.events.emit('image', 'save', record.id, { name: record.id });
  }
}

async function loadImages(engine: Engine, ctx: RequestContext): Promise<void> {
  const stream = new JsonStream(ctx.res);
  stream.start();
  try {
    const input = await decompressLayer(ctx.req);
    const result = await loadArchive(engine, input, loadTmp(engine));
    for (const message of result.messages) stream.write({ stream: message });
    for (const image of result.images) {
      engine.events.emit('image', 'load', image.id, { name: image.id });
    }
  } catch (err) {
    // Drain what the client still sends, so it sees our answer instead of a reset.
    ctx.req.resume();
    stream.write(errorMessage(err));
  }
  stream.end();
}

/**
 * `POST /build` — the classic builder's endpoint (what `DOCKER_BUILDKIT=0 docker build` and
 * docker-compose v1 send): the body is the build context as a tar, the options are query
 * parameters, the answer a JSON stream of `{"stream": …}` lines, an `{"aux": {"ID": …}}`
 * and, on failure, an `{"errorDetail": …}` line. `POST /build/prune` drops the build cache
 * and the intermediate images only it kept.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { BuildCache } from '../../build/cache.js';
import { applyDockerignore, readDockerfile, unpackContext } from '../../build/context.js';
import {
  BuildError,
  type BuildContainers,
  type BuildMessage,
  runBuild,
} from '../../build/builder.js';
import type { Engine } from '../../engine.js';
import { deleteImage } from '../../images/delete.js';
import { normalizeRef } from '../../images/image-store.js';
import { parsePlatform } from '../../images/platform.js';
import {
  decodeRegistryAuth,
  encodeRegistryAuth,
  type RegistryAuth,
  registryAuthSchema,
} from '../../images/registry/auth.js';
import { InvalidParameterError, NotImplementedError } from '../errors.js';
import { JsonStream, queryBool, sendJson } from '../http.js';
import type { RequestContext, Router } from '../router.js';

const stringMapSchema = z.record(z.string(), z.string().nullable());

/** A query parameter holding JSON of `schema` (`buildargs`, `labels`, `cachefrom`). */
function jsonParam<T>(query: URLSearchParams, name: string, schema: z.ZodType<T>, empty: T): T {
  const raw = query.get(name);
  if (!raw) return empty;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid ${name} parameter: not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidParameterError(`invalid ${name} parameter`);
  return parsed.data;
}

const jsonQuery = (query: URLSearchParams, name: string) =>
  jsonParam(query, name, stringMapSchema, {});

/** `X-Registry-Config`: base64 JSON of registry → AuthConfig. */
function registryConfig(header: string | string[] | undefined): Record<string, RegistryAuth> {
  const raw = Array.isArray(header) ? header[0] : header;
  if (!raw) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Config header');
  }
  const parsed = z.record(z.string(), registryAuthSchema).safeParse(value);
  if (!parsed.success) throw new InvalidParameterError('invalid X-Registry-Config header');
  const out: Record<string, RegistryAuth> = {};
  for (const [host, auth] of Object.entries(parsed.data)) {
    const decoded = decodeRegistryAuth(encodeRegistryAuth(auth));
    const name = host.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (decoded) out[name === 'index.docker.io' ? 'docker.io' : name] = decoded;
  }
  return out;
}

/** The message the CLI prints for a failed build; `code` becomes its exit status. */
function failure(err: unknown): BuildMessage {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof BuildError ? err.code : undefined;
  return { errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message };
}

export function registerBuildRoutes(
  router: Router,
  engine: Engine,
  containers: BuildContainers,
  cache: BuildCache,
): void {
  const tmpRoot = join(engine.config.dataRoot, 'build-tmp');
  // Contexts of builds cut off by a crash (before any build of this daemon can start).
  rmSync(tmpRoot, { recursive: true, force: true });
  const log = engine.logger.child({ component: 'build' });

  router.post('/build', (ctx) => build(ctx));
  router.post('/build/prune', async ({ res, query }) => {
    const all = queryBool(query, 'all');
    const links = await cache.parentLinks();
    let reclaimed = 0;
    const deleted: string[] = [];
    for (const id of [...links.keys()].reverse()) {
      const record = await engine.images.get(id);
      if (!record || record.repoTags.length > 0) continue;
      try {
        const r = await deleteImage(engine, id);
        reclaimed += r.reclaimed;
        deleted.push(id);
      } catch {
        // in use by a container, or a parent of a tagged image: kept
      }
    }
    await cache.retain(async (id) => (await engine.images.get(id)) !== undefined);
    if (all) await cache.clear();
    sendJson(res, 200, { CachesDeleted: deleted, SpaceReclaimed: reclaimed });
  });

  async function build(ctx: RequestContext): Promise<void> {
    const { req, res, query } = ctx;
    if (query.get('remote')) {
      throw new NotImplementedError('building from a remote context (git or URL) is not supported');
    }
    if (query.get('version') === '2') {
      throw new NotImplementedError('BuildKit is not supported by berthd: use DOCKER_BUILDKIT=0');
    }
    const tags = query
      .getAll('t')
      .filter((t) => t !== '')
      .map((t) => normalizeRef(t));
    const buildArgs = new Map(
      Object.entries(jsonQuery(query, 'buildargs')).map(([k, v]) => [k, v ?? undefined]),
    );
    const labels = Object.fromEntries(
      Object.entries(jsonQuery(query, 'labels')).map(([k, v]) => [k, v ?? '']),
    );
    const platformValue = query.get('platform') ?? '';
    const auths = registryConfig(req.headers['x-registry-config']);

    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const dir = join(tmpRoot, randomBytes(8).toString('hex'));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stream = new JsonStream(res);
    try {
      await unpackContext(req, dir);
      const context = await readDockerfile(dir, query.get('dockerfile') || 'Dockerfile');
      await applyDockerignore(dir);
      const { id } = await runBuild(
        { engine, containers, cache },
        {
          contextDir: dir,
          dockerfile: context.dockerfile,
          tags,
          target: query.get('target') || undefined,
          buildArgs,
          labels,
          noCache: queryBool(query, 'nocache'),
          cacheFrom: jsonParam(query, 'cachefrom', z.array(z.string()), []),
          pull: queryBool(query, 'pull'),
          remove: queryBool(query, 'rm', true),
          forceRemove: queryBool(query, 'forcerm'),
          quiet: queryBool(query, 'q'),
          platform: platformValue ? parsePlatform(platformValue) : undefined,
          networkMode: query.get('networkmode') || 'default',
          auths,
          output: (msg) => stream.write(msg),
          signal: controller.signal,
        },
      );
      log.info('image built', { id, tags });
    } catch (err) {
      if (!stream.headersSent) throw err;
      log.info('build failed', { err });
      stream.write(failure(err));
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    stream.end();
  }
}

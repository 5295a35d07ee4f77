/**
 * The endpoints over a container's files: the archive API of `docker cp` (HEAD/GET/PUT
 * /containers/{id}/archive), `docker diff` (/changes), `docker export` and `docker commit`.
 * Each works on stopped containers too (their rootfs is mounted for the operation).
 */
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { containerChanges } from '../../containers/changes.js';
import { commitContainer } from '../../containers/commit.js';
import {
  archivePath,
  encodePathStat,
  extractToPath,
  PATH_STAT_HEADER,
  statPath,
} from '../../containers/copy.js';
import { exportContainer } from '../../containers/export.js';
import { withRootfs } from '../../containers/rootfs-access.js';
import type { ContainerService, ContainerView } from '../../containers/service.js';
import type { Engine } from '../../engine.js';
import { decompressLayer } from '../../storage/decompress.js';
import { InvalidParameterError } from '../errors.js';
import { queryBool, readJson, sendEmpty, sendJson } from '../http.js';
import type { Router } from '../router.js';

const commitBodySchema = z.looseObject({}).nullable();

export function registerContainerFileRoutes(
  router: Router,
  engine: Engine,
  containers: ContainerService,
): void {
  const dataRoot = engine.config.dataRoot;
  const log = engine.logger.child({ component: 'container-files' });
  const isRunning = (id: string) => () => containers.get(id).running;
  const emit = (view: ContainerView, action: string) =>
    engine.events.emit('container', action, view.id, {
      ...(view.record.Config.Labels ?? {}),
      image: view.record.Config.Image ?? view.record.Image,
      name: view.name.replace(/^\//, ''),
    });
  const pathParam = (query: URLSearchParams): string => {
    const path = query.get('path');
    if (!path) throw new InvalidParameterError('Path cannot be empty');
    return path;
  };

  router.head('/containers/{id}/archive', async ({ res, params, query }) => {
    const name = params.id ?? '';
    const path = pathParam(query);
    const view = containers.get(name);
    const stat = await withRootfs(view, dataRoot, isRunning(view.id), (root) =>
      statPath(root, path, name),
    );
    res.writeHead(200, {
      [PATH_STAT_HEADER]: encodePathStat(stat),
      'Content-Type': 'application/json',
    });
    res.end();
  });

  router.get('/containers/{id}/archive', async ({ res, params, query }) => {
    const name = params.id ?? '';
    const path = pathParam(query);
    const view = containers.get(name);
    await withRootfs(view, dataRoot, isRunning(view.id), async (root) => {
      const { stat, tar } = await archivePath(root, path, name);
      res.writeHead(200, {
        [PATH_STAT_HEADER]: encodePathStat(stat),
        'Content-Type': 'application/x-tar',
      });
      emit(view, 'archive-path');
      await pipeline(tar, res).catch((err: unknown) => {
        log.warn('archive stream ended early', { id: view.id, path, err });
        res.destroy();
      });
    });
  });

  router.put('/containers/{id}/archive', async ({ req, res, params, query }) => {
    const name = params.id ?? '';
    const path = pathParam(query);
    const view = containers.get(name);
    const readonly =
      (view.record.HostConfig as { ReadonlyRootfs?: boolean }).ReadonlyRootfs ?? false;
    await withRootfs(view, dataRoot, isRunning(view.id), async (root) =>
      extractToPath(root, path, name, await decompressLayer(req), {
        noOverwriteDirNonDir: queryBool(query, 'noOverwriteDirNonDir'),
        copyUIDGID: queryBool(query, 'copyUIDGID'),
        readonlyRootfs: readonly,
        spoolDir: view.bundle,
      }),
    );
    emit(view, 'extract-to-dir');
    sendEmpty(res, 200);
  });

  router.get('/containers/{id}/changes', async ({ res, params }) => {
    const view = containers.get(params.id ?? '');
    sendJson(res, 200, await containerChanges(view, containers));
  });

  router.get('/containers/{id}/export', async ({ res, params }) => {
    const view = containers.get(params.id ?? '');
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    emit(view, 'export');
    await exportContainer(view, dataRoot, isRunning(view.id), res).catch((err: unknown) => {
      log.warn('export stream ended early', { id: view.id, err });
      res.destroy();
    });
  });

  router.post('/commit', async ({ req, res, query }) => {
    const body = await readJson(req, commitBodySchema, { allowEmpty: true });
    const opt = (k: string) => query.get(k) ?? undefined;
    const result = await commitContainer(engine, containers, {
      container: query.get('container') ?? '',
      repo: opt('repo'),
      tag: opt('tag'),
      comment: opt('comment'),
      author: opt('author'),
      pause: queryBool(query, 'pause', true),
      changes: query.getAll('changes'),
      config: body,
    });
    sendJson(res, 201, result);
  });
}

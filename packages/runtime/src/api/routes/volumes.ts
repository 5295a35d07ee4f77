/**
 * The volume endpoints of the Engine API: list, create, inspect, remove and prune, over the
 * local volume store. Errors and filters follow moby's volume router.
 */
import { z } from 'zod';
import type { Engine } from '../../engine.js';
import { danglingFilter, labelsMatch } from '../../images/delete.js';
import type { LocalVolumeService } from '../../volumes/service.js';
import { type ApiVolume, isAnonymous, type VolumeRecord } from '../../volumes/store.js';
import { InvalidParameterError } from '../errors.js';
import {
  checkFilterKeys,
  queryBool,
  queryFilters,
  readJson,
  sendEmpty,
  sendJson,
} from '../http.js';
import type { Router } from '../router.js';
import { compareApiVersions } from '../server.js';

const CreateBody = z.looseObject({
  Name: z.string().optional().nullable(),
  Driver: z.string().optional().nullable(),
  DriverOpts: z.record(z.string(), z.string()).optional().nullable(),
  Labels: z.record(z.string(), z.string()).optional().nullable(),
});

const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'] as const;
const PRUNE_FILTERS = ['label', 'label!', 'all'] as const;

/** `name` filters are regular expressions in moby (filters.Match); a bad one matches literally. */
function nameMatches(name: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

function listFilter(filters: Map<string, string[]>): (v: VolumeRecord) => boolean {
  checkFilterKeys(filters, LIST_FILTERS);
  const dangling = danglingFilter(filters.get('dangling'));
  const drivers = filters.get('driver') ?? [];
  const labels = filters.get('label') ?? [];
  const names = filters.get('name') ?? [];
  return (v) =>
    (dangling === undefined || (v.refs.length === 0) === dangling) &&
    (drivers.length === 0 || drivers.includes(v.driver)) &&
    labelsMatch(v.labels ?? {}, labels) &&
    (names.length === 0 || names.some((n) => nameMatches(v.name, n)));
}

function pruneFilter(
  filters: Map<string, string[]>,
  apiVersion: string,
): (v: VolumeRecord) => boolean {
  const modern = compareApiVersions(apiVersion, '1.42') >= 0;
  if (!modern && filters.has('all')) throw new InvalidParameterError(`invalid filter 'all'`);
  checkFilterKeys(filters, PRUNE_FILTERS);
  // API < 1.42 pruned every unused volume; since 1.42 only anonymous ones unless all=true.
  let all = !modern;
  const allValues = filters.get('all') ?? [];
  if (allValues.length > 0) {
    const v = (allValues[0] ?? '').toLowerCase();
    if (['true', '1'].includes(v)) all = true;
    else if (!['false', '0'].includes(v)) {
      throw new InvalidParameterError(`invalid filter 'all=${allValues[0] ?? ''}'`);
    }
  }
  const labels = filters.get('label') ?? [];
  const notLabels = filters.get('label!') ?? [];
  return (v) => {
    const l = v.labels ?? {};
    return (
      (all || isAnonymous(v)) &&
      labelsMatch(l, labels) &&
      (notLabels.length === 0 || !notLabels.some((n) => labelsMatch(l, [n])))
    );
  };
}

/** Every volume with UsageData, for `GET /system/df` (`docker system df -v`). */
export async function volumesDiskUsage(volumes: LocalVolumeService): Promise<ApiVolume[]> {
  return Promise.all(volumes.store.list().map((v) => volumes.store.toApi(v, true)));
}

export function registerVolumeRoutes(
  router: Router,
  engine: Pick<Engine, 'events'>,
  volumes: LocalVolumeService,
): void {
  const store = volumes.store;
  router
    .get('/volumes', async ({ res, query }) => {
      const wanted = listFilter(queryFilters(query));
      const list = await Promise.all(
        store
          .list()
          .filter(wanted)
          .map((v) => store.toApi(v)),
      );
      sendJson(res, 200, { Volumes: list, Warnings: [] });
    })
    .post('/volumes/create', async ({ req, res }) => {
      const body = await readJson(req, CreateBody);
      const v = await store.create({
        ...(body.Name ? { name: body.Name } : {}),
        ...(body.Driver ? { driver: body.Driver } : {}),
        driverOpts: body.DriverOpts ?? null,
        labels: body.Labels ?? null,
      });
      sendJson(res, 201, await store.toApi(v));
    })
    .post('/volumes/prune', async ({ res, query, apiVersion }) => {
      const wanted = pruneFilter(queryFilters(query), apiVersion);
      const { names, reclaimed } = await store.prune(wanted);
      engine.events.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
      sendJson(res, 200, {
        VolumesDeleted: names.length > 0 ? names : null,
        SpaceReclaimed: reclaimed,
      });
    })
    .get('/volumes/{name}', async ({ res, params }) => {
      sendJson(res, 200, await store.toApi(store.mustGet(params.name ?? '')));
    })
    .delete('/volumes/{name}', async ({ res, params, query }) => {
      await store.remove(params.name ?? '', { force: queryBool(query, 'force') });
      sendEmpty(res, 204);
    });
}

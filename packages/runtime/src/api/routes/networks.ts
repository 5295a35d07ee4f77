/**
 * The network endpoints of the Engine API: list (with moby's filters), inspect, create,
 * remove, connect, disconnect and prune. The work is done by the NetworkManager.
 */
import { z } from 'zod';
import type { Engine } from '../../engine.js';
import { parseTimestamp } from '../../events/timestamp.js';
import { danglingFilter, labelsMatch } from '../../images/delete.js';
import type { NetworkManager } from '../../networks/manager.js';
import type { NetworkRecord } from '../../networks/store.js';
import { InvalidParameterError } from '../errors.js';
import { checkFilterKeys, queryFilters, readJson, sendEmpty, sendJson } from '../http.js';
import type { Router } from '../router.js';

const LIST_FILTER_KEYS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'] as const;
const PRUNE_FILTER_KEYS = ['label', 'label!', 'until'] as const;

const stringMap = z.record(z.string(), z.string()).nullish();

const createSchema = z.looseObject({
  Name: z.string(),
  CheckDuplicate: z.boolean().nullish(),
  Driver: z.string().nullish(),
  Scope: z.string().nullish(),
  Internal: z.boolean().nullish(),
  Attachable: z.boolean().nullish(),
  Ingress: z.boolean().nullish(),
  EnableIPv6: z.boolean().nullish(),
  IPAM: z
    .looseObject({
      Driver: z.string().nullish(),
      Config: z
        .array(
          z.looseObject({
            Subnet: z.string().nullish(),
            IPRange: z.string().nullish(),
            Gateway: z.string().nullish(),
          }),
        )
        .nullish(),
      Options: stringMap,
    })
    .nullish(),
  Options: stringMap,
  Labels: stringMap,
});

const endpointConfigSchema = z
  .looseObject({
    Aliases: z.array(z.string()).nullish(),
    IPAMConfig: z.looseObject({ IPv4Address: z.string().nullish() }).nullish(),
  })
  .nullish();

const connectSchema = z.looseObject({
  Container: z.string(),
  EndpointConfig: endpointConfigSchema,
});
const disconnectSchema = z.looseObject({ Container: z.string(), Force: z.boolean().nullish() });

const orUndefined = <T>(v: T | null | undefined): T | undefined => v ?? undefined;

export function registerNetworkRoutes(
  router: Router,
  engine: Engine,
  networks: NetworkManager,
): void {
  router
    .get('/networks', async (ctx) => {
      const filters = queryFilters(ctx.query);
      checkFilterKeys(filters, LIST_FILTER_KEYS);
      const keep = listFilter(filters, networks);
      const all = (await networks.listNetworks()).filter(keep);
      sendJson(
        ctx.res,
        200,
        all.map((n) => networks.inspect(n)),
      );
    })
    .post('/networks/create', async (ctx) => {
      const body = await readJson(ctx.req, createSchema);
      if (body.EnableIPv6) throw new InvalidParameterError('IPv6 networks are not supported');
      const configs = body.IPAM?.Config ?? [];
      const rec = await networks.createNetwork({
        Name: body.Name,
        Driver: orUndefined(body.Driver),
        Internal: orUndefined(body.Internal),
        Attachable: orUndefined(body.Attachable),
        IPAM: {
          Driver: orUndefined(body.IPAM?.Driver),
          Options: orUndefined(body.IPAM?.Options),
          Config: configs.map((c) => ({
            Subnet: orUndefined(c.Subnet),
            IPRange: orUndefined(c.IPRange),
            Gateway: orUndefined(c.Gateway),
          })),
        },
        Options: orUndefined(body.Options),
        Labels: orUndefined(body.Labels),
      });
      sendJson(ctx.res, 201, { Id: rec.Id, Warning: '' });
    })
    .post('/networks/prune', async (ctx) => {
      const filters = queryFilters(ctx.query);
      checkFilterKeys(filters, PRUNE_FILTER_KEYS);
      const until = parseTimestamp(filters.get('until')?.[0] ?? null);
      const withLabels = filters.get('label') ?? [];
      const withoutLabels = filters.get('label!') ?? [];
      const removed = await networks.pruneNetworks(
        (n) =>
          (until === undefined || BigInt(Date.parse(n.Created)) * 1_000_000n < until) &&
          labelsMatch(n.Labels, withLabels) &&
          (withoutLabels.length === 0 || !withoutLabels.some((l) => labelsMatch(n.Labels, [l]))),
      );
      engine.events.emit('network', 'prune', '', {});
      sendJson(ctx.res, 200, { NetworksDeleted: removed });
    })
    .get('/networks/{id}', async (ctx) => {
      const net = await networks.getNetwork(ctx.params.id ?? '');
      sendJson(ctx.res, 200, networks.inspect(net));
    })
    .delete('/networks/{id}', async (ctx) => {
      await networks.removeNetwork(ctx.params.id ?? '');
      sendEmpty(ctx.res, 204);
    })
    .post('/networks/{id}/connect', async (ctx) => {
      const body = await readJson(ctx.req, connectSchema);
      const ep = body.EndpointConfig;
      const ip = ep?.IPAMConfig?.IPv4Address;
      await networks.connect(ctx.params.id ?? '', body.Container, {
        Aliases: ep?.Aliases ?? null,
        IPAMConfig: ip ? { IPv4Address: ip } : null,
      });
      sendEmpty(ctx.res, 200);
    })
    .post('/networks/{id}/disconnect', async (ctx) => {
      const body = await readJson(ctx.req, disconnectSchema);
      await networks.disconnect(ctx.params.id ?? '', body.Container, body.Force ?? false);
      sendEmpty(ctx.res, 200);
    });
}

/** moby's network list filters: name and id match as substrings, the others exactly. */
function listFilter(
  filters: Map<string, string[]>,
  networks: NetworkManager,
): (n: NetworkRecord) => boolean {
  const dangling = danglingFilter(filters.get('dangling'));
  const types = filters.get('type') ?? [];
  for (const t of types) {
    if (t !== 'custom' && t !== 'builtin')
      throw new InvalidParameterError(`invalid filter: 'type'='${t}'`);
  }
  const any = (key: string, test: (v: string) => boolean) => {
    const values = filters.get(key);
    return !values || values.length === 0 || values.some(test);
  };
  return (n) =>
    any('name', (v) => n.Name.includes(v)) &&
    any('id', (v) => n.Id.includes(v)) &&
    any('driver', (v) => n.Driver === v) &&
    any('scope', (v) => v === 'local') &&
    any('type', (v) => (v === 'builtin') === n.builtin) &&
    labelsMatch(n.Labels, filters.get('label') ?? []) &&
    (dangling === undefined || dangling === (!n.builtin && !networks.hasActiveEndpoints(n.Id)));
}

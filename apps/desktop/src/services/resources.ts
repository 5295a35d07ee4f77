/** Volumes and networks: lists with the containers that use each, remove, prune, inspect. */
import type { EngineClient } from '@berth/engine-client';
import type { Handlers } from '../shared/contract.js';
import {
  containerUsesSchema,
  dfVolumesSchema,
  networkListSchema,
  volumeListSchema,
  volumePruneSchema,
} from './engine-schemas.js';

const enc = encodeURIComponent;

/** Container names by the volumes (names) and networks (ids) they use. */
async function usage(client: EngineClient) {
  const list = await client.request({
    method: 'GET',
    path: '/containers/json',
    query: { all: true },
    schema: containerUsesSchema,
  });
  const volumes = new Map<string, string[]>();
  const networks = new Map<string, string[]>();
  for (const c of list) {
    const name = (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
    for (const m of c.Mounts ?? []) {
      if (m.Type === 'volume' && m.Name)
        volumes.set(m.Name, [...(volumes.get(m.Name) ?? []), name]);
    }
    for (const n of Object.values(c.NetworkSettings?.Networks ?? {})) {
      if (n.NetworkID) networks.set(n.NetworkID, [...(networks.get(n.NetworkID) ?? []), name]);
    }
  }
  return { volumes, networks };
}

type ResourceMethod =
  | 'volumes.list'
  | 'volumes.remove'
  | 'volumes.prune'
  | 'networks.list'
  | 'networks.inspect'
  | 'networks.remove';

export function resourceHandlers(client: EngineClient): Pick<Handlers, ResourceMethod> {
  return {
    'volumes.list': async () => {
      const [list, df, uses] = await Promise.all([
        client.request({ method: 'GET', path: '/volumes', schema: volumeListSchema }),
        client
          .request({
            method: 'GET',
            path: '/system/df',
            query: { type: 'volume' },
            schema: dfVolumesSchema,
          })
          .catch(() => ({ Volumes: [] })),
        usage(client),
      ]);
      const sizes = new Map((df.Volumes ?? []).map((v) => [v.Name, v.UsageData?.Size ?? -1]));
      return (list.Volumes ?? []).map((v) => ({
        name: v.Name,
        driver: v.Driver,
        mountpoint: v.Mountpoint,
        created: v.CreatedAt,
        size: sizes.get(v.Name) ?? v.UsageData?.Size ?? -1,
        usedBy: uses.volumes.get(v.Name) ?? [],
        labels: v.Labels ?? {},
      }));
    },
    'volumes.remove': async ({ name, force }) => {
      await client.request({ method: 'DELETE', path: `/volumes/${enc(name)}`, query: { force } });
      return null;
    },
    'volumes.prune': async () => {
      const r = await client.request({
        method: 'POST',
        path: '/volumes/prune',
        query: { filters: { all: ['true'] } },
        schema: volumePruneSchema,
      });
      return { deleted: r.VolumesDeleted ?? [], spaceReclaimed: r.SpaceReclaimed ?? 0 };
    },

    'networks.list': async () => {
      const [list, uses] = await Promise.all([
        client.request({ method: 'GET', path: '/networks', schema: networkListSchema }),
        usage(client),
      ]);
      return list.map((n) => ({
        id: n.Id,
        name: n.Name,
        driver: n.Driver ?? '',
        scope: n.Scope ?? 'local',
        internal: n.Internal ?? false,
        subnets: (n.IPAM?.Config ?? []).flatMap((c) => (c.Subnet ? [c.Subnet] : [])),
        gateways: (n.IPAM?.Config ?? []).flatMap((c) => (c.Gateway ? [c.Gateway] : [])),
        containers: uses.networks.get(n.Id) ?? [],
        created: n.Created,
      }));
    },
    'networks.inspect': async ({ id }) => {
      const raw = await client.request({ method: 'GET', path: `/networks/${enc(id)}` });
      if (typeof raw !== 'object' || raw === null) throw new Error('the engine sent no network');
      return raw as Record<string, unknown>;
    },
    'networks.remove': async ({ id }) => {
      await client.request({ method: 'DELETE', path: `/networks/${enc(id)}` });
      return null;
    },
  };
}

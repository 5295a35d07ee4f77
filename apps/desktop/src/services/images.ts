/** Images: list (with their users), pull and push with progress, tag, remove, prune, history. */
import type { EngineClient } from '@berth/engine-client';
import type { Handlers } from '../shared/contract.js';
import {
  containerListSchema,
  imageDeleteSchema,
  imageHistoryListSchema,
  imageListSchema,
  imagePruneSchema,
  progressSchema,
} from './engine-schemas.js';
import type { Emit } from './session.js';

const enc = encodeURIComponent;

/** One progress line of a pull or push, in the contract's shape (`id` is the layer's). */
function progressLine(raw: unknown) {
  const m = progressSchema.safeParse(raw);
  if (!m.success || m.data.status === undefined) return undefined;
  const { id, status, progressDetail } = m.data;
  // Whole-image lines carry the tag or digest as id ("latest: Pulling from …").
  const isLayer = id !== undefined && /^[0-9a-f]{12}$/.test(id);
  return {
    layer: isLayer ? id : undefined,
    status: isLayer || id === undefined ? status : `${id}: ${status}`,
    current: progressDetail?.current,
    total: progressDetail?.total,
  };
}

/** Pulls `ref`, its progress as `images.pullProgress` events tagged `pullId`. */
export async function pullImage(
  client: EngineClient,
  emit: Emit,
  ref: string,
  pullId: string,
): Promise<void> {
  const messages = client.jsonStream({
    method: 'POST',
    path: '/images/create',
    query: { fromImage: ref },
  });
  for await (const raw of messages) {
    const line = progressLine(raw);
    if (line) emit('images.pullProgress', { pullId, ...line });
  }
}

async function pushImage(
  client: EngineClient,
  emit: Emit,
  ref: string,
  pushId: string,
): Promise<void> {
  // The docker CLI sends the tag separately; a ref without one pushes every tag.
  const at = ref.lastIndexOf(':');
  const hasTag = at > ref.lastIndexOf('/');
  const messages = client.jsonStream({
    method: 'POST',
    path: `/images/${enc(hasTag ? ref.slice(0, at) : ref)}/push`,
    query: { tag: hasTag ? ref.slice(at + 1) : undefined },
    // Anonymous: loopback and insecure registries need no credentials.
    headers: { 'X-Registry-Auth': Buffer.from('{}').toString('base64url') },
  });
  for await (const raw of messages) {
    const line = progressLine(raw);
    if (line) emit('images.pushProgress', { pushId, ...line });
  }
}

type ImageMethod =
  | 'images.list'
  | 'images.pull'
  | 'images.push'
  | 'images.remove'
  | 'images.tag'
  | 'images.prune'
  | 'images.history';

export function imageHandlers(client: EngineClient, emit: Emit): Pick<Handlers, ImageMethod> {
  return {
    'images.list': async () => {
      const [list, containers] = await Promise.all([
        client.request({ method: 'GET', path: '/images/json', schema: imageListSchema }),
        client.request({
          method: 'GET',
          path: '/containers/json',
          query: { all: true },
          schema: containerListSchema,
        }),
      ]);
      // /images/json says -1 unless asked for shared sizes; counting ourselves is cheaper.
      const users = new Map<string, number>();
      for (const c of containers)
        if (c.ImageID) users.set(c.ImageID, (users.get(c.ImageID) ?? 0) + 1);
      return list.map((i) => ({
        id: i.Id,
        repoTags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
        repoDigests: (i.RepoDigests ?? []).filter((d) => d !== '<none>@<none>'),
        size: i.Size,
        created: i.Created,
        containers:
          users.get(i.Id) ?? (i.Containers !== undefined && i.Containers >= 0 ? i.Containers : 0),
      }));
    },

    'images.pull': async ({ ref, pullId }) => {
      await pullImage(client, emit, ref, pullId);
      return { ref };
    },

    'images.remove': async ({ id, force }) => {
      const items = await client.request({
        method: 'DELETE',
        path: `/images/${enc(id)}`,
        query: { force },
        schema: imageDeleteSchema,
      });
      return {
        deleted: items.flatMap((i) => (i.Deleted ? [i.Deleted] : [])),
        untagged: items.flatMap((i) => (i.Untagged ? [i.Untagged] : [])),
      };
    },

    'images.tag': async ({ source, repo, tag }) => {
      await client.request({
        method: 'POST',
        path: `/images/${enc(source)}/tag`,
        query: { repo, tag: tag || undefined },
      });
      return null;
    },
    'images.push': async ({ ref, pushId }) => {
      await pushImage(client, emit, ref, pushId);
      return { ref };
    },
    'images.prune': async ({ all }) => {
      const r = await client.request({
        method: 'POST',
        path: '/images/prune',
        query: { filters: { dangling: [all ? 'false' : 'true'] } },
        schema: imagePruneSchema,
      });
      return {
        deleted: (r.ImagesDeleted ?? []).flatMap((i) => (i.Deleted ? [i.Deleted] : [])),
        spaceReclaimed: r.SpaceReclaimed ?? 0,
      };
    },
    'images.history': async ({ id }) => {
      const list = await client.request({
        method: 'GET',
        path: `/images/${enc(id)}/history`,
        schema: imageHistoryListSchema,
      });
      return list.map((h) => ({
        id: h.Id,
        created: h.Created,
        createdBy: h.CreatedBy ?? '',
        size: h.Size,
        tags: h.Tags ?? [],
        comment: h.Comment ?? '',
      }));
    },
  };
}

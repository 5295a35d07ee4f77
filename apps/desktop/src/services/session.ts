/**
 * BerthApi implemented against the engine, for one UI session (a window, or one dashboard
 * WebSocket): the session's streams (pulls, followed logs) send their events to it alone and
 * end with it; the engine's status and events reach every session through the monitor.
 */
import type { IncomingMessage } from 'node:http';
import { demultiplex, NotFoundError, type EngineClient } from '@berth/engine-client';
import type {
  ContainerDetail,
  ContainerState,
  EventName,
  EventPayload,
  Handlers,
  ParsedParams,
  Port,
} from '../shared/contract.js';
import { containerStateSchema } from '../shared/contract.js';
import { engineStatus, type EngineMonitor } from './engine-monitor.js';
import {
  containerInspectSchema,
  containerListSchema,
  createdSchema,
  imageDeleteSchema,
  imageListSchema,
  progressSchema,
} from './engine-schemas.js';

export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export interface Session {
  handlers: Handlers;
  /** Ends the session's streams and its monitor subscription. */
  close(): void;
}

function asState(s: string): ContainerState {
  const parsed = containerStateSchema.safeParse(s.toLowerCase());
  return parsed.success ? parsed.data : 'dead';
}

/** `{"80/tcp": [{HostPort: "8080"}]}` → ports, as `docker ps` lists them. */
function portsFromBindings(
  bindings:
    Record<string, { HostIp?: string; HostPort: string }[] | null | undefined> | null | undefined,
): Port[] {
  const ports: Port[] = [];
  for (const [key, hosts] of Object.entries(bindings ?? {})) {
    const [port = '0', type = 'tcp'] = key.split('/');
    if (!hosts?.length) ports.push({ privatePort: Number(port), type });
    for (const h of hosts ?? []) {
      ports.push({
        privatePort: Number(port),
        publicPort: Number(h.HostPort) || undefined,
        type,
        ip: h.HostIp || undefined,
      });
    }
  }
  return ports;
}

const enc = encodeURIComponent;

export function openSession(client: EngineClient, monitor: EngineMonitor, emit: Emit): Session {
  const streams = new Map<string, IncomingMessage>();
  const unsubscribe = monitor.subscribe({
    status: (s) => emit('engine.status', s),
    event: (e) => emit('engine.event', e),
  });

  async function pull(ref: string, pullId: string): Promise<void> {
    const messages = client.jsonStream({
      method: 'POST',
      path: '/images/create',
      query: { fromImage: ref },
    });
    for await (const raw of messages) {
      const m = progressSchema.safeParse(raw);
      if (!m.success || m.data.status === undefined) continue;
      const { id, status, progressDetail } = m.data;
      // Whole-image lines carry the tag or digest as id ("latest: Pulling from …").
      const isLayer = id !== undefined && /^[0-9a-f]{12}$/.test(id);
      emit('images.pullProgress', {
        pullId,
        layer: isLayer ? id : undefined,
        status: isLayer || id === undefined ? status : `${id}: ${status}`,
        current: progressDetail?.current,
        total: progressDetail?.total,
      });
    }
  }

  async function followLogs(p: ParsedParams<'logs.follow'>): Promise<void> {
    const detail = await handlers['containers.inspect']({ id: p.id });
    const res = await client.raw({
      method: 'GET',
      path: `/containers/${enc(p.id)}/logs`,
      query: {
        stdout: true,
        stderr: true,
        follow: true,
        tail: String(p.tail),
        timestamps: p.timestamps,
      },
    });
    streams.set(p.streamId, res);
    const pump = async () => {
      if (detail.tty) {
        for await (const chunk of res as AsyncIterable<Buffer>)
          emit('logs.chunk', {
            streamId: p.streamId,
            stream: 'stdout',
            text: chunk.toString('utf8'),
          });
      } else {
        for await (const f of demultiplex(res)) {
          const stream = f.stream === 'stderr' ? 'stderr' : 'stdout';
          emit('logs.chunk', { streamId: p.streamId, stream, text: f.data.toString('utf8') });
        }
      }
    };
    pump()
      .then(
        () => emit('logs.end', { streamId: p.streamId }),
        (e: unknown) =>
          emit('logs.end', {
            streamId: p.streamId,
            // Cancelling destroys the response; that is an ordinary end, not an error.
            error: streams.has(p.streamId) && e instanceof Error ? e.message : undefined,
          }),
      )
      .finally(() => streams.delete(p.streamId));
  }

  const post = async (path: string, query?: Record<string, string>) => {
    await client.request({ method: 'POST', path, query });
    return null;
  };

  const handlers: Handlers = {
    'engine.status': () => engineStatus(client),

    'images.list': async () => {
      const list = await client.request({
        method: 'GET',
        path: '/images/json',
        schema: imageListSchema,
      });
      return list.map((i) => ({
        id: i.Id,
        repoTags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
        repoDigests: (i.RepoDigests ?? []).filter((d) => d !== '<none>@<none>'),
        size: i.Size,
        created: i.Created,
        containers: i.Containers ?? -1,
      }));
    },

    'images.pull': async ({ ref, pullId }) => {
      await pull(ref, pullId);
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

    'containers.list': async () => {
      const list = await client.request({
        method: 'GET',
        path: '/containers/json',
        query: { all: true },
        schema: containerListSchema,
      });
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
        image: c.Image,
        command: c.Command ?? '',
        created: c.Created,
        state: asState(c.State),
        status: c.Status ?? c.State,
        ports: (c.Ports ?? []).map((p) => ({
          privatePort: p.PrivatePort,
          publicPort: p.PublicPort,
          type: p.Type,
          ip: p.IP,
        })),
        labels: c.Labels ?? {},
      }));
    },

    'containers.inspect': async ({ id }): Promise<ContainerDetail> => {
      const raw = await client.request({ method: 'GET', path: `/containers/${enc(id)}/json` });
      const c = containerInspectSchema.parse(raw);
      return {
        id: c.Id,
        name: c.Name.replace(/^\//, ''),
        image: c.Config.Image ?? c.Image,
        imageId: c.Image,
        created: c.Created,
        state: asState(c.State.Status),
        running: c.State.Running,
        exitCode: c.State.ExitCode,
        startedAt: c.State.StartedAt ?? '',
        finishedAt: c.State.FinishedAt ?? '',
        tty: c.Config.Tty ?? false,
        cmd: c.Config.Cmd ?? [],
        entrypoint: c.Config.Entrypoint ?? [],
        env: c.Config.Env ?? [],
        workingDir: c.Config.WorkingDir ?? '',
        ports: portsFromBindings(c.NetworkSettings?.Ports),
        ipAddress: c.NetworkSettings?.IPAddress ?? '',
        raw: c,
      };
    },

    'containers.start': ({ id }) => post(`/containers/${enc(id)}/start`),
    'containers.stop': ({ id }) => post(`/containers/${enc(id)}/stop`),
    'containers.restart': ({ id }) => post(`/containers/${enc(id)}/restart`),
    'containers.remove': async ({ id, force }) => {
      await client.request({ method: 'DELETE', path: `/containers/${enc(id)}`, query: { force } });
      return null;
    },

    'containers.run': async (req) => {
      const exposed: Record<string, object> = {};
      const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
      for (const p of req.ports) {
        const key = `${p.containerPort}/${p.protocol}`;
        exposed[key] = {};
        (bindings[key] ??= []).push({ HostIp: '', HostPort: p.hostPort ? String(p.hostPort) : '' });
      }
      const body = {
        Image: req.image,
        Env: req.env,
        ...(req.command.length ? { Cmd: req.command } : {}),
        ExposedPorts: exposed,
        HostConfig: { PortBindings: bindings },
      };
      const create = () =>
        client.request({
          method: 'POST',
          path: '/containers/create',
          query: { name: req.name || undefined },
          body,
          schema: createdSchema,
        });
      let created;
      try {
        created = await create();
      } catch (e) {
        // As `docker run` does: pull a missing image, then create again.
        if (!(e instanceof NotFoundError) || !/no such image/i.test(e.message)) throw e;
        await pull(req.image, `run-${Date.now()}`);
        created = await create();
      }
      await post(`/containers/${enc(created.Id)}/start`);
      return { id: created.Id };
    },

    'logs.follow': async (p) => {
      await followLogs(p);
      return null;
    },
    'logs.cancel': ({ streamId }) => {
      const res = streams.get(streamId);
      streams.delete(streamId);
      res?.destroy();
      return Promise.resolve(null);
    },
  };

  return {
    handlers,
    close() {
      unsubscribe();
      for (const res of streams.values()) res.destroy();
      streams.clear();
    },
  };
}

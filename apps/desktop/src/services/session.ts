/**
 * BerthApi implemented against the engine, for one UI session (a window, or one dashboard
 * WebSocket): the session's streams (pulls, followed logs) send their events to it alone and
 * end with it; the engine's status and events reach every session through the monitor.
 */
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
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
import type { EngineMonitor } from './engine-monitor.js';
import { tailFile } from './engine-log.js';
import {
  containerInspectSchema,
  containerListSchema,
  createdSchema,
  infoRootSchema,
} from './engine-schemas.js';
import type { SettingsStore } from './settings-store.js';
import { engineUsage, followStats, toSample } from './stats.js';
import { buildHandlers } from './build.js';
import { imageHandlers, pullImage } from './images.js';
import { resourceHandlers } from './resources.js';
import { Terminals } from './terminal.js';

export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

/** What Berth can do to the engine it manages (none for an engine it merely points at). */
export interface EngineControl {
  restart(): Promise<void>;
}

export interface SessionContext {
  settings: SettingsStore;
  engine?: EngineControl;
  /** The engine's log; by default `<DockerRootDir>/berthd.log` as /info reports it. */
  engineLogFile?: string;
  /** The last lines of the VM's console, where the engine runs in the Berth VM. */
  vmConsole?: (tail: number) => string[];
  /** The native folder picker (Electron); the dashboard has none. */
  pickFolder?: () => Promise<string | null>;
}

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

export function openSession(
  client: EngineClient,
  monitor: EngineMonitor,
  emit: Emit,
  ctx: SessionContext,
): Session {
  const streams = new Map<string, IncomingMessage>();
  const aborts = new Map<string, AbortController>();
  const terminals = new Terminals(client, {
    data: (termId, data) => emit('terminal.data', { termId, data }),
    exit: (termId, error) => emit('terminal.exit', { termId, error }),
  });
  const unsubscribe = monitor.subscribe({
    status: (s) => emit('engine.status', s),
    event: (e) => emit('engine.event', e),
  });

  function cancel(streamId: string): null {
    const res = streams.get(streamId);
    streams.delete(streamId);
    res?.destroy();
    const abort = aborts.get(streamId);
    aborts.delete(streamId);
    abort?.abort();
    return null;
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

  const post = async (path: string, query?: Record<string, string | undefined>) => {
    await client.request({ method: 'POST', path, query });
    return null;
  };

  const handlers: Handlers = {
    'engine.status': () => monitor.status(),

    ...imageHandlers(client, emit),

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

    'engine.usage': () => engineUsage(client),
    'engine.restart': async () => {
      if (!ctx.engine)
        throw new Error('This engine is not managed by Berth; restart it where it runs.');
      await ctx.engine.restart();
      return null;
    },

    'containers.start': ({ id }) => post(`/containers/${enc(id)}/start`),
    'containers.pause': ({ id }) => post(`/containers/${enc(id)}/pause`),
    'containers.unpause': ({ id }) => post(`/containers/${enc(id)}/unpause`),
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
        HostConfig: {
          PortBindings: bindings,
          Binds: req.volumes,
          RestartPolicy: { Name: req.restart === 'no' ? '' : req.restart },
        },
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
        await pullImage(client, emit, req.image, `run-${Date.now()}`);
        created = await create();
      }
      await post(`/containers/${enc(created.Id)}/start`);
      return { id: created.Id };
    },

    'logs.follow': async (p) => {
      await followLogs(p);
      return null;
    },
    'logs.cancel': ({ streamId }) => Promise.resolve(cancel(streamId)),
    'stream.cancel': ({ streamId }) => Promise.resolve(cancel(streamId)),

    'stats.follow': async ({ id, streamId }) => {
      const abort = new AbortController();
      aborts.set(streamId, abort);
      const end = (error?: string) => {
        const mine = aborts.get(streamId) === abort;
        if (mine) aborts.delete(streamId);
        // A cancelled stream ends quietly: the view that asked is gone.
        if (mine || !abort.signal.aborted) emit('stats.end', { streamId, error });
      };
      // The first reply (or refusal) is awaited so errors reach the caller.
      let first = true;
      await new Promise<void>((resolve, reject) => {
        followStats(client, id, abort.signal, (s) => {
          if (first) {
            first = false;
            resolve();
          }
          emit('stats.sample', toSample(streamId, s));
        }).then(
          () => {
            resolve();
            end();
          },
          (e: unknown) => {
            const message = e instanceof Error ? e.message : String(e);
            if (first) reject(e instanceof Error ? e : new Error(message));
            end(abort.signal.aborted ? undefined : message);
          },
        );
      });
      return null;
    },

    'terminal.open': (p) => terminals.start(p),
    'terminal.input': ({ termId, data }) => {
      terminals.input(termId, data);
      return Promise.resolve(null);
    },
    'terminal.resize': async ({ termId, cols, rows }) => {
      await terminals.resize(termId, cols, rows);
      return null;
    },
    'terminal.close': ({ termId }) => {
      terminals.close(termId);
      return Promise.resolve(null);
    },

    ...resourceHandlers(client),

    ...buildHandlers(client, emit, {
      track: (streamId) => {
        const abort = new AbortController();
        aborts.set(streamId, abort);
        const release = () => {
          if (aborts.get(streamId) === abort) aborts.delete(streamId);
        };
        return { signal: abort.signal, release };
      },
      pickFolder: ctx.pickFolder,
    }),

    'settings.get': () => ctx.settings.get(),
    'settings.set': (s) => ctx.settings.set(s),
    'settings.reset': () => ctx.settings.reset(),

    'troubleshoot.logs': async ({ tail }) => {
      const vm = ctx.vmConsole?.(tail);
      let path = ctx.engineLogFile;
      if (!path) {
        const info = await client.request({ method: 'GET', path: '/info', schema: infoRootSchema });
        if (!info.DockerRootDir) throw new Error('The engine does not say where its data lives.');
        path = join(info.DockerRootDir, 'berthd.log');
      }
      try {
        return { path, lines: await tailFile(path, tail), vm };
      } catch (e) {
        // Inside the VM the file is the guest's; the host cannot read it directly.
        const code = (e as NodeJS.ErrnoException).code;
        if (vm && code === 'ENOENT') return { path: `${path} (in the VM)`, lines: [], vm };
        if (code === 'ENOENT' || code === 'EACCES')
          throw new Error(`Cannot read the engine log at ${path} from here (${code}).`);
        throw e;
      }
    },
  };

  return {
    handlers,
    close() {
      unsubscribe();
      for (const res of streams.values()) res.destroy();
      streams.clear();
      for (const a of aborts.values()) a.abort();
      aborts.clear();
      terminals.closeAll();
    },
  };
}

/**
 * The container endpoints of the Engine API: create, list, inspect, start, stop, kill,
 * restart, pause/unpause, wait, rename, remove, prune, logs, attach and resize, with moby's
 * shapes and status codes (304 for a start/stop that changes nothing, 409 for conflicts).
 */
import { z } from 'zod';
import { encodeFrame, MULTIPLEXED_STREAM, RAW_STREAM } from '@berth/engine-client';
import { parseDetachKeys, serveAttach } from '../../containers/attach.js';
import { readLogEntries, parseLogConfig, timeNanos, type LogEntry } from '../../containers/logs.js';
import type { ExecService } from '../../containers/exec.js';
import type { ContainerService } from '../../containers/service.js';
import type { ContainerRecord } from '../../containers/store.js';
import { containerInspect, containerSummary, filterContainers } from '../../containers/view.js';
import { rootfsPaths } from '../../containers/rootfs.js';
import type { Engine } from '../../engine.js';
import { parseTimestamp } from '../../events/timestamp.js';
import { InvalidParameterError } from '../errors.js';
import { hijack } from '../hijack.js';
import {
  checkFilterKeys,
  queryBool,
  queryFilters,
  queryInt,
  readJson,
  sendEmpty,
  sendJson,
} from '../http.js';
import type { RequestContext, Router } from '../router.js';

const strings = z.array(z.string()).nullish();
const hostConfigSchema = z.looseObject({
  Binds: strings,
  NetworkMode: z.string().optional(),
  PortBindings: z
    .record(
      z.string(),
      z
        .array(z.looseObject({ HostIp: z.string().optional(), HostPort: z.string().optional() }))
        .nullish(),
    )
    .nullish(),
  RestartPolicy: z
    .looseObject({ Name: z.string().optional(), MaximumRetryCount: z.number().int().optional() })
    .nullish(),
  AutoRemove: z.boolean().optional(),
  LogConfig: z
    .looseObject({
      Type: z.string().optional(),
      Config: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  CapAdd: strings,
  CapDrop: strings,
  Dns: strings,
  DnsOptions: strings,
  DnsSearch: strings,
  ExtraHosts: strings,
  GroupAdd: strings,
  SecurityOpt: strings,
  Tmpfs: z.record(z.string(), z.string()).nullish(),
  VolumesFrom: strings,
  Memory: z.number().int().optional(),
  MemorySwap: z.number().int().optional(),
  MemoryReservation: z.number().int().optional(),
  NanoCpus: z.number().int().optional(),
  CpuShares: z.number().int().optional(),
  CpuPeriod: z.number().int().optional(),
  CpuQuota: z.number().int().optional(),
  PidsLimit: z.number().int().nullish(),
  ConsoleSize: z.array(z.number().int().nonnegative()).nullish(),
  Privileged: z.boolean().optional(),
  ReadonlyRootfs: z.boolean().optional(),
  PublishAllPorts: z.boolean().optional(),
  Init: z.boolean().nullish(),
});

const createSchema = z.looseObject({
  Image: z.string().optional(),
  Hostname: z.string().optional(),
  Domainname: z.string().optional(),
  User: z.string().optional(),
  Env: strings,
  Cmd: z.union([z.array(z.string()), z.string().transform((s) => [s])]).nullish(),
  Entrypoint: z.union([z.array(z.string()), z.string().transform((s) => [s])]).nullish(),
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  ExposedPorts: z.record(z.string(), z.object({}).loose()).nullish(),
  Volumes: z.record(z.string(), z.object({}).loose()).nullish(),
  Tty: z.boolean().optional(),
  OpenStdin: z.boolean().optional(),
  StdinOnce: z.boolean().optional(),
  AttachStdin: z.boolean().optional(),
  AttachStdout: z.boolean().optional(),
  AttachStderr: z.boolean().optional(),
  StopSignal: z.string().optional(),
  StopTimeout: z.number().int().nullish(),
  HostConfig: hostConfigSchema.nullish(),
  NetworkingConfig: z
    .looseObject({ EndpointsConfig: z.record(z.string(), z.looseObject({})).nullish() })
    .nullish(),
});

export function registerContainerRoutes(
  router: Router,
  engine: Engine,
  service: ContainerService,
  execs?: Pick<ExecService, 'idsOf'>,
): void {
  router
    .post('/containers/create', async (ctx) => {
      const body = await readJson(ctx.req, createSchema);
      const name = ctx.query.get('name') ?? undefined;
      const platform = ctx.query.get('platform');
      if (platform && !/^linux(\/|$)/.test(platform)) {
        throw new InvalidParameterError(`image platform ${platform} is not supported`);
      }
      sendJson(ctx.res, 201, await service.create(body, name || undefined));
    })
    .get('/containers/json', async (ctx) => {
      const size = queryBool(ctx.query, 'size');
      const list = await filterContainers(
        service.list(),
        {
          all: queryBool(ctx.query, 'all'),
          limit: queryInt(ctx.query, 'limit'),
          filters: queryFilters(ctx.query),
        },
        {
          lookup: (ref) => service.store.lookup(ref),
          ancestorIds: async (ref) => {
            const img = await engine.images.lookup(ref);
            return img ? [img.id] : [];
          },
        },
      );
      sendJson(
        ctx.res,
        200,
        await Promise.all(
          list.map(async (r) =>
            containerSummary(await service.current(r), size ? await service.sizes(r) : undefined),
          ),
        ),
      );
    })
    .post('/containers/prune', async (ctx) => {
      const filters = queryFilters(ctx.query);
      checkFilterKeys(filters, ['until', 'label', 'label!']);
      const untils = filters.get('until') ?? [];
      const until = untils.length ? parseTimestamp(untils[0] ?? null) : undefined;
      const labels = [
        ...(filters.get('label') ?? []),
        ...(filters.get('label!') ?? []).map((l) => `!${l}`),
      ];
      sendJson(ctx.res, 200, await service.prune(until, labels));
    })
    .get('/containers/{id}/json', async (ctx) => {
      const rec = service.store.lookup(ctx.params.id ?? '');
      const paths = rootfsPaths(service.dir(rec.ID));
      const lower = await service.lowerDirs(rec).catch(() => []);
      sendJson(
        ctx.res,
        200,
        containerInspect(await service.current(rec), {
          graphDriver: {
            LowerDir: lower.join(':'),
            UpperDir: paths.upper,
            WorkDir: paths.work,
            MergedDir: paths.rootfs,
          },
          ...(queryBool(ctx.query, 'size') ? { sizes: await service.sizes(rec) } : {}),
          execIds: execs?.idsOf(rec.ID) ?? [],
        }),
      );
    })
    .post('/containers/{id}/start', async (ctx) => {
      sendEmpty(ctx.res, (await service.start(ctx.params.id ?? '')) ? 204 : 304);
    })
    .post('/containers/{id}/stop', async (ctx) => {
      const stopped = await service.stop(ctx.params.id ?? '', {
        timeout: queryInt(ctx.query, 't'),
        signal: ctx.query.get('signal') || undefined,
      });
      sendEmpty(ctx.res, stopped ? 204 : 304);
    })
    .post('/containers/{id}/restart', async (ctx) => {
      await service.restart(ctx.params.id ?? '', {
        timeout: queryInt(ctx.query, 't'),
        signal: ctx.query.get('signal') || undefined,
      });
      sendEmpty(ctx.res, 204);
    })
    .post('/containers/{id}/kill', async (ctx) => {
      await service.kill(ctx.params.id ?? '', ctx.query.get('signal') || 'SIGKILL');
      sendEmpty(ctx.res, 204);
    })
    .post('/containers/{id}/pause', async (ctx) => {
      await service.pause(ctx.params.id ?? '');
      sendEmpty(ctx.res, 204);
    })
    .post('/containers/{id}/unpause', async (ctx) => {
      await service.unpause(ctx.params.id ?? '');
      sendEmpty(ctx.res, 204);
    })
    .post('/containers/{id}/rename', async (ctx) => {
      await service.rename(ctx.params.id ?? '', ctx.query.get('name') ?? '');
      sendEmpty(ctx.res, 204);
    })
    .post('/containers/{id}/resize', (ctx) => {
      const h = queryInt(ctx.query, 'h') ?? 0;
      const w = queryInt(ctx.query, 'w') ?? 0;
      if (h < 0 || w < 0 || h > 65535 || w > 65535)
        throw new InvalidParameterError('invalid terminal size');
      service.resize(ctx.params.id ?? '', h, w);
      sendEmpty(ctx.res, 200);
    })
    .post('/containers/{id}/wait', (ctx) => waitRoute(service, ctx))
    .delete('/containers/{id}', async (ctx) => {
      if (queryBool(ctx.query, 'link')) {
        throw new InvalidParameterError(
          'Conflict, cannot remove the default link name of the container',
        );
      }
      await service.remove(ctx.params.id ?? '', {
        force: queryBool(ctx.query, 'force'),
        volumes: queryBool(ctx.query, 'v'),
      });
      sendEmpty(ctx.res, 204);
    })
    .get('/containers/{id}/logs', (ctx) => logsRoute(engine, service, ctx))
    .post('/containers/{id}/attach', (ctx) => attachRoute(engine, service, ctx));
}

async function waitRoute(service: ContainerService, ctx: RequestContext): Promise<void> {
  const abort = new AbortController();
  ctx.res.on('close', () => abort.abort());
  // Registers the waiter (and throws 404/400) before the 200 goes out: the docker CLI starts
  // the container as soon as it sees the headers.
  const result = service.wait(ctx.params.id ?? '', ctx.query.get('condition') ?? '', abort.signal);
  const early = await Promise.race([
    result,
    new Promise<undefined>((r) => setImmediate(() => r(undefined))),
  ]);
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res.flushHeaders();
  let body;
  try {
    body = early ?? (await result);
  } catch {
    ctx.res.end();
    return;
  }
  ctx.res.end(`${JSON.stringify(body)}\n`);
}

function streamContentType(rec: ContainerRecord): string {
  return rec.Config.Tty ? RAW_STREAM : MULTIPLEXED_STREAM;
}

function logOptions(rec: ContainerRecord) {
  return parseLogConfig(rec.HostConfig.LogConfig);
}

async function logsRoute(
  engine: Engine,
  service: ContainerService,
  ctx: RequestContext,
): Promise<void> {
  const rec = service.store.lookup(ctx.params.id ?? '');
  const q = ctx.query;
  const stdout = queryBool(q, 'stdout');
  const stderr = queryBool(q, 'stderr');
  if (!stdout && !stderr) {
    throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  }
  const opts = logOptions(rec);
  if (opts.driver === 'none') {
    throw new InvalidParameterError('configured logging driver does not support reading');
  }
  const since = parseTimestamp(q.get('since'));
  const until = parseTimestamp(q.get('until'));
  const tailRaw = q.get('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? undefined : Number(tailRaw);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
    throw new InvalidParameterError(`invalid value for tail: ${tailRaw}`);
  }
  const timestamps = queryBool(q, 'timestamps');
  const follow = queryBool(q, 'follow');
  const res = ctx.res;
  const tty = rec.Config.Tty ?? false;
  const wanted = (e: LogEntry) => {
    if (e.stream === 'stdout' ? !stdout : !stderr) return false;
    const t = timeNanos(e.time);
    if (since !== undefined && since > 0n && t <= since) return false;
    if (until !== undefined && t > until) return false;
    return true;
  };
  const send = (e: LogEntry) => {
    const data = Buffer.from(timestamps ? `${e.time} ${e.log}` : e.log);
    res.write(tty ? data : encodeFrame(e.stream, data));
  };
  res.writeHead(200, { 'Content-Type': streamContentType(rec) });
  const io = service.io(rec);
  // History and the live subscription in one tick: nothing missed, nothing twice.
  let history = readLogEntries(rec.LogPath, opts.maxFile).filter(wanted);
  const live: LogEntry[] = [];
  const followLive =
    follow && rec.State.Running && (until === undefined || until > BigInt(Date.now()) * 1_000_000n);
  const unsubscribe = followLive ? io.onEntry((e) => live.push(e)) : undefined;
  if (tail !== undefined) history = tail === 0 ? [] : history.slice(-tail);
  for (const e of history) send(e);
  if (!unsubscribe) {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    const cleanups: Array<() => void> = [unsubscribe];
    const done = () => {
      for (const c of cleanups) c();
      resolve();
    };
    for (const e of live.splice(0)) if (wanted(e)) send(e);
    cleanups.push(
      io.onEntry((e) => {
        if (wanted(e)) send(e);
      }),
    );
    cleanups.push(io.onRunEnd(done));
    res.on('close', done);
    const onShutdown = () => done();
    engine.shutdown?.addEventListener('abort', onShutdown);
    cleanups.push(() => engine.shutdown?.removeEventListener('abort', onShutdown));
    if (until !== undefined) {
      const ms = Number(until / 1_000_000n) - Date.now();
      const t = setTimeout(done, Math.max(0, ms));
      cleanups.push(() => clearTimeout(t));
    }
  });
  res.end();
}

async function attachRoute(
  engine: Engine,
  service: ContainerService,
  ctx: RequestContext,
): Promise<void> {
  const rec = service.store.lookup(ctx.params.id ?? '');
  const q = ctx.query;
  const detachKeys = parseDetachKeys(q.get('detachKeys'));
  const opts = logOptions(rec);
  const { conn } = await hijack(ctx.req, ctx.res, streamContentType(rec));
  engine.events.emit('container', 'attach', rec.ID, {
    ...(rec.Config.Labels ?? {}),
    image: rec.Config.Image ?? rec.Image,
    name: rec.Name.replace(/^\//, ''),
  });
  await serveAttach(service.io(rec), conn, {
    stdin: queryBool(q, 'stdin'),
    stdout: queryBool(q, 'stdout'),
    stderr: queryBool(q, 'stderr'),
    logs: queryBool(q, 'logs'),
    stream: queryBool(q, 'stream'),
    tty: rec.Config.Tty ?? false,
    detachKeys,
    history: () => readLogEntries(rec.LogPath, opts.maxFile),
    stdinOnce: rec.Config.StdinOnce ?? false,
    onDetach: () =>
      engine.events.emit('container', 'detach', rec.ID, {
        image: rec.Config.Image ?? rec.Image,
        name: rec.Name.replace(/^\//, ''),
      }),
  });
}

/**
 * The one API between Berth's UI and its Node side (Electron main, or the dashboard server).
 * Two maps define it: `requests` (renderer invokes → Node handles, one reply) and `events`
 * (Node → renderer, any number). Every payload has a zod schema because it crosses a process
 * boundary; the typed `invoke`/`handle`/`on` helpers below are derived from these maps, and the
 * transports (IPC, WebSocket) only ever see a method or event name from them — no other file
 * spells a channel.
 */
import { z } from 'zod';

// --- payloads ----------------------------------------------------------------------------

export const engineStatusSchema = z.object({
  /** `running`: answering; `unreachable`: nothing answers at the address. */
  state: z.enum(['running', 'unreachable']),
  host: z.string(),
  version: z.string().optional(),
  apiVersion: z.string().optional(),
  os: z.string().optional(),
  arch: z.string().optional(),
  cpus: z.number().optional(),
  /** Bytes. */
  memTotal: z.number().optional(),
  containers: z.number().optional(),
  containersRunning: z.number().optional(),
  images: z.number().optional(),
  /** Why the engine is unreachable, in words for the status bar. */
  message: z.string().optional(),
  /** `native`: berthd on this host (Linux); `vm`: in the Berth VM. */
  mode: z.enum(['native', 'vm']).optional(),
  /** The VM's boot progress while it starts (packages/machine's stages). */
  boot: z.object({ stage: z.string(), percent: z.number(), message: z.string() }).optional(),
});
export type EngineStatus = z.infer<typeof engineStatusSchema>;

export const imageSummarySchema = z.object({
  id: z.string(),
  repoTags: z.array(z.string()),
  repoDigests: z.array(z.string()),
  /** Bytes. */
  size: z.number(),
  /** Unix seconds. */
  created: z.number(),
  /** Containers using it, or -1 when the engine does not say. */
  containers: z.number(),
});
export type ImageSummary = z.infer<typeof imageSummarySchema>;

export const portSchema = z.object({
  privatePort: z.number(),
  publicPort: z.number().optional(),
  type: z.string(),
  ip: z.string().optional(),
});
export type Port = z.infer<typeof portSchema>;

export const containerStateSchema = z.enum([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);
export type ContainerState = z.infer<typeof containerStateSchema>;

export const containerSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  command: z.string(),
  /** Unix seconds. */
  created: z.number(),
  state: containerStateSchema,
  /** The engine's words, e.g. "Up 3 minutes". */
  status: z.string(),
  ports: z.array(portSchema),
  labels: z.record(z.string(), z.string()),
});
export type ContainerSummary = z.infer<typeof containerSummarySchema>;

export const containerDetailSchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  imageId: z.string(),
  created: z.string(),
  state: containerStateSchema,
  running: z.boolean(),
  exitCode: z.number(),
  startedAt: z.string(),
  finishedAt: z.string(),
  tty: z.boolean(),
  cmd: z.array(z.string()),
  entrypoint: z.array(z.string()),
  env: z.array(z.string()),
  workingDir: z.string(),
  ports: z.array(portSchema),
  ipAddress: z.string(),
  /** The engine's whole inspect document, for the raw JSON view. */
  raw: z.record(z.string(), z.unknown()),
});
export type ContainerDetail = z.infer<typeof containerDetailSchema>;

export const portMappingSchema = z.object({
  hostPort: z.number().int().min(0).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
});
export type PortMapping = z.infer<typeof portMappingSchema>;

/** `source:/target[:ro|rw]`, the source a volume name or an absolute host path. */
export const VOLUME_SPEC = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]*|\/[^:]*):\/[^:]*(?::(?:ro|rw))?$/;
export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;

export const runRequestSchema = z.object({
  image: z.string().min(1),
  name: z.string().optional(),
  ports: z.array(portMappingSchema).default([]),
  /** `KEY=value` lines. */
  env: z.array(z.string()).default([]),
  /** Replaces the image's CMD when not empty. */
  command: z.array(z.string()).default([]),
  /** `-v` specs: `volume-name:/path`, `/host/path:/path`, each optionally `:ro`. */
  volumes: z
    .array(z.string().regex(VOLUME_SPEC, 'Write a volume as name:/path or /host/path:/path[:ro]'))
    .default([]),
  restart: z.enum(RESTART_POLICIES).default('no'),
});
export type RunRequest = z.input<typeof runRequestSchema>;

export const pullProgressSchema = z.object({
  pullId: z.string(),
  /** The layer's short id; absent for whole-image messages ("Digest: …", "Status: …"). */
  layer: z.string().optional(),
  status: z.string(),
  /** Bytes so far and in all, when the engine reports them. */
  current: z.number().optional(),
  total: z.number().optional(),
});
export type PullProgress = z.infer<typeof pullProgressSchema>;

export const logChunkSchema = z.object({
  streamId: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  text: z.string(),
});
export type LogChunk = z.infer<typeof logChunkSchema>;

export const logEndSchema = z.object({
  streamId: z.string(),
  /** The engine's error text when the stream ended by an error. */
  error: z.string().optional(),
});

export const usageSchema = z.object({
  /** Percent of the engine's whole CPU capacity used by running containers (0–100). */
  cpuPercent: z.number(),
  /** Bytes of memory used by running containers. */
  memUsed: z.number(),
  /** Bytes the engine has (its /info MemTotal). */
  memTotal: z.number(),
  /** Running containers sampled (the busiest first when there are many). */
  sampled: z.number(),
});
export type Usage = z.infer<typeof usageSchema>;

export const statsSampleSchema = z.object({
  streamId: z.string(),
  /** Milliseconds since the epoch. */
  time: z.number(),
  /** As `docker stats` computes it: 100 = one CPU fully used. */
  cpuPercent: z.number(),
  /** Bytes (without the page cache, as `docker stats`). */
  memUsage: z.number(),
  memLimit: z.number(),
  /** Bytes received and sent over all interfaces since the start. */
  netRx: z.number(),
  netTx: z.number(),
});
export type StatsSample = z.infer<typeof statsSampleSchema>;

export const streamEndSchema = z.object({ streamId: z.string(), error: z.string().optional() });

export const terminalDataSchema = z.object({ termId: z.string(), data: z.string() });
export const terminalExitSchema = z.object({
  termId: z.string(),
  /** The engine's text when the terminal could not open or broke. */
  error: z.string().optional(),
});

export const pushProgressSchema = z.object({
  pushId: z.string(),
  layer: z.string().optional(),
  status: z.string(),
  current: z.number().optional(),
  total: z.number().optional(),
});
export type PushProgress = z.infer<typeof pushProgressSchema>;

export const imageHistorySchema = z.object({
  id: z.string(),
  /** Unix seconds. */
  created: z.number(),
  createdBy: z.string(),
  size: z.number(),
  tags: z.array(z.string()),
  comment: z.string(),
});
export type ImageHistory = z.infer<typeof imageHistorySchema>;

export const pruneResultSchema = z.object({
  deleted: z.array(z.string()),
  /** Bytes. */
  spaceReclaimed: z.number(),
});

export const volumeSummarySchema = z.object({
  name: z.string(),
  driver: z.string(),
  mountpoint: z.string(),
  /** ISO time, when the engine says. */
  created: z.string().optional(),
  /** Bytes, or -1 when the engine does not say. */
  size: z.number(),
  /** Names of the containers that mount it. */
  usedBy: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
});
export type VolumeSummary = z.infer<typeof volumeSummarySchema>;

export const networkSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  driver: z.string(),
  scope: z.string(),
  internal: z.boolean(),
  subnets: z.array(z.string()),
  gateways: z.array(z.string()),
  /** Names of the containers attached. */
  containers: z.array(z.string()),
  created: z.string().optional(),
});
export type NetworkSummary = z.infer<typeof networkSummarySchema>;

/** The app's settings; the machine's (CPUs, memory, disk, folders) apply at the next VM start. */
export const settingsSchema = z.object({
  cpus: z.number().int().min(1).max(64),
  /** MiB. */
  memoryMiB: z
    .number()
    .int()
    .min(512)
    .max(1024 * 1024),
  /** GiB. */
  diskGiB: z
    .number()
    .int()
    .min(8)
    .max(16 * 1024),
  /** Absolute host paths shared into the VM at the same path. */
  sharedFolders: z.array(z.string().startsWith('/', 'A shared folder must be an absolute path')),
  startAtLogin: z.boolean(),
  /** `host:port` registries reached over plain HTTP. */
  insecureRegistries: z.array(
    z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'An insecure registry is host or host:port'),
  ),
});
export type Settings = z.infer<typeof settingsSchema>;

export const engineEventSchema = z.object({
  /** `container`, `image`, `network`, `volume`… as the engine's /events says. */
  type: z.string(),
  action: z.string(),
  id: z.string(),
});
export type EngineEvent = z.infer<typeof engineEventSchema>;

/** `docker build` of a folder on the machine the Node side runs on. */
export const buildRequestSchema = z.object({
  buildId: z.string().min(1),
  /** Absolute path of the folder sent as the build context. */
  context: z.string().min(1, 'Choose the folder to build'),
  /** Relative to the folder (or absolute); `Dockerfile` by default. */
  dockerfile: z.string().default('Dockerfile'),
  /** `-t`, each `name[:tag]`. */
  tags: z.array(z.string().min(1)).default([]),
  buildArgs: z.record(z.string(), z.string()).default({}),
  labels: z.record(z.string(), z.string()).default({}),
  target: z.string().optional(),
  noCache: z.boolean().default(false),
  pull: z.boolean().default(false),
});
export type BuildRequest = z.input<typeof buildRequestSchema>;

/** One message of a build: a piece of the log, the image ID at the end, or the engine's error. */
export const buildOutputSchema = z.object({
  buildId: z.string(),
  /** Log text as the engine streams it (whole lines, ANSI allowed). */
  stream: z.string().optional(),
  imageId: z.string().optional(),
  error: z.string().optional(),
});
export type BuildOutput = z.infer<typeof buildOutputSchema>;

const empty = z.object({}).default({});
const byId = z.object({ id: z.string().min(1) });

// --- the two maps ------------------------------------------------------------------------

export const requests = {
  'engine.status': { params: empty, result: engineStatusSchema },
  'images.list': { params: empty, result: z.array(imageSummarySchema) },
  /** Resolves when the pull is done; progress arrives as `images.pullProgress` events. */
  'images.pull': {
    params: z.object({ ref: z.string().min(1), pullId: z.string().min(1) }),
    result: z.object({ ref: z.string() }),
  },
  'images.remove': {
    params: z.object({ id: z.string().min(1), force: z.boolean().default(false) }),
    result: z.object({ deleted: z.array(z.string()), untagged: z.array(z.string()) }),
  },
  'containers.list': { params: empty, result: z.array(containerSummarySchema) },
  'containers.inspect': { params: byId, result: containerDetailSchema },
  'engine.usage': { params: empty, result: usageSchema },
  /** Restarts the engine (natively, or the VM's); refused for an engine Berth does not manage. */
  'engine.restart': { params: empty, result: z.null() },
  'images.tag': {
    params: z.object({ source: z.string().min(1), repo: z.string().min(1), tag: z.string() }),
    result: z.null(),
  },
  /** Resolves when the push is done; progress arrives as `images.pushProgress` events. */
  'images.push': {
    params: z.object({ ref: z.string().min(1), pushId: z.string().min(1) }),
    result: z.object({ ref: z.string() }),
  },
  /** Removes unused images: dangling ones, or every image no container uses with `all`. */
  'images.prune': {
    params: z.object({ all: z.boolean().default(false) }),
    result: pruneResultSchema,
  },
  'images.history': { params: byId, result: z.array(imageHistorySchema) },
  'containers.start': { params: byId, result: z.null() },
  'containers.pause': { params: byId, result: z.null() },
  'containers.unpause': { params: byId, result: z.null() },
  'containers.stop': { params: byId, result: z.null() },
  'containers.restart': { params: byId, result: z.null() },
  'containers.remove': {
    params: byId.extend({ force: z.boolean().default(false) }),
    result: z.null(),
  },
  /** Creates and starts a container (pulling the image first when it is missing). */
  'containers.run': { params: runRequestSchema, result: z.object({ id: z.string() }) },
  /** Streams logs as `logs.chunk` events until `logs.end`, or until `logs.cancel`. */
  'logs.follow': {
    params: z.object({
      id: z.string().min(1),
      streamId: z.string().min(1),
      tail: z.number().int().min(0).default(500),
      timestamps: z.boolean().default(false),
    }),
    result: z.null(),
  },
  'logs.cancel': { params: z.object({ streamId: z.string().min(1) }), result: z.null() },
  /** Streams samples as `stats.sample` events until `stats.end`, or until `stream.cancel`. */
  'stats.follow': {
    params: z.object({ id: z.string().min(1), streamId: z.string().min(1) }),
    result: z.null(),
  },
  /** Ends any of the session's streams (logs, stats, pulls in flight). */
  'stream.cancel': { params: z.object({ streamId: z.string().min(1) }), result: z.null() },
  /** A shell in a running container over exec with a TTY; bytes as `terminal.*` events. */
  'terminal.open': {
    params: z.object({
      termId: z.string().min(1),
      id: z.string().min(1),
      cols: z.number().int().min(1).max(1000),
      rows: z.number().int().min(1).max(1000),
      /** Defaults to bash where the image has it, else sh. */
      command: z.array(z.string()).optional(),
    }),
    result: z.object({ execId: z.string() }),
  },
  'terminal.input': {
    params: z.object({ termId: z.string().min(1), data: z.string().max(1 << 16) }),
    result: z.null(),
  },
  'terminal.resize': {
    params: z.object({
      termId: z.string().min(1),
      cols: z.number().int().min(1).max(1000),
      rows: z.number().int().min(1).max(1000),
    }),
    result: z.null(),
  },
  'terminal.close': { params: z.object({ termId: z.string().min(1) }), result: z.null() },
  'volumes.list': { params: empty, result: z.array(volumeSummarySchema) },
  'volumes.remove': {
    params: z.object({ name: z.string().min(1), force: z.boolean().default(false) }),
    result: z.null(),
  },
  /** Removes every volume no container uses (named ones too). */
  'volumes.prune': { params: empty, result: pruneResultSchema },
  'networks.list': { params: empty, result: z.array(networkSummarySchema) },
  'networks.inspect': { params: byId, result: z.record(z.string(), z.unknown()) },
  'networks.remove': { params: byId, result: z.null() },
  'settings.get': { params: empty, result: settingsSchema },
  'settings.set': { params: settingsSchema, result: settingsSchema },
  'settings.reset': { params: empty, result: settingsSchema },
  /**
   * Builds a folder; resolves with the image when done, rejects with the engine's error. The log
   * arrives as `build.output` events tagged `buildId`; `stream.cancel` with it stops the build.
   */
  'build.run': {
    params: buildRequestSchema,
    result: z.object({ imageId: z.string(), tags: z.array(z.string()) }),
  },
  /** The native folder picker; null when cancelled or where there is none (the dashboard). */
  'dialog.pickFolder': { params: empty, result: z.string().nullable() },
  /** The last lines of the engine's log (`<data-root>/berthd.log`). */
  'troubleshoot.logs': {
    params: z.object({ tail: z.number().int().min(1).max(5000).default(200) }),
    result: z.object({
      path: z.string(),
      lines: z.array(z.string()),
      /** The VM's console (the guest's boot and kernel messages), where there is a VM. */
      vm: z.array(z.string()).optional(),
    }),
  },
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

export const events = {
  'engine.status': engineStatusSchema,
  'engine.event': engineEventSchema,
  'images.pullProgress': pullProgressSchema,
  'logs.chunk': logChunkSchema,
  'logs.end': logEndSchema,
  'images.pushProgress': pushProgressSchema,
  'stats.sample': statsSampleSchema,
  'stats.end': streamEndSchema,
  'terminal.data': terminalDataSchema,
  'terminal.exit': terminalExitSchema,
  'build.output': buildOutputSchema,
} as const satisfies Record<string, z.ZodType>;

export type Method = keyof typeof requests;
export type EventName = keyof typeof events;
/** What a caller passes (defaults may be left out). */
export type Params<M extends Method> = z.input<(typeof requests)[M]['params']>;
/** What a handler receives (defaults filled in). */
export type ParsedParams<M extends Method> = z.output<(typeof requests)[M]['params']>;
export type Result<M extends Method> = z.output<(typeof requests)[M]['result']>;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export const METHODS = Object.keys(requests) as Method[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

export function isMethod(name: string): name is Method {
  return Object.hasOwn(requests, name);
}
export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}

/** What the renderer sees as `window.berth`, in Electron and in the browser alike. */
export interface BerthApi {
  invoke<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  /** Returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** What the Node side implements: one handler per request. */
export type Handlers = {
  [M in Method]: (params: ParsedParams<M>) => Promise<Result<M>>;
};

// --- errors ------------------------------------------------------------------------------

/** An error as it crosses a boundary: the class name and the engine's text, nothing else. */
export const wireErrorSchema = z.object({ name: z.string(), message: z.string() });
export type WireError = z.infer<typeof wireErrorSchema>;

export function encodeError(e: unknown): WireError {
  if (e instanceof z.ZodError)
    return { name: 'InvalidParameterError', message: z.prettifyError(e) };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** The rebuilt error: `name` is the original class name (e.g. `NotFoundError`). */
export class BerthError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

// --- the wire (both transports carry these frames) ---------------------------------------

export const clientFrameSchema = z.object({
  type: z.literal('call'),
  id: z.number().int(),
  method: z.string(),
  params: z.unknown().optional(),
});
export type ClientFrame = z.infer<typeof clientFrameSchema>;

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.number().int(), value: z.unknown() }),
  z.object({ type: z.literal('error'), id: z.number().int(), error: wireErrorSchema }),
  z.object({ type: z.literal('event'), event: z.string(), payload: z.unknown() }),
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** Channel names for Electron IPC and the dashboard's WebSocket path; spelled only here. */
export const IPC = { call: 'berth:call', frame: 'berth:frame' } as const;
export const DASHBOARD_WS_PATH = '/api';

/**
 * Answers one call frame with `handlers`: validates the method and params, runs the handler,
 * and returns the reply frame (errors encoded, never thrown).
 */
export async function dispatch(handlers: Handlers, raw: unknown): Promise<ServerFrame> {
  const parsed = clientFrameSchema.safeParse(raw);
  if (!parsed.success) {
    return { type: 'error', id: -1, error: encodeError(parsed.error) };
  }
  const { id, method, params } = parsed.data;
  try {
    if (!isMethod(method))
      throw new BerthError({ name: 'NotFoundError', message: `no method ${method}` });
    const spec = requests[method];
    const handler = handlers[method] as (p: unknown) => Promise<unknown>;
    const value: unknown = await handler(spec.params.parse(params ?? {}));
    return { type: 'result', id, value: value ?? null };
  } catch (e) {
    return { type: 'error', id, error: encodeError(e) };
  }
}

/** An event frame with its payload validated against the contract. */
export function eventFrame<E extends EventName>(event: E, payload: EventPayload<E>): ServerFrame {
  return { type: 'event', event, payload: events[event].parse(payload) };
}

/**
 * The client half shared by both transports: `send` delivers a call frame; the transport feeds
 * every server frame to `receive`. Replies are validated against the contract.
 */
export function createClient(send: (frame: ClientFrame) => void): {
  api: BerthApi;
  receive(frame: unknown): void;
  /** Fails every pending call (the connection is gone). */
  failAll(error: WireError): void;
} {
  let nextId = 1;
  const pending = new Map<
    number,
    { method: Method; resolve(v: unknown): void; reject(e: Error): void }
  >();
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  const api: BerthApi = {
    invoke(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { method, resolve: resolve, reject });
        try {
          send({ type: 'call', id, method, params });
        } catch (e) {
          pending.delete(id);
          reject(new BerthError(encodeError(e)));
        }
      });
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
  };
  return {
    api,
    receive(raw) {
      const frame = serverFrameSchema.parse(raw);
      if (frame.type === 'event') {
        if (!isEventName(frame.event)) return;
        const payload = events[frame.event].parse(frame.payload);
        for (const l of listeners.get(frame.event) ?? []) l(payload);
        return;
      }
      const call = pending.get(frame.id);
      if (!call) return;
      pending.delete(frame.id);
      if (frame.type === 'error') call.reject(new BerthError(frame.error));
      else {
        const result = requests[call.method].result.safeParse(frame.value);
        if (result.success) call.resolve(result.data);
        else call.reject(new BerthError(encodeError(result.error)));
      }
    },
    failAll(error) {
      for (const call of pending.values()) call.reject(new BerthError(error));
      pending.clear();
    },
  };
}

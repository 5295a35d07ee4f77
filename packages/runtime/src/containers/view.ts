/**
 * What the Engine API shows of a stored container: `GET /containers/json` (ContainerSummary,
 * with `docker ps` filters) and `GET /containers/{id}/json` (ContainerInspectResponse), in
 * moby's shapes.
 */
import { InvalidParameterError } from '../api/errors.js';
import { checkFilterKeys } from '../api/http.js';
import { statusText } from './state.js';
import type { ContainerRecord } from './store.js';

/** moby's State.StateString(): the `State` of a summary and the `status` filter. */
export function stateString(rec: ContainerRecord): string {
  const s = rec.State;
  if (s.Running) {
    if (s.Paused) return 'paused';
    if (s.Restarting) return 'restarting';
    return 'running';
  }
  if (s.Status === 'removing') return 'removing';
  if (s.Dead) return 'dead';
  if (s.Status === 'created') return 'created';
  return 'exited';
}

const shortName = (rec: ContainerRecord): string => rec.Name.replace(/^\//, '');

/** moby's list: arguments with a space are shown in single quotes. */
export function commandString(rec: ContainerRecord): string {
  return [rec.Path, ...rec.Args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

function networkMode(rec: ContainerRecord): string {
  const mode = rec.HostConfig.NetworkMode;
  return !mode || mode === 'default' ? 'bridge' : mode;
}

/** Ports of NetworkSettings.Ports as the summary lists them. */
function summaryPorts(rec: ContainerRecord): Array<Record<string, unknown>> {
  const ports = rec.NetworkSettings.Ports;
  if (!ports || typeof ports !== 'object') return [];
  const out: Array<Record<string, unknown>> = [];
  for (const [key, bindings] of Object.entries(ports as Record<string, unknown>)) {
    const [port = '0', type = 'tcp'] = key.split('/');
    if (!Array.isArray(bindings) || bindings.length === 0) {
      out.push({ PrivatePort: Number(port), Type: type });
      continue;
    }
    for (const b of bindings as Array<{ HostIp?: string; HostPort?: string }>) {
      out.push({
        IP: b.HostIp ?? '',
        PrivatePort: Number(port),
        PublicPort: Number(b.HostPort ?? 0),
        Type: type,
      });
    }
  }
  return out;
}

export function containerSummary(
  rec: ContainerRecord,
  sizes?: { rw: number; rootFs: number },
): Record<string, unknown> {
  const networks = (rec.NetworkSettings.Networks as Record<string, unknown> | undefined) ?? {};
  return {
    Id: rec.ID,
    Names: [rec.Name],
    Image: rec.Config.Image ?? rec.Image,
    ImageID: rec.Image,
    Command: commandString(rec),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: summaryPorts(rec),
    ...(sizes ? { SizeRw: sizes.rw, SizeRootFs: sizes.rootFs } : {}),
    Labels: rec.Config.Labels ?? {},
    State: stateString(rec),
    Status: statusText(rec.State),
    HostConfig: { NetworkMode: networkMode(rec) },
    NetworkSettings: { Networks: networks },
    Mounts: rec.Mounts,
  };
}

export function containerInspect(
  rec: ContainerRecord,
  extra: {
    graphDriver: Record<string, string>;
    sizes?: { rw: number; rootFs: number };
    execIds?: string[];
  },
): Record<string, unknown> {
  // Shim is berthd's own bookkeeping; NetworkingConfig is the create request's.
  const { Shim, NetworkingConfig, HasBeenStartedBefore, HasBeenManuallyStopped, ...shown } = rec;
  void Shim;
  void NetworkingConfig;
  void HasBeenStartedBefore;
  void HasBeenManuallyStopped;
  return {
    Id: rec.ID,
    Created: shown.Created,
    Path: shown.Path,
    Args: shown.Args,
    State: shown.State,
    Image: shown.Image,
    ResolvConfPath: shown.ResolvConfPath,
    HostnamePath: shown.HostnamePath,
    HostsPath: shown.HostsPath,
    LogPath: shown.LogPath,
    Name: shown.Name,
    RestartCount: shown.RestartCount,
    Driver: shown.Driver,
    Platform: shown.Platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: extra.execIds?.length ? extra.execIds : null,
    HostConfig: { ...shown.HostConfig, NetworkMode: networkMode(rec) },
    GraphDriver: { Name: 'overlayfs', Data: extra.graphDriver },
    ...(extra.sizes ? { SizeRw: extra.sizes.rw, SizeRootFs: extra.sizes.rootFs } : {}),
    Mounts: shown.Mounts,
    Config: shown.Config,
    NetworkSettings: shown.NetworkSettings,
  };
}

// ---- docker ps filters -------------------------------------------------------------------

const FILTER_KEYS = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'isolation',
  'is-task',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
  'volume',
] as const;

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export interface ListContext {
  /** Resolves a container reference for before/since (404 when unknown). */
  lookup(idOrName: string): ContainerRecord;
  /** The image IDs an `ancestor` value names (an image reference or ID). */
  ancestorIds(ref: string): Promise<string[]>;
}

const labelMatch = (labels: Record<string, string>, f: string): boolean => {
  const eq = f.indexOf('=');
  if (eq < 0) return f in labels;
  return labels[f.slice(0, eq)] === f.slice(eq + 1);
};

const regexMatch = (pattern: string, value: string): boolean => {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern);
  }
};

/** The containers `GET /containers/json` lists, newest first. */
export async function filterContainers(
  all: ContainerRecord[],
  query: { all: boolean; limit?: number | undefined; filters: Map<string, string[]> },
  ctx: ListContext,
): Promise<ContainerRecord[]> {
  const { filters } = query;
  checkFilterKeys(filters, FILTER_KEYS);
  for (const s of filters.get('status') ?? []) {
    if (!STATUSES.includes(s)) throw new InvalidParameterError(`invalid filter 'status=${s}'`);
  }
  const exited = (filters.get('exited') ?? []).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid filter 'exited=${v}'`);
    return n;
  });
  const created = (r: ContainerRecord) => Date.parse(r.Created);
  const before = filters.get('before')?.map((r) => created(ctx.lookup(r)));
  const since = filters.get('since')?.map((r) => created(ctx.lookup(r)));
  const ancestors = new Set<string>();
  for (const a of filters.get('ancestor') ?? []) {
    for (const id of await ctx.ancestorIds(a)) ancestors.add(id);
  }
  let list = [...all].sort((a, b) => created(b) - created(a) || (a.ID < b.ID ? -1 : 1));
  const showAll = query.all || (query.limit !== undefined && query.limit > 0) || filters.size > 0;
  list = list.filter((rec) => {
    const state = stateString(rec);
    if (!showAll && !rec.State.Running) return false;
    const has = (key: string, test: (v: string) => boolean) => {
      const values = filters.get(key);
      return values === undefined || values.some(test);
    };
    if (!has('status', (s) => s === state)) return false;
    if (!has('name', (n) => regexMatch(n, rec.Name) || regexMatch(n, shortName(rec)))) {
      return false;
    }
    if (!has('id', (v) => rec.ID.startsWith(v) || regexMatch(v, rec.ID))) return false;
    const labels = rec.Config.Labels ?? {};
    if (!(filters.get('label') ?? []).every((f) => labelMatch(labels, f))) return false;
    if (exited.length > 0 && (state !== 'exited' || !exited.includes(rec.State.ExitCode))) {
      return false;
    }
    if (before && !before.every((t) => created(rec) < t)) return false;
    if (since && !since.every((t) => created(rec) > t)) return false;
    if (filters.has('ancestor') && !ancestors.has(rec.Image)) return false;
    const networks = Object.entries(
      (rec.NetworkSettings.Networks as Record<string, { NetworkID?: string }> | undefined) ?? {},
    );
    if (
      !has('network', (n) =>
        networks.some(([name, ep]) => name === n || (ep.NetworkID ?? '').startsWith(n)),
      )
    ) {
      return false;
    }
    if (
      !has('volume', (v) =>
        rec.Mounts.some((m) => m.Name === v || m.Source === v || m.Destination === v),
      )
    ) {
      return false;
    }
    if (!has('is-task', (v) => v === 'false')) return false;
    return true;
  });
  if (query.limit !== undefined && query.limit > 0) list = list.slice(0, query.limit);
  return list;
}

/**
 * Published ports as the API carries them (ExposedPorts keys "80/tcp", HostConfig.PortBindings
 * with HostIp/HostPort, `-P`), turned into bindings to open, and back into Docker's shapes for
 * inspect (NetworkSettings.Ports) and list (Ports[]).
 */
import { InvalidParameterError } from '../api/errors.js';
import { parseIPv4 } from './ipam.js';

export type Proto = 'tcp' | 'udp' | 'sctp';

export interface PortKey {
  port: number;
  proto: Proto;
}

/** Berth's safe default: a port published without an address is reachable from this host only. */
export const DEFAULT_HOST_IP = '127.0.0.1';

function portNumber(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) {
    throw new InvalidParameterError(`invalid ${what}: ${text}`);
  }
  return n;
}

/** "80/tcp", "53/udp", "80" (tcp). */
export function parsePortKey(key: string): PortKey {
  const [port = '', proto = 'tcp', extra] = key.split('/');
  if (extra !== undefined || (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')) {
    throw new InvalidParameterError(`invalid port specification: "${key}"`);
  }
  return { port: portNumber(port, 'port'), proto };
}

export function formatPortKey(k: PortKey): string {
  return `${k.port}/${k.proto}`;
}

/** HostPort "8080" or "8000-8010"; "" or "0" means any free port. */
export function parseHostPort(
  text: string | undefined,
): { start: number; end: number } | undefined {
  const t = (text ?? '').trim();
  if (t === '' || t === '0') return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(t);
  if (!m) throw new InvalidParameterError(`invalid hostPort: ${t}`);
  const start = portNumber(m[1] ?? '', 'hostPort');
  const end = m[2] === undefined ? start : portNumber(m[2], 'hostPort');
  if (end < start) throw new InvalidParameterError(`invalid hostPort: ${t}`);
  return { start, end };
}

/** One listener to open for a container port. */
export interface PlannedBinding {
  container: PortKey;
  hostIp: string;
  /** Undefined: any free port the kernel picks. */
  hostPorts: { start: number; end: number } | undefined;
}

export interface PortRequest {
  exposedPorts: readonly string[];
  portBindings: Readonly<
    Record<string, ReadonlyArray<{ HostIp?: string; HostPort?: string }> | null>
  >;
  publishAllPorts: boolean;
}

/**
 * The listeners a container asks for: its PortBindings, plus every exposed port with `-P`.
 * `defaultHostIp` is dockerd's `--ip`: where a port published without an address listens.
 */
export function planBindings(
  req: PortRequest,
  defaultHostIp: string = DEFAULT_HOST_IP,
): PlannedBinding[] {
  const plan: PlannedBinding[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(req.portBindings)) {
    const container = parsePortKey(key);
    bound.add(formatPortKey(container));
    for (const b of list ?? []) {
      const hostIp = (b.HostIp ?? '').trim() || defaultHostIp;
      if (parseIPv4(hostIp) === undefined) {
        throw new InvalidParameterError(`invalid IP address: ${hostIp}`);
      }
      plan.push({ container, hostIp, hostPorts: parseHostPort(b.HostPort) });
    }
  }
  if (req.publishAllPorts) {
    for (const key of req.exposedPorts) {
      const container = parsePortKey(key);
      if (bound.has(formatPortKey(container))) continue;
      plan.push({ container, hostIp: defaultHostIp, hostPorts: undefined });
    }
  }
  return plan;
}

export interface OpenBinding {
  container: PortKey;
  hostIp: string;
  hostPort: number;
}

export type DockerPortMap = Record<string, Array<{ HostIp: string; HostPort: string }> | null>;

/** NetworkSettings.Ports: every exposed or bound port, with its host bindings (null if none). */
export function portMap(
  exposed: readonly string[],
  bindings: readonly OpenBinding[],
): DockerPortMap {
  const map: DockerPortMap = {};
  for (const key of exposed) map[formatPortKey(parsePortKey(key))] = null;
  for (const b of bindings) {
    const key = formatPortKey(b.container);
    (map[key] ??= []).push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
  }
  return map;
}

/** The `Ports` of GET /containers/json, from NetworkSettings.Ports. */
export function listPorts(
  ports: DockerPortMap,
): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = [];
  for (const [key, list] of Object.entries(ports)) {
    const k = parsePortKey(key);
    if (!list || list.length === 0) out.push({ PrivatePort: k.port, Type: k.proto });
    else {
      for (const b of list) {
        out.push({
          IP: b.HostIp,
          PrivatePort: k.port,
          PublicPort: Number(b.HostPort),
          Type: k.proto,
        });
      }
    }
  }
  return out;
}

/**
 * The files a container sees as /etc/hosts, /etc/resolv.conf and /etc/hostname, generated as
 * Docker does. They are bind-mounted into the container, so updates rewrite the same inode.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const HOSTS_HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** The name Docker Desktop gives the user's host inside containers. */
export const HOST_DOCKER_INTERNAL = 'host.docker.internal';

/**
 * ExtraHosts "name:ip" / "name=ip" as hosts entries; "host-gateway" is `hostGateway`. With
 * `hostDockerInternal` (dockerd's --host-gateway-ip, set in Berth's VM), `host.docker.internal`
 * points at it unless ExtraHosts names it itself.
 */
export function extraHostEntries(
  extra: readonly string[],
  hostGateway?: string,
  hostDockerInternal?: string,
): HostsEntry[] {
  const out: HostsEntry[] = [];
  for (const item of extra) {
    const sep = item.includes('=') ? item.indexOf('=') : item.indexOf(':');
    if (sep <= 0) continue;
    let ip = item.slice(sep + 1).trim();
    if (ip === 'host-gateway') ip = hostGateway ?? '';
    if (ip) out.push({ ip, names: [item.slice(0, sep).trim()] });
  }
  if (hostDockerInternal && !out.some((e) => e.names.includes(HOST_DOCKER_INTERNAL)))
    out.push({ ip: hostDockerInternal, names: [HOST_DOCKER_INTERNAL] });
  return out;
}

export function hostsFile(entries: readonly HostsEntry[]): string {
  const lines = [...HOSTS_HEADER];
  for (const e of entries) if (e.names.length > 0) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** The host's /etc/hosts (host networking), with the container's own name added. */
export function hostModeHostsFile(hostname: string, hostHosts = '/etc/hosts'): string {
  let text = '';
  try {
    text = readFileSync(hostHosts, 'utf8');
  } catch {
    return hostsFile([{ ip: '127.0.1.1', names: [hostname] }]);
  }
  if (!text.endsWith('\n')) text += '\n';
  return text;
}

export interface ResolvOptions {
  /** HostConfig.Dns; overrides the host's nameservers. */
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOptions?: readonly string[];
  /** Berth's DNS server for a user-defined network (its gateway), asked first. */
  networkDns?: string;
}

export interface HostResolv {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): HostResolv {
  const r: HostResolv = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const [key, ...rest] = raw
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (key === 'nameserver' && rest[0]) r.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') r.search = rest;
    else if (key === 'options') r.options.push(...rest);
  }
  return r;
}

export function readHostResolv(path = '/etc/resolv.conf'): HostResolv {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return { nameservers: [], search: [], options: [] };
  }
}

/** The host's resolv.conf as is (host networking shares the host's resolver). */
export function hostResolvText(path = '/etc/resolv.conf'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const isLoopback = (ns: string) => ns.startsWith('127.') || ns === '::1';

/** Nameservers a container (or our DNS forwarder) can reach: the host's, minus loopback ones. */
export function upstreamNameservers(host: HostResolv): string[] {
  const usable = host.nameservers.filter((ns) => !isLoopback(ns) && !ns.includes(':'));
  return usable.length > 0 ? usable : ['8.8.8.8', '8.8.4.4'];
}

export function resolvConf(host: HostResolv, opts: ResolvOptions): string {
  const servers = opts.networkDns
    ? [opts.networkDns]
    : opts.dns && opts.dns.length > 0
      ? [...opts.dns]
      : upstreamNameservers(host);
  const search = opts.dnsSearch && opts.dnsSearch.length > 0 ? opts.dnsSearch : host.search;
  const options = opts.dnsOptions && opts.dnsOptions.length > 0 ? opts.dnsOptions : host.options;
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Rewrites a file in place (same inode), so a bind mount of it sees the new content. */
export function rewriteInPlace(path: string, content: string): void {
  writeFileSync(path, content, { flag: 'w' });
}

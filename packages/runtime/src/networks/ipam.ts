/**
 * IPv4 address management: CIDR arithmetic, Docker's default address pools, and picking free
 * addresses inside a subnet. Addresses are unsigned 32-bit numbers inside; strings at the edges.
 */
import { ConflictError, ForbiddenError, InvalidParameterError } from '../api/errors.js';

export interface Cidr {
  /** The network address (host bits cleared). */
  base: number;
  prefix: number;
}

export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n"; `strict` refuses host bits (Docker does for Subnet and IPRange). */
export function parseCidr(text: string, strict = false): Cidr {
  const [ip, bits, extra] = text.split('/');
  const addr = parseIPv4(ip ?? '');
  const prefix = Number(bits);
  if (addr === undefined || extra !== undefined || !/^\d{1,2}$/.test(bits ?? '') || prefix > 32) {
    throw new InvalidParameterError(`invalid CIDR address: ${text}`);
  }
  const base = (addr & mask(prefix)) >>> 0;
  if (strict && base !== addr) {
    throw new InvalidParameterError(
      `invalid subnet ${text}: it should be ${formatCidr({ base, prefix })}`,
    );
  }
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

/** Number of addresses in the block. */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return (ip & mask(c.prefix)) >>> 0 === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** Docker's default local pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20 steps. */
export function defaultPools(): Cidr[] {
  const pools: Cidr[] = [];
  for (let b = 17; b <= 31; b++) pools.push({ base: ((172 << 24) | (b << 16)) >>> 0, prefix: 16 });
  for (let c = 0; c < 256; c += 16)
    pools.push({ base: ((192 << 24) | (168 << 16) | (c << 8)) >>> 0, prefix: 20 });
  return pools;
}

/** The first default pool that overlaps none of `taken` (host routes, other networks). */
export function pickSubnet(taken: readonly Cidr[], pools: readonly Cidr[] = defaultPools()): Cidr {
  const free = pools.find((p) => !taken.some((t) => cidrsOverlap(p, t)));
  if (!free) {
    throw new ForbiddenError(
      'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
    );
  }
  return free;
}

/** Docker's MAC for an IPv4 address: 02:42 then the four address bytes. */
export function macFromIp(ip: number): string {
  return [
    '02',
    '42',
    ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) =>
      b.toString(16).padStart(2, '0'),
    ),
  ].join(':');
}

/** One network's address plan, as stored in its IPAM config. */
export interface AddressPlan {
  subnet: Cidr;
  gateway: number;
  /** Dynamic addresses come from here (defaults to the subnet). */
  range?: Cidr;
}

/** Builds and checks the plan of a network from its IPAM Config entry. */
export function makePlan(subnet: Cidr, gatewayText?: string, rangeText?: string): AddressPlan {
  let gateway = subnet.base + 1;
  if (gatewayText) {
    const g = parseIPv4(gatewayText);
    if (g === undefined) throw new InvalidParameterError(`invalid gateway address ${gatewayText}`);
    if (!cidrContains(subnet, g)) {
      throw new InvalidParameterError(`no matching subnet for gateway ${gatewayText}`);
    }
    gateway = g;
  }
  let range: Cidr | undefined;
  if (rangeText) {
    range = parseCidr(rangeText, true);
    if (range.prefix < subnet.prefix || !cidrContains(subnet, range.base)) {
      throw new InvalidParameterError(`no matching subnet for range ${rangeText}`);
    }
  }
  return range ? { subnet, gateway, range } : { subnet, gateway };
}

/**
 * An address for a new endpoint: `requested` when given (it must be in the subnet and free),
 * else the lowest free host address of the range. The network and broadcast addresses and the
 * gateway are never handed out.
 */
export function allocateAddress(
  plan: AddressPlan,
  inUse: ReadonlySet<number>,
  requested: number | undefined,
  networkName: string,
  networkId: string,
): number {
  const { subnet } = plan;
  const first = subnet.base;
  const last = subnet.base + cidrSize(subnet) - 1;
  const usable = (ip: number) =>
    ip !== plan.gateway &&
    !inUse.has(ip) &&
    (cidrSize(subnet) <= 2 || (ip !== first && ip !== last));
  if (requested !== undefined) {
    if (!cidrContains(subnet, requested)) {
      throw new InvalidParameterError(
        `no configured subnet or ip-range contain the IP address ${formatIPv4(requested)}`,
      );
    }
    if (!usable(requested)) throw new ConflictError('Address already in use');
    return requested;
  }
  const range = plan.range ?? subnet;
  const end = range.base + cidrSize(range);
  // A range's own .0/.255 stay free too: some clients treat such addresses as broadcast.
  const edge = (ip: number) => cidrSize(range) > 2 && (ip === range.base || ip === end - 1);
  for (let ip = range.base; ip < end; ip++) if (usable(ip) && !edge(ip)) return ip;
  throw new ForbiddenError(
    `no available IPv4 addresses on this network's address pools: ${networkName} (${networkId})`,
  );
}

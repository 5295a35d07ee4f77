/**
 * The kernel side of networking, driven through iproute2, iptables and util-linux: bridges,
 * veth pairs, persistent network namespaces (a bind-mounted nsfs file), NAT rules and
 * ip_forward. Every command is bounded by a timeout and fails with the tool's own message.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SystemError } from '../api/errors.js';
import { isErrnoError, MNT, umount2 } from '../os/libc.js';
import { createNetns } from './netns.js';

const COMMAND_TIMEOUT_MS = 15_000;

/** Runs a tool; rejects with SystemError carrying its stderr when it fails or times out. */
export function tool(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const why = stderr.trim() || err.message;
          reject(new SystemError(`${cmd} ${args.join(' ')}: ${why}`));
        } else resolve(stdout);
      },
    );
    if (input !== undefined) {
      child.stdin?.on('error', () => undefined); // it failed before reading: reported above
      child.stdin?.end(input);
    }
  });
}

export async function linkExists(name: string): Promise<boolean> {
  try {
    await tool('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/** IPv4 routes of the main table as CIDR strings ("default" left out). */
export async function hostRoutes(): Promise<string[]> {
  const out = await tool('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const routes: string[] = [];
  for (const line of out.split('\n')) {
    const dest = line.trim().split(/\s+/)[0] ?? '';
    const cidr = dest === 'local' || dest === 'broadcast' ? '' : dest;
    if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(cidr))
      routes.push(cidr.includes('/') ? cidr : `${cidr}/32`);
  }
  return routes;
}

/** Creates (or completes) a bridge with `gateway/prefix` on it, up. Idempotent. */
export async function ensureBridge(name: string, gatewayCidr: string): Promise<void> {
  if (!(await linkExists(name))) {
    await tool('ip', ['link', 'add', 'name', name, 'type', 'bridge']).catch(
      async (err: unknown) => {
        if (!(await linkExists(name))) throw err; // lost a race with ourselves: fine
      },
    );
  }
  const addrs = await tool('ip', ['-4', '-o', 'addr', 'show', 'dev', name]);
  const batch: string[] = [];
  if (!addrs.includes(` ${gatewayCidr} `)) batch.push(`addr replace ${gatewayCidr} dev ${name}`);
  batch.push(`link set dev ${name} up`);
  await tool('ip', ['-batch', '-'], batch.join('\n') + '\n');
}

export async function deleteLink(name: string): Promise<void> {
  if (await linkExists(name)) {
    await tool('ip', ['link', 'del', 'dev', name]).catch(async (err: unknown) => {
      if (await linkExists(name)) throw err;
    });
  }
}

/** Unmounts and removes a namespace file; the namespace dies with its last process. */
export function deleteNetns(path: string): void {
  try {
    umount2(path, MNT.DETACH);
  } catch (err) {
    // EINVAL: not a mount point (never mounted or already gone); ENOENT: no file.
    if (!isErrnoError(err) || (err.code !== 'EINVAL' && err.code !== 'ENOENT')) throw err;
  }
  rmSync(path, { force: true });
}

export interface VethSpec {
  /** Host end, attached to `bridge`. */
  hostName: string;
  bridge: string;
  netnsPath: string;
  /** Name inside the namespace: eth0, eth1, ... */
  ifName: string;
  /** "172.17.0.2/16". */
  addressCidr: string;
  mac: string;
  /** Adds the default route via this address (the first network's gateway). */
  defaultVia?: string;
}

/**
 * Plugs veth pairs between bridges and the namespace at `netnsPath` and configures the
 * container ends; with `create`, makes the namespace first (netns.ts: no process). One shell
 * runs both `ip` batches: each spawn from the daemon costs far more than a fork from a small
 * shell. On failure nothing of it is left.
 */
export async function setupSandbox(
  netnsPath: string,
  create: boolean,
  veths: readonly VethSpec[],
): Promise<void> {
  // `ip -batch` splits on whitespace, and the path goes into its lines.
  if (/\s/.test(netnsPath)) {
    throw new SystemError(`network namespace path must not contain whitespace: ${netnsPath}`);
  }
  if (create) createNetns(netnsPath);
  if (veths.length === 0) return;
  const host = veths.flatMap((v) => [
    `link add name ${v.hostName} type veth peer name ${v.ifName} address ${v.mac} netns ${netnsPath}`,
    `link set dev ${v.hostName} master ${v.bridge} up`,
  ]);
  const inside = veths.flatMap((v) => [
    `addr add ${v.addressCidr} dev ${v.ifName}`,
    `link set dev ${v.ifName} up`,
    ...(v.defaultVia ? [`route replace default via ${v.defaultVia} dev ${v.ifName}`] : []),
  ]);
  const heredoc = (cmd: string, lines: string[]) => [`${cmd} <<'BERTH_EOF'`, ...lines, 'BERTH_EOF'];
  const script = [
    'set -e',
    ...heredoc('ip -batch -', host),
    ...heredoc('nsenter --net="$1" ip -batch -', inside),
  ].join('\n');
  try {
    await tool('sh', ['-c', script, 'berth-sandbox', netnsPath]);
  } catch (err) {
    await dropLinks(veths.map((v) => v.hostName)).catch(() => undefined);
    if (create) deleteNetns(netnsPath);
    throw err;
  }
}

/** Deletes links that may already be gone (with their namespace), in one command. */
export async function dropLinks(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const lines = names.map((n) => `link del dev ${n}`).join('\n') + '\n';
  // -force: go on past links that no longer exist; report only other failures.
  await tool('ip', ['-force', '-batch', '-'], lines).catch((err: unknown) => {
    const real = String(err)
      .split('\n')
      .filter((l) => l.trim() && !/Cannot find device|Command failed|^ip -force/.test(l));
    if (real.length > 0) throw err;
  });
}

// ---- iptables: only rules we made, each tagged with a comment naming its bridge ----------

interface Rule {
  table: 'nat' | 'filter';
  chain: string;
  spec: string[];
}

function natRules(bridge: string, subnet: string, internal: boolean): Rule[] {
  const tag = ['-m', 'comment', '--comment', `berth:${bridge}`];
  if (internal) {
    return [
      {
        table: 'filter',
        chain: 'FORWARD',
        spec: ['-i', bridge, '!', '-o', bridge, ...tag, '-j', 'DROP'],
      },
      {
        table: 'filter',
        chain: 'FORWARD',
        spec: ['-o', bridge, '!', '-i', bridge, ...tag, '-j', 'DROP'],
      },
    ];
  }
  const spec = ['-s', subnet, '!', '-o', bridge, ...tag, '-j', 'MASQUERADE'];
  // Accepts in FORWARD too, so NAT works where the policy is DROP (as after installing Docker).
  const established = ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'];
  return [
    { table: 'nat', chain: 'POSTROUTING', spec },
    { table: 'filter', chain: 'FORWARD', spec: ['-i', bridge, ...tag, '-j', 'ACCEPT'] },
    {
      table: 'filter',
      chain: 'FORWARD',
      spec: ['-o', bridge, ...established, ...tag, '-j', 'ACCEPT'],
    },
  ];
}

function iptables(op: '-C' | '-A' | '-I' | '-D', r: Rule): Promise<string> {
  return tool('iptables', ['-w', '5', '-t', r.table, op, r.chain, ...r.spec]);
}

async function ruleExists(r: Rule): Promise<boolean> {
  try {
    await iptables('-C', r);
    return true;
  } catch {
    return false;
  }
}

/** NAT out of a bridge (or, for an internal network, a drop of everything leaving it). */
export async function addNat(bridge: string, subnet: string, internal: boolean): Promise<void> {
  for (const r of natRules(bridge, subnet, internal)) {
    if (!(await ruleExists(r))) await iptables(r.table === 'filter' ? '-I' : '-A', r);
  }
}

export async function removeNat(bridge: string, subnet: string, internal: boolean): Promise<void> {
  for (const r of natRules(bridge, subnet, internal)) {
    for (let i = 0; i < 10 && (await ruleExists(r)); i++) await iptables('-D', r);
  }
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export function readIpForward(): string {
  return readFileSync(IP_FORWARD, 'utf8').trim();
}

export function writeIpForward(value: string): void {
  writeFileSync(IP_FORWARD, `${value}\n`);
}

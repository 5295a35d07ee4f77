/**
 * Linux capabilities as Docker handles them: a default set, CapAdd/CapDrop with the special
 * name ALL, names accepted with or without `CAP_` in any case, and Privileged meaning every
 * capability this engine itself holds.
 */
import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../api/errors.js';

/** Capability names by number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40). */
export const CAPABILITY_NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** moby's oci.DefaultCapabilities(), in its order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const ALL = 'ALL';

/** The capability mask as /proc/<pid>/status prints it (CapEff: ...), for tests and logs. */
export function capabilityMask(caps: readonly string[]): bigint {
  let mask = 0n;
  for (const c of caps) {
    const bit = (CAPABILITY_NAMES as readonly string[]).indexOf(c);
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask;
}

let cachedAll: string[] | undefined;

/**
 * Every capability the kernel knows that this process may pass on: a container cannot be
 * given a capability outside the engine's own bounding set (runc would fail with EPERM).
 */
export function allCapabilities(): string[] {
  if (cachedAll) return cachedAll;
  let last = CAPABILITY_NAMES.length - 1;
  let bounding = (1n << 64n) - 1n;
  try {
    last = Math.min(last, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1]) bounding = BigInt(`0x${m[1]}`);
  } catch {
    // not Linux, or /proc unavailable: assume the full table
  }
  cachedAll = CAPABILITY_NAMES.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
  return cachedAll;
}

/** moby's NormalizeLegacyCapabilities: `net_admin` → `CAP_NET_ADMIN`; unknown names refused. */
function normalize(caps: readonly string[]): string[] {
  return caps.map((c) => {
    const up = c.toUpperCase();
    if (up === ALL) return ALL;
    const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
    if (!(CAPABILITY_NAMES as readonly string[]).includes(name)) {
      throw new InvalidParameterError(`unknown capability: "${c}"`);
    }
    return name;
  });
}

/** moby's TweakCapabilities: the container's capability set. */
export function tweakCapabilities(
  adds: readonly string[] = [],
  drops: readonly string[] = [],
  privileged = false,
): string[] {
  if (privileged) return [...allCapabilities()];
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPABILITIES];
  const add = normalize(adds);
  const drop = normalize(drops);
  let caps: string[];
  if (add.includes(ALL)) caps = allCapabilities().filter((c) => !drop.includes(c));
  else if (drop.includes(ALL)) caps = [...add];
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  return [...new Set(caps)];
}

/**
 * Which accelerator to boot with. "/dev/kvm exists" is not enough: on some hosts (these CI
 * machines) a KVM guest hangs. So the candidates are tried best first, each with a bounded
 * probe (the guest must print its first boot stage in time), falling back to TCG, and a
 * candidate that failed is remembered per machine so the next boot does not pay the probe again.
 */
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { QemuAccelerator } from './args.js';

export interface HostFacts {
  platform: NodeJS.Platform;
  /** The host CPU architecture in QEMU's words. */
  arch: 'x86_64' | 'aarch64';
  kvmUsable: boolean;
}

export function hostFacts(): HostFacts {
  let kvmUsable = false;
  if (process.platform === 'linux') {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      kvmUsable = true;
    } catch {
      kvmUsable = false;
    }
  }
  return {
    platform: process.platform,
    arch: process.arch === 'arm64' ? 'aarch64' : 'x86_64',
    kvmUsable,
  };
}

/** Candidates best first; TCG always last, since it always works (slowly). */
export function acceleratorCandidates(
  guestArch: 'x86_64' | 'aarch64',
  host: HostFacts,
  opts: { requested?: readonly string[]; knownBad?: readonly string[] } = {},
): QemuAccelerator[] {
  const all: QemuAccelerator[] = ['kvm', 'hvf', 'whpx', 'tcg'];
  let list: QemuAccelerator[];
  if (opts.requested && opts.requested.length > 0) {
    list = all.filter((a) => opts.requested?.includes(a));
    list.sort((a, b) => (opts.requested?.indexOf(a) ?? 0) - (opts.requested?.indexOf(b) ?? 0));
  } else {
    list = [];
    if (guestArch === host.arch) {
      if (host.platform === 'linux' && host.kvmUsable) list.push('kvm');
      if (host.platform === 'darwin') list.push('hvf');
      if (host.platform === 'win32') list.push('whpx');
    }
    list.push('tcg');
  }
  const bad = new Set(opts.knownBad ?? []);
  const good = list.filter((a) => a === 'tcg' || !bad.has(a));
  return good.length > 0 ? good : ['tcg'];
}

const VerdictsSchema = z.object({ failed: z.array(z.string()).default([]) });

export function readKnownBad(file: string): string[] {
  try {
    return VerdictsSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).failed;
  } catch {
    return [];
  }
}

export function rememberBad(file: string, accelerator: string): void {
  const failed = new Set(readKnownBad(file));
  failed.add(accelerator);
  writeFileSync(file, `${JSON.stringify({ failed: [...failed] })}\n`);
}

export interface ProbeAttempt {
  accelerator: QemuAccelerator;
  ok: boolean;
  error?: string;
}

/**
 * Tries `boot` with each candidate until one comes up. `boot` must resolve when the guest shows
 * life and reject (after cleaning up) when it does not within its own bound. TCG's failure is
 * final: there is nothing left to fall back to.
 */
export async function bootWithFallback<T>(
  candidates: readonly QemuAccelerator[],
  boot: (accelerator: QemuAccelerator, isLast: boolean) => Promise<T>,
  onFailed: (attempt: ProbeAttempt) => void,
): Promise<{ accelerator: QemuAccelerator; result: T }> {
  let lastError: unknown;
  for (const [i, accelerator] of candidates.entries()) {
    const isLast = i === candidates.length - 1;
    try {
      return { accelerator, result: await boot(accelerator, isLast) };
    } catch (e) {
      lastError = e;
      onFailed({ accelerator, ok: false, error: e instanceof Error ? e.message : String(e) });
      if (isLast) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

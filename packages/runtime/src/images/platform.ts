/**
 * Platforms (os/arch/variant) as containerd's `platforms` package treats them: names are
 * normalised (x86_64 → amd64, aarch64 → arm64, arm64/v8 ≡ arm64), and a wanted platform also
 * accepts older variants of its architecture (arm/v7 runs arm/v6 and arm/v5, amd64/v3 runs v2
 * and v1), preferring the closest one.
 */
import { InvalidParameterError, NotFoundError } from '../api/errors.js';
import type { Descriptor, Platform } from './oci.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  /** Empty string when the architecture has no variant (or only its default one). */
  variant: string;
}

function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: variant === 'v1' ? '' : variant };
    case 'aarch64':
    case 'arm64':
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      return { architecture: 'arm64', variant };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      return { architecture: 'arm', variant };
    default:
      return { architecture: arch, variant };
  }
}

export function normalizePlatform(p: {
  os: string;
  architecture: string;
  variant?: string | undefined;
}): PlatformSpec {
  const os = p.os.toLowerCase();
  return { os: os === 'macos' ? 'darwin' : os, ...normalizeArch(p.architecture, p.variant ?? '') };
}

/** "linux/arm/v7", "linux/amd64": containerd's `platforms.Format`. */
export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== '').join('/');
}

const NODE_ARCH: Record<string, { architecture: string; variant?: string }> = {
  x64: { architecture: 'amd64' },
  arm64: { architecture: 'arm64', variant: 'v8' },
  arm: { architecture: 'arm' },
  ia32: { architecture: '386' },
  ppc64: { architecture: 'ppc64le' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
  loong64: { architecture: 'loong64' },
  mips: { architecture: 'mips' },
  mipsel: { architecture: 'mipsle' },
};

/** The platform images are pulled for by default: linux on this CPU. */
export function hostPlatform(nodeArch: string = process.arch): PlatformSpec {
  const a = NODE_ARCH[nodeArch] ?? { architecture: nodeArch };
  let variant = a.variant;
  if (a.architecture === 'arm') {
    const armVersion = (process.config.variables as Record<string, unknown>)['arm_version'];
    variant = typeof armVersion === 'string' ? `v${armVersion}` : 'v7';
  }
  return withDisplayVariant(
    normalizePlatform({ os: 'linux', architecture: a.architecture, variant }),
  );
}

// containerd spells arm64's default variant out when naming a platform ("linux/arm64/v8").
function withDisplayVariant(p: PlatformSpec): PlatformSpec {
  return p.architecture === 'arm64' && p.variant === '' ? { ...p, variant: 'v8' } : p;
}

const COMPONENT_RE = /^[A-Za-z0-9_-]+$/;
const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'illumos',
  'ios',
  'js',
  'linux',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'wasip1',
]);

/**
 * Parses a `--platform` value: "linux/arm64", "linux/arm/v7", "linux", or an architecture
 * alone ("arm64", taken as linux/arm64), as containerd's `platforms.Parse`.
 */
export function parsePlatform(specifier: string): PlatformSpec {
  const parts = specifier.split('/');
  const bad = (why: string): InvalidParameterError =>
    new InvalidParameterError(`"${specifier}": ${why}: invalid argument`);
  if (parts.some((p) => !COMPONENT_RE.test(p))) throw bad('invalid platform component');
  const [first = '', second = '', third] = parts;
  if (parts.length === 1) {
    if (KNOWN_OS.has(first.toLowerCase())) return { ...hostPlatform(), os: first.toLowerCase() };
    return withDisplayVariant(normalizePlatform({ os: 'linux', architecture: first }));
  }
  if (parts.length > 3) throw bad('cannot parse platform specifier');
  return withDisplayVariant(normalizePlatform({ os: first, architecture: second, variant: third }));
}

/** The platforms that can run on `p`, best first (containerd's platformVector). */
function compatibleVariants(p: PlatformSpec): PlatformSpec[] {
  const out = [p];
  const n = /^v(\d+)$/.exec(p.variant);
  const at = (variant: string): PlatformSpec => ({ ...p, variant });
  if (p.architecture === 'amd64' && n) {
    for (let v = Number(n[1]) - 1; v >= 2; v--) out.push(at(`v${v}`));
    if (p.variant !== '') out.push(at(''));
  } else if (p.architecture === 'arm' && n) {
    for (let v = Number(n[1]) - 1; v >= 5; v--) out.push(at(`v${v}`));
  } else if (p.architecture === 'arm64' && p.variant.startsWith('v9')) {
    out.push(at(''));
    out.push({ ...p, architecture: 'arm', variant: 'v7' });
  } else if (p.architecture === 'arm64' && p.variant === '') {
    // arm64 hosts generally run 32-bit arm too, as containerd's matcher accepts.
    for (let v = 8; v >= 5; v--) out.push({ ...p, architecture: 'arm', variant: `v${v}` });
  }
  return out;
}

function rank(wanted: PlatformSpec[], candidate: Platform): number {
  const c = normalizePlatform(candidate);
  return wanted.findIndex(
    (w) => w.os === c.os && w.architecture === c.architecture && w.variant === c.variant,
  );
}

/** True when an image built for `candidate` runs on `wanted`. */
export function platformMatches(wanted: PlatformSpec, candidate: Platform): boolean {
  return rank(compatibleVariants(normalizePlatform(wanted)), candidate) !== -1;
}

/**
 * Picks the manifest for `wanted` from an index's entries: the best-ranked compatible one,
 * the first listed among equals. Throws Docker's NotFoundError when none fits.
 */
export function selectManifest(manifests: readonly Descriptor[], wanted: PlatformSpec): Descriptor {
  const vector = compatibleVariants(normalizePlatform(wanted));
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const m of manifests) {
    if (!m.platform) continue;
    const r = rank(vector, m.platform);
    if (r !== -1 && r < bestRank) {
      best = m;
      bestRank = r;
    }
  }
  if (!best) {
    throw new NotFoundError(
      `no matching manifest for ${formatPlatform(wanted)} in the manifest list entries`,
    );
  }
  return best;
}

/**
 * Debian packages for the guest: resolved with apt-cache, fetched with `apt-get download`
 * into a cache (checked against the archive's SHA256) and unpacked with `dpkg-deb -x`. Never
 * installed on the host.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestArch } from './components.js';
import { run } from './exec.js';

export interface DebPackage {
  name: string;
  version: string;
  arch: string;
  sha256: string;
  depends: string;
  /** The downloaded .deb, once fetched. */
  file: string;
}

/**
 * apt options that make apt-get look at another architecture's archive without touching the
 * host's configuration: a private list directory holding only that architecture's indexes.
 */
export function aptOptions(arch: GuestArch, cacheDir: string): string[] {
  if (arch === hostArch()) return [];
  const state = join(cacheDir, `apt-${arch}`);
  return [
    '-o',
    `APT::Architecture=${arch}`,
    '-o',
    `APT::Architectures=${arch}`,
    '-o',
    `Dir::State::Lists=${join(state, 'lists')}`,
    '-o',
    `Dir::State::status=${join(state, 'status')}`,
    '-o',
    `Dir::Cache=${join(state, 'cache')}`,
  ];
}

export function hostArch(): GuestArch {
  return process.arch === 'arm64' ? 'arm64' : 'amd64';
}

/** Refreshes the private index of a foreign architecture (once per cache directory). */
export async function prepareApt(arch: GuestArch, cacheDir: string): Promise<void> {
  if (arch === hostArch()) return;
  const state = join(cacheDir, `apt-${arch}`);
  if (existsSync(join(state, 'ready'))) return;
  for (const d of ['lists/partial', 'cache/archives/partial']) {
    mkdirSync(join(state, d), { recursive: true });
  }
  await run('sh', ['-c', `: > "${join(state, 'status')}"`]);
  await run('apt-get', [...aptOptions(arch, cacheDir), 'update', '-qq'], { timeoutMs: 600_000 });
  await run('touch', [join(state, 'ready')]);
}

function field(stanza: string, name: string): string {
  const m = new RegExp(`^${name}: (.*)$`, 'm').exec(stanza);
  return m?.[1]?.trim() ?? '';
}

/** The candidate version of each package, as apt would install it. */
export async function resolvePackages(
  names: readonly string[],
  arch: GuestArch,
  cacheDir: string,
): Promise<DebPackage[]> {
  const out = await run('apt-cache', [
    ...aptOptions(arch, cacheDir),
    'show',
    '--no-all-versions',
    ...names.map((n) => (arch === hostArch() ? n : `${n}:${arch}`)),
  ]);
  const stanzas = out.split(/\n\n+/).filter((s) => s.trim());
  return names.map((name) => {
    const stanza = stanzas.find((s) => field(s, 'Package') === name);
    if (!stanza) throw new Error(`apt-cache has no package ${name} for ${arch}`);
    return {
      name,
      version: field(stanza, 'Version'),
      arch: field(stanza, 'Architecture'),
      sha256: field(stanza, 'SHA256'),
      depends: field(stanza, 'Depends'),
      file: '',
    };
  });
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Downloads (or finds in the cache) each package's .deb and checks its hash. */
export async function fetchPackages(
  pkgs: DebPackage[],
  arch: GuestArch,
  cacheDir: string,
): Promise<DebPackage[]> {
  const dir = join(cacheDir, 'debs');
  mkdirSync(dir, { recursive: true });
  const fileOf = (p: DebPackage) =>
    join(dir, `${p.name}_${p.version.replace(':', '%3a')}_${p.arch}.deb`);
  const missing = pkgs.filter((p) => !existsSync(fileOf(p)));
  if (missing.length > 0) {
    const tmp = join(dir, `.download-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    const spec = (p: DebPackage) =>
      `${p.name}${arch === hostArch() ? '' : `:${arch}`}=${p.version}`;
    await run('apt-get', [...aptOptions(arch, cacheDir), 'download', '-qq', ...missing.map(spec)], {
      cwd: tmp,
      timeoutMs: 600_000,
    });
    for (const p of missing) {
      const base = fileOf(p).slice(dir.length + 1);
      renameSync(join(tmp, base), fileOf(p));
    }
    await run('rm', ['-rf', tmp]);
  }
  return pkgs.map((p) => {
    const file = fileOf(p);
    const got = sha256File(file);
    if (got !== p.sha256) throw new Error(`${file}: sha256 ${got}, the archive says ${p.sha256}`);
    return { ...p, file };
  });
}

export async function unpackDeb(deb: string, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  await run('dpkg-deb', ['-x', deb, into]);
}

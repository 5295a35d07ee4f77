/**
 * Kernel modules by name: the dependency closure of the modules wanted, in load order, from
 * the modules.dep that `depmod -b` writes for the unpacked kernel (Debian's .deb ships none).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run } from './exec.js';

export interface ModuleIndex {
  /** Kernel release, e.g. 6.1.0-56-amd64. */
  release: string;
  /** Module path (relative to lib/modules/RELEASE) → the paths it depends on. */
  deps: Map<string, string[]>;
  /** Normalised module name → path. */
  byName: Map<string, string>;
}

export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replaceAll('-', '_');
}

/** Runs depmod over `root/lib/modules/release` and indexes the result. */
export async function indexModules(root: string, release: string): Promise<ModuleIndex> {
  await run('depmod', ['-b', root, release]);
  const text = readFileSync(join(root, 'lib/modules', release, 'modules.dep'), 'utf8');
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    deps.set(
      path,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    byName.set(moduleName(path), path);
  }
  return { release, deps, byName };
}

/**
 * The modules named (and every module under the given directories), with their dependencies,
 * each after everything it needs. Throws listing the names the kernel does not have as
 * modules; names in `builtinOk` may instead be built in.
 */
export function moduleClosure(
  index: ModuleIndex,
  names: readonly string[],
  trees: readonly string[] = [],
  builtin: ReadonlySet<string> = new Set(),
): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const d of index.deps.get(path) ?? []) visit(d);
    order.push(path);
  };
  const missing: string[] = [];
  for (const n of names) {
    const path = index.byName.get(n.replaceAll('-', '_'));
    if (path) visit(path);
    else if (!builtin.has(n.replaceAll('-', '_'))) missing.push(n);
  }
  if (missing.length > 0)
    throw new Error(`kernel ${index.release} lacks modules: ${missing.join(', ')}`);
  for (const path of [...index.deps.keys()].sort()) {
    if (trees.some((t) => path.startsWith(`${t}/`))) visit(path);
  }
  return order;
}

/** Names of modules built into the kernel (modules.builtin). */
export function builtinModules(root: string, release: string): Set<string> {
  const text = readFileSync(join(root, 'lib/modules', release, 'modules.builtin'), 'utf8');
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

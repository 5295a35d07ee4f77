/**
 * Tests use real tools (registry, skopeo, umoci, docker CLI, runc). Where one is missing, or
 * the test needs root and we are not root, the test is skipped with the reason — never failed.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** Absolute path of an executable, or undefined. A name with a slash is checked as is. */
export function which(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((d) => join(d, name));
  for (const p of candidates) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** The special name 'root' requires running as uid 0. */
export type Requirement = string;

function unmet(reqs: readonly Requirement[]): string[] {
  return reqs.filter((r) => (r === 'root' ? process.getuid?.() !== 0 : which(r) === undefined));
}

/**
 * A skip reason for describe/it options (`{ skip: skipUnless([...]) }`), or false when every
 * tool is present.
 */
export function skipUnless(reqs: readonly Requirement[]): string | false {
  const missing = unmet(reqs);
  if (missing.length === 0) return false;
  return `needs ${missing.map((m) => (m === 'root' ? 'root' : `\`${m}\``)).join(', ')}`;
}

/** Skips the running test when something is missing; returns false then, so the test can return. */
export function requireTools(t: TestContext, reqs: readonly Requirement[]): boolean {
  const reason = skipUnless(reqs);
  if (reason === false) return true;
  t.skip(reason);
  return false;
}

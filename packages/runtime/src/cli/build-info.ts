/**
 * What this build of berthd is: the package version, the source revision and when it was
 * built, for `berthd --version` and the API's /version.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export interface BuildInfo {
  version: string;
  /** Short git hash, or "unknown" outside a checkout (e.g. inside the VM image). */
  gitCommit: string;
  /** RFC 3339; the compiled files' modification time. */
  buildTime: string;
}

const here = fileURLToPath(import.meta.url);
const packageRoot = join(dirname(here), '..', '..');

function gitCommit(): string {
  const fromEnv = process.env.BERTH_GIT_COMMIT;
  if (fromEnv) return fromEnv;
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: packageRoot,
    encoding: 'utf8',
    timeout: 2_000,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const out = r.status === 0 ? r.stdout.trim() : '';
  return /^[0-9a-f]{4,40}$/.test(out) ? out : 'unknown';
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  cached ??= {
    version: z
      .object({ version: z.string() })
      .parse(JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'))).version,
    gitCommit: gitCommit(),
    buildTime: statSync(here).mtime.toISOString(),
  };
  return cached;
}

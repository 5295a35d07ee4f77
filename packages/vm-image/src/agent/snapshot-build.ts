/**
 * The agent's V8 startup snapshot. Under emulation, loading the agent's and berthd's modules is
 * most of what the agent adds to a boot (about 2–3 s); a snapshot of the heap after loading them
 * starts in a fraction of that. After the first boot that reached ready, the agent builds one in
 * the background from agent-snapshot.cjs (build/snapshot-bundle.ts) onto the data disk, keyed by
 * the image; agent.sh starts from it on later boots, and drops it if a start from it fails.
 * It is made in the guest, not in the image, because V8's snapshots are not byte-reproducible.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { basename, join } from 'node:path';
import { GUEST_DATA_ROOT } from './protocol.js';

/**
 * Built-ins a snapshot must not hold (their native state cannot be serialised, or they hold
 * handles): the snapshot script loads them at first use. It needs their export names in advance,
 * which the guest's own Node lists just before building (BERTH_SNAPSHOT_KEYS).
 */
export const SNAPSHOT_LAZY_BUILTINS = [
  'child_process',
  'dgram',
  'dns',
  'http',
  'https',
  'readline',
  'tls',
  'tty',
  'worker_threads',
  'zlib',
] as const;

export const SNAPSHOT_SCRIPT = '/usr/lib/berth/dist/cli/agent-snapshot.cjs';
/** Where agent.sh also looks (and NODE_COMPILE_CACHE points). */
const CACHE_DIR = join(GUEST_DATA_ROOT, '.node-cache');

export function snapshotBlob(image: string): string {
  return join(CACHE_DIR, `agent-${image}.blob`);
}

/** Starts building this image's snapshot unless it exists; removes other images' snapshots. */
export function buildSnapshotInBackground(image: string, log: (line: string) => void): void {
  if (!/^[0-9a-f]{8,64}$/.test(image)) return;
  const blob = snapshotBlob(image);
  mkdirSync(CACHE_DIR, { recursive: true });
  const existing = readdirSync(CACHE_DIR);
  if (existing.includes(basename(blob))) return;
  for (const f of existing)
    if (/^agent-.*\.blob(\.tmp)?$/.test(f)) rmSync(join(CACHE_DIR, f), { force: true });
  const keys = join(CACHE_DIR, 'snapshot-keys.json');
  const listKeys =
    `const o = {}; for (const m of ${JSON.stringify(SNAPSHOT_LAZY_BUILTINS)}) ` +
    "o[m] = Object.getOwnPropertyNames(require('node:' + m)).filter((k) => k !== 'default'); " +
    'process.stdout.write(JSON.stringify(o));';
  const out = openSync('/run/berth/snapshot.log', 'a');
  // At the lowest priority: it must not slow the containers the user starts meanwhile.
  const run = (
    args: string[],
    env: NodeJS.ProcessEnv,
    done: (ok: boolean, stdout: Buffer) => void,
  ) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', out] });
    if (child.pid !== undefined) setPriority(child.pid, 19);
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', () => done(false, Buffer.alloc(0)));
    child.on('exit', (code) => done(code === 0, Buffer.concat(chunks)));
  };
  const fail = (what: string) =>
    log(`startup snapshot: ${what} failed; see /run/berth/snapshot.log`);
  run(['-e', listKeys], process.env, (listed, stdout) => {
    if (!listed) return fail('listing built-in exports');
    writeFileSync(keys, stdout);
    const env = { ...process.env, BERTH_SNAPSHOT_KEYS: keys };
    run(['--snapshot-blob', `${blob}.tmp`, '--build-snapshot', SNAPSHOT_SCRIPT], env, (built) => {
      if (!built) return fail('building');
      renameSync(`${blob}.tmp`, blob);
      log(`startup snapshot written: ${blob}`);
    });
  });
}

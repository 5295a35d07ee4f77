/**
 * The guest services' V8 startup snapshots (service.ts). Under emulation, loading the modules of
 * the agent and of berthd is most of what each adds to a boot; a snapshot of the heap after
 * loading them starts in a fraction of that. After the first boot that reached ready, the agent
 * builds one per service in the background from its snapshot script
 * (build/snapshot-bundle.ts) onto the data disk, keyed by the image; node-service.sh starts
 * from them on later boots, and drops one whose start does not get ready.
 * They are made in the guest, not in the image, because V8's snapshots are not
 * byte-reproducible.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { basename, join } from 'node:path';
import { GUEST_DATA_ROOT } from './protocol.js';
import type { GuestService } from './service.js';

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

/** Where the services' bundles and snapshot scripts are in the image. */
export const GUEST_BUNDLE_DIR = '/usr/lib/berth/dist/cli';
export const GUEST_SERVICES = ['agent', 'engine'] as const satisfies readonly GuestService[];

export function snapshotScript(service: GuestService): string {
  return `${GUEST_BUNDLE_DIR}/${service}-snapshot.cjs`;
}

/** Where node-service.sh also looks (and NODE_COMPILE_CACHE points). */
const CACHE_DIR = join(GUEST_DATA_ROOT, '.node-cache');

export function snapshotBlob(service: GuestService, image: string): string {
  return join(CACHE_DIR, `${service}-${image}.blob`);
}

const SNAPSHOT_FILE = new RegExp(`^(${GUEST_SERVICES.join('|')})-.*\\.blob(\\.tmp)?$`);

/** Builds this image's missing snapshots, one after the other; removes other images' ones. */
export function buildSnapshotsInBackground(image: string, log: (line: string) => void): void {
  if (!/^[0-9a-f]{8,64}$/.test(image)) return;
  mkdirSync(CACHE_DIR, { recursive: true });
  const existing = readdirSync(CACHE_DIR);
  const ours = new Set(GUEST_SERVICES.map((s) => basename(snapshotBlob(s, image))));
  for (const f of existing)
    if (SNAPSHOT_FILE.test(f) && !ours.has(f)) rmSync(join(CACHE_DIR, f), { force: true });
  const missing = GUEST_SERVICES.filter(
    (s) => !existing.includes(basename(snapshotBlob(s, image))),
  );
  if (missing.length === 0) return;
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
    const next = (left: readonly GuestService[]): void => {
      const [service, ...rest] = left;
      if (!service) return;
      const blob = snapshotBlob(service, image);
      run(
        ['--snapshot-blob', `${blob}.tmp`, '--build-snapshot', snapshotScript(service)],
        env,
        (built) => {
          if (!built) return fail(`building the ${service}'s`);
          renameSync(`${blob}.tmp`, blob);
          log(`startup snapshot written: ${blob}`);
          next(rest);
        },
      );
    };
    next(missing);
  });
}

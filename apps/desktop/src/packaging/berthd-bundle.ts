/**
 * berthd for the packaged Linux app, where the engine runs natively beside Electron: the same
 * esbuild bundle the guest image carries (packages/vm-image's bundle()), laid out as in the
 * guest — the entry at dist/cli/berthd.mjs, the package.json berthd reads its version from two
 * levels above it, and koffi's prebuilt native module in node_modules where koffi looks for it.
 * `npm run dist` makes it; electron-builder.yml ships it as the `berthd` resource.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { bundle } from '@berth/vm-image/bundle';
import { z } from 'zod';
import { BERTHD_BUNDLE_ENTRY } from '../main/launch-plan.js';
import { APP_DIR, BERTHD_BUNDLE_FROM } from './builder-config.js';

const RUNTIME_DIR = resolve(APP_DIR, '../../packages/runtime');

/** Where `npm run dist` puts it (outside the asar: electron-builder.yml leaves it out of files). */
export const BERTHD_BUNDLE_DIR = join(APP_DIR, ...BERTHD_BUNDLE_FROM.split('/'));

/** Builds the bundle into `outDir` (replacing it) and resolves with the entry's path. */
export async function bundleBerthd(
  outDir: string = BERTHD_BUNDLE_DIR,
  arch: string = process.arch,
): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  const entry = join(outDir, ...BERTHD_BUNDLE_ENTRY.split('/'));
  mkdirSync(dirname(entry), { recursive: true });
  await bundle({ berthd: join(RUNTIME_DIR, 'src', 'cli', 'berthd.ts') }, dirname(entry));

  const { version } = z
    .object({ version: z.string() })
    .parse(JSON.parse(readFileSync(join(RUNTIME_DIR, 'package.json'), 'utf8')));
  writeFileSync(
    join(outDir, 'package.json'),
    `${JSON.stringify({ name: '@berth/runtime', version, private: true })}\n`,
  );

  // koffi's loader requires @koromix/koffi-linux-<arch>; glibc hosts only (no musl build).
  const koffi = `@koromix/koffi-linux-${arch}`;
  const from = dirname(createRequire(join(RUNTIME_DIR, 'package.json')).resolve(koffi));
  cpSync(from, join(outDir, 'node_modules', ...koffi.split('/')), {
    recursive: true,
    filter: (src) =>
      !src
        .slice(from.length)
        .split(sep)
        .some((p) => p.startsWith('musl_')),
  });
  return entry;
}

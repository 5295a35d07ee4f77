#!/usr/bin/env node
/** `npm run vm-image [-- --arch amd64|arm64] [--out DIR] [--force]`: builds the guest image. */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage, IMAGE_FILES, OPTIONAL_IMAGE_FILES } from './build.js';
import { GUEST_ARCHES, type GuestArch } from './components.js';
import { hostArch } from './debian.js';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: hostArch() },
    out: { type: 'string' },
    cache: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
});
const arch = values.arch as GuestArch;
if (!GUEST_ARCHES.includes(arch)) {
  console.error(`vm-image: --arch must be one of ${GUEST_ARCHES.join(', ')}`);
  process.exit(2);
}
const started = Date.now();
try {
  const result = await buildImage({
    arch,
    outDir: resolve(values.out ?? join('out', arch)),
    ...(values.cache ? { cacheDir: resolve(values.cache) } : {}),
    force: values.force,
    log: (m) => console.log(`vm-image: ${m}`),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `vm-image: ${result.cached ? 'cached' : 'built'} ${arch} image ${result.manifest.key} in ${seconds} s → ${result.dir}`,
  );
  for (const f of [...IMAGE_FILES, ...OPTIONAL_IMAGE_FILES]) {
    if (f !== 'manifest.json' && !result.manifest.files[f]) continue;
    const size = statSync(join(result.dir, f)).size;
    console.log(
      `  ${f.padEnd(14)} ${(size / 1024 / 1024).toFixed(2).padStart(8)} MiB  ${result.manifest.files[f]?.sha256 ?? ''}`,
    );
  }
} catch (err) {
  console.error(`vm-image: ${(err as Error).message}`);
  process.exit(1);
}

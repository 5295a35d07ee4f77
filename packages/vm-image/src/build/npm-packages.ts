/** npm packages for the guest (Node's binary, koffi's prebuilt module), fetched with `npm pack`. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

export interface NpmTarball {
  name: string;
  version: string;
  file: string;
  sha256: string;
}

function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

export async function fetchNpmPackage(
  name: string,
  version: string,
  cacheDir: string,
): Promise<NpmTarball> {
  const dir = join(cacheDir, 'npm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, tarballName(name, version));
  if (!existsSync(file)) {
    // --ignore-scripts: nothing of the package runs on the build host.
    await run(
      'npm',
      ['pack', `${name}@${version}`, '--pack-destination', dir, '--ignore-scripts', '--silent'],
      {
        cwd: dir,
        timeoutMs: 600_000,
      },
    );
    if (!existsSync(file)) throw new Error(`npm pack ${name}@${version} did not write ${file}`);
  }
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { name, version, file, sha256 };
}

/** Unpacks a package tarball's `package/` directory into `into`. */
export async function unpackNpm(tarball: string, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', into, '--strip-components=1', '--no-same-owner']);
}

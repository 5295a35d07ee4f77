/**
 * berthd and the guest agent, each bundled by esbuild into one ESM file for the guest's Node.
 * Native modules stay outside the bundle: koffi finds its prebuilt binary through
 * `require('@koromix/koffi-linux-<arch>')`, resolved from node_modules next to the bundle.
 */
import { build } from 'esbuild';

/** CommonJS dependencies inside an ESM bundle still call require and read __dirname. */
const ESM_REQUIRE_SHIM = [
  "import { createRequire as __berthCreateRequire } from 'node:module';",
  "import { fileURLToPath as __berthFileURLToPath } from 'node:url';",
  "import { dirname as __berthDirname } from 'node:path';",
  'const require = __berthCreateRequire(import.meta.url);',
  'const __filename = __berthFileURLToPath(import.meta.url);',
  'const __dirname = __berthDirname(__filename);',
].join('\n');

export async function bundle(entry: string, outfile: string): Promise<void> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: ESM_REQUIRE_SHIM },
    // Native add-ons load at run time or are optional (ssh2 falls back to pure JS crypto).
    external: ['@koromix/*', 'cpu-features', '*.node'],
    logLevel: 'error',
  });
  if (result.errors.length > 0) throw new Error(`esbuild ${entry}: ${result.errors[0]?.text}`);
}

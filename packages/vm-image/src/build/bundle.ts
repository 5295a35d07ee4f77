/**
 * berthd and the guest services, bundled by esbuild for the guest's Node in one build: each
 * entry becomes `<name>.mjs`, and what they share (berthd for the engine service and berthd's
 * CLI; zod and the protocol for all) goes into chunks, stored once. Native modules stay
 * outside: koffi finds its prebuilt binary through `require('@koromix/koffi-linux-<arch>')`,
 * resolved from node_modules next to the output.
 */
import { readdirSync } from 'node:fs';
import { build, type Plugin } from 'esbuild';

/** CommonJS dependencies inside an ESM bundle still call require and read __dirname. */
const ESM_REQUIRE_SHIM = [
  "import { createRequire as __berthCreateRequire } from 'node:module';",
  "import { fileURLToPath as __berthFileURLToPath } from 'node:url';",
  "import { dirname as __berthDirname } from 'node:path';",
  'const require = __berthCreateRequire(import.meta.url);',
  'const __filename = __berthFileURLToPath(import.meta.url);',
  'const __dirname = __berthDirname(__filename);',
].join('\n');

/**
 * node:http and node:https reach the bundle through require, not an ESM import: importing them
 * as ESM builds their module facade, which reads every export, and one of them loads Node's
 * whole bundled undici (≈0.7 s of the guest's boot under emulation). Other built-ins stay ESM:
 * through require, each importing module would copy all their exports (esbuild's __toESM).
 */
const HTTP_VIA_REQUIRE: Plugin = {
  name: 'http-via-require',
  setup(b) {
    // The stub's own require of the built-in stays external (else it would require itself).
    b.onResolve({ filter: /^node:https?$/ }, (a) =>
      a.namespace === 'builtin'
        ? { path: a.path, external: true }
        : { path: a.path, namespace: 'builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(a.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * Bundles `entries` (output name → source file) into `outdir` as `<name>.mjs` plus shared
 * `chunk-<hash>.mjs` files; resolves with the names written, sorted. Chunk names are content
 * hashes, so the same sources give the same files.
 */
export async function bundle(
  entries: Record<string, string>,
  outdir: string,
  alias: Record<string, string> = {},
): Promise<string[]> {
  const result = await build({
    entryPoints: entries,
    outdir,
    bundle: true,
    splitting: true,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: ESM_REQUIRE_SHIM },
    plugins: [HTTP_VIA_REQUIRE],
    alias,
    // Native add-ons load at run time or are optional (ssh2 falls back to pure JS crypto).
    external: ['@koromix/*', 'cpu-features', '*.node'],
    logLevel: 'error',
  });
  const first = Object.values(entries)[0];
  if (result.errors.length > 0) throw new Error(`esbuild ${first}: ${result.errors[0]?.text}`);
  return readdirSync(outdir)
    .filter((f) => f.endsWith('.mjs'))
    .sort();
}

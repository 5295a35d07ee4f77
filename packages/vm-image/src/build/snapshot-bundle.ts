/**
 * `<service>-snapshot.cjs`: a guest service (the agent, or the engine: berthd) as one CommonJS
 * script for `node --build-snapshot` (the guest runs it, see agent/snapshot-build.ts). Its top
 * level only loads modules; the deserialised snapshot's main function starts the service.
 *
 * What a snapshot cannot hold waits for first use: the built-ins in SNAPSHOT_LAZY_BUILTINS become
 * proxies that require the real module on first property access (their export names come from
 * BERTH_SNAPSHOT_KEYS, because esbuild's interop enumerates them), and koffi, which dlopens its
 * native add-on when loaded, is loaded at its first call. Modules outside the script (koffi's
 * prebuilt binary) are required relative to the script's place in the guest. ssh2 is in, less
 * two parts the agent does not use and a snapshot cannot hold: its WebAssembly poly1305 (a
 * snapshot builder has no WebAssembly) and its HTTP agents (they subclass node:http's Agent).
 */
import { build, type Plugin } from 'esbuild';
import { SNAPSHOT_LAZY_BUILTINS } from '../agent/snapshot-build.js';

const LAZY = new RegExp(`^(node:)?(${SNAPSHOT_LAZY_BUILTINS.join('|')})$`);

/** `require` as the script sees it: built-ins from the snapshot's own, the rest from its path. */
const banner = (guestPath: string) =>
  [
    'var require = ((builtin) => {',
    '  let user;',
    "  const { isBuiltin, createRequire } = builtin('node:module');",
    `  return (id) => (isBuiltin(id) ? builtin(id) : (user ??= createRequire(${JSON.stringify(guestPath)}))(id));`,
    '})(require);',
    "var __berthBuiltinKeys = JSON.parse(require('node:fs').readFileSync(process.env.BERTH_SNAPSHOT_KEYS, 'utf8'));",
  ].join('\n');

const lazyModules = (koffiFrom: string): Plugin => ({
  name: 'snapshot-lazy-modules',
  setup(b) {
    b.onResolve({ filter: LAZY }, (a) =>
      a.namespace === 'lazy-builtin'
        ? { path: a.path, external: true }
        : { path: a.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => ({
      contents: [
        `const keys = __berthBuiltinKeys[${JSON.stringify(a.path)}];`,
        'let m;',
        `const load = () => (m ??= require(${JSON.stringify(`node:${a.path}`)}));`,
        'module.exports = new Proxy({}, {',
        '  get: (_, k) => load()[k],',
        '  has: (_, k) => keys.includes(k),',
        '  ownKeys: () => keys,',
        '  getOwnPropertyDescriptor: (_, k) =>',
        '    keys.includes(k) ? { configurable: true, enumerable: true, get: () => load()[k] } : undefined,',
        '});',
      ].join('\n'),
      loader: 'js',
    }));
    // ssh2's poly1305 is WebAssembly, compiled when ssh2 loads, and a snapshot builder has no
    // WebAssembly. It serves chacha20-poly1305 alone, which the agent does not offer (server.ts):
    // a stand-in that fails if it is ever called.
    b.onResolve({ filter: /[\\/]crypto[\\/]poly1305\.js$/ }, (a) =>
      a.importer.includes('ssh2') ? { path: 'poly1305', namespace: 'no-poly1305' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-poly1305' }, () => ({
      contents: [
        "const none = () => { throw new Error('chacha20-poly1305 is not available in the agent'); };",
        'module.exports = () => Promise.resolve({ _malloc: () => 0, cwrap: () => none });',
      ].join('\n'),
      loader: 'js',
    }));
    // ssh2's HTTP agents subclass node:http's Agent as ssh2 loads, which would load http (a
    // lazy built-in) into the snapshot; the agent only serves SSH and never uses them.
    b.onResolve({ filter: /[\\/]http-agents\.js$/ }, (a) =>
      a.importer.includes('ssh2')
        ? { path: 'http-agents', namespace: 'no-http-agents' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-http-agents' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
    // libc.ts's `import koffi from 'koffi'`: the real module (bundled) is evaluated at first use.
    b.onResolve({ filter: /^koffi$/ }, (a) =>
      a.namespace === 'lazy-koffi' ? undefined : { path: 'koffi', namespace: 'lazy-koffi' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-koffi' }, () => ({
      contents:
        "let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require('koffi'))[k] });",
      loader: 'js',
      resolveDir: koffiFrom,
    }));
  },
});

export async function bundleSnapshot(opts: {
  /** The service's module, and its export that starts it with `{ startedFrom }`. */
  main: string;
  run: string;
  outfile: string;
  /** The script's path in the guest: its require and import.meta.url resolve from there. */
  guestPath: string;
  /** Where the entry's imports and koffi resolve from (a package with node_modules above). */
  resolveDir: string;
  alias?: Record<string, string>;
}): Promise<void> {
  const entry = [
    "import { writeSync } from 'node:fs';",
    "import { startupSnapshot } from 'node:v8';",
    `import { ${opts.run} as run } from ${JSON.stringify(opts.main)};`,
    // process.stdout/stderr were made while the snapshot was built, around that process's pipes
    // (Node's own warnings touch them), and write nowhere after: write to this process's fds.
    'const direct = (fd: number) => (chunk: unknown, ...rest: unknown[]) => {',
    '  try {',
    "    writeSync(fd, typeof chunk === 'string' ? chunk : (chunk as Uint8Array));",
    '  } catch {}',
    "  const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;",
    '  done?.();',
    '  return true;',
    '};',
    'startupSnapshot.setDeserializeMainFunction(() => {',
    '  process.stdout.write = direct(1) as typeof process.stdout.write;',
    '  process.stderr.write = direct(2) as typeof process.stderr.write;',
    "  run({ startedFrom: 'snapshot' });",
    '});',
  ].join('\n');
  const result = await build({
    stdin: {
      contents: entry,
      resolveDir: opts.resolveDir,
      loader: 'ts',
      sourcefile: 'snapshot.ts',
    },
    outfile: opts.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: banner(opts.guestPath) },
    // berthd finds its package.json two levels above its entry, as from dist/cli/berthd.mjs.
    define: { 'import.meta.url': JSON.stringify(`file://${opts.guestPath}`) },
    ...(opts.alias ? { alias: opts.alias } : {}),
    plugins: [lazyModules(opts.resolveDir)],
    external: ['@koromix/*', 'cpu-features', '*.node'],
    logLevel: 'error',
  });
  if (result.errors.length > 0) throw new Error(`esbuild snapshot: ${result.errors[0]?.text}`);
}

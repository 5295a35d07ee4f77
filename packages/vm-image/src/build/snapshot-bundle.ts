/**
 * agent-snapshot.cjs: the agent and berthd as one CommonJS script for `node --build-snapshot`
 * (the guest runs it, see agent/snapshot-build.ts). Its top level only loads modules; the
 * deserialised snapshot's main function runs the agent, which starts berthd in-process.
 *
 * What a snapshot cannot hold waits for first use: the built-ins in SNAPSHOT_LAZY_BUILTINS become
 * proxies that require the real module on first property access (their export names come from
 * BERTH_SNAPSHOT_KEYS, because esbuild's interop enumerates them), and koffi, which dlopens its
 * native add-on when loaded, is loaded at its first call. Modules outside the script (koffi's
 * prebuilt binary) are required relative to the script's place in the guest. ssh2 stays out:
 * it compiles WebAssembly when loaded, which a snapshot builder does not have; the agent imports
 * it once berthd is up, as from the bundle.
 */
import { build, type Plugin } from 'esbuild';
import { SNAPSHOT_LAZY_BUILTINS, SNAPSHOT_SCRIPT } from '../agent/snapshot-build.js';

const LAZY = new RegExp(`^(node:)?(${SNAPSHOT_LAZY_BUILTINS.join('|')})$`);

/** `require` as the script sees it: built-ins from the snapshot's own, the rest from its path. */
const BANNER = [
  'var require = ((builtin) => {',
  '  let user;',
  "  const { isBuiltin, createRequire } = builtin('node:module');",
  `  return (id) => (isBuiltin(id) ? builtin(id) : (user ??= createRequire(${JSON.stringify(SNAPSHOT_SCRIPT)}))(id));`,
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
  agentMain: string;
  berthdMain: string;
  outfile: string;
  /** Where the entry's imports and koffi resolve from (a package with node_modules above). */
  resolveDir: string;
}): Promise<void> {
  const entry = [
    "import { writeSync } from 'node:fs';",
    "import { startupSnapshot } from 'node:v8';",
    `import { runBerthd } from ${JSON.stringify(opts.berthdMain)};`,
    `import { runAgent } from ${JSON.stringify(opts.agentMain)};`,
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
    '  runAgent({',
    "    startedFrom: 'snapshot',",
    '    startEngine: async (args) => {',
    "      process.argv = [process.argv[0], 'berthd', ...args];",
    '      runBerthd(args);',
    '    },',
    '  });',
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
    banner: { js: BANNER },
    // berthd finds its package.json two levels above its entry, as from dist/cli/berthd.mjs.
    define: { 'import.meta.url': JSON.stringify(`file://${SNAPSHOT_SCRIPT}`) },
    plugins: [lazyModules(opts.resolveDir)],
    external: ['@koromix/*', 'cpu-features', '*.node'],
    logLevel: 'error',
  });
  if (result.errors.length > 0) throw new Error(`esbuild snapshot: ${result.errors[0]?.text}`);
}

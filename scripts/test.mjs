#!/usr/bin/env node
// Runs every check and test in the repository and ends with the line
// `N passed, N failed[, N skipped]`. Steps: build (tsc -b), lint, format check, then every
// compiled `*.test.js` under the workspaces' dist folders with Node's test runner.
// `node scripts/test.mjs <filter>` runs only test files whose path contains <filter>.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const counts = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function step(name, cmd, args) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const ok = r.status === 0;
  counts[ok ? 'passed' : 'failed'] += 1;
  if (!ok) failures.push(name);
  console.log(`${ok ? '✔' : '✖'} ${name} (${Date.now() - started} ms)`);
  return ok;
}

function findTests(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) findTests(p, out);
    else if (entry.name.endsWith('.test.js') && p.includes(`${'/'}dist${'/'}`)) out.push(p);
  }
  return out;
}

const bin = (name) => join(root, 'node_modules', '.bin', name);
const built = step('build: tsc -b', bin('tsc'), ['-b']);
// Browser bundles (Vite) are built by the workspace's own `build` script.
const viteBuild = ['run', 'build', '--silent', '-w', 'apps/desktop'];
if (built) step('build: vite (apps/desktop)', 'npm', viteBuild);
if (filters.length === 0) {
  step('lint: eslint', bin('eslint'), ['.']);
  step('format: prettier --check', bin('prettier'), ['--check', '--log-level', 'warn', '.']);
}

if (built) {
  const files = ['packages', 'apps', 'e2e']
    .map((d) => join(root, d))
    .filter((d) => statSync(d, { throwIfNoEntry: false })?.isDirectory())
    .flatMap((d) => findTests(d))
    .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
    .sort();
  console.log(`running ${files.length} test files`);
  const stream = run({
    files,
    concurrency: Math.max(2, availableParallelism()),
    timeout: 10 * 60 * 1000,
  });
  stream.on('test:pass', (data) => {
    // A suite counts only when skipped whole: its tests are then never reported one by one.
    if (data.details?.type === 'suite' && !data.skip) return;
    if (data.skip || data.todo) counts.skipped += 1;
    else counts.passed += 1;
  });
  stream.on('test:fail', (data) => {
    if (data.details?.type === 'suite') return;
    counts.failed += 1;
    failures.push(`${relative(root, data.file ?? '')}: ${data.name}`);
  });
  const report = stream.compose(spec);
  report.pipe(process.stdout, { end: false });
  await finished(report);
}

if (failures.length) console.log(`\nfailed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
console.log(`\n${counts.passed} passed, ${counts.failed} failed${skipped}`);
process.exitCode = counts.failed === 0 ? 0 : 1;

#!/usr/bin/env node
// Pull benchmark (see packages/runtime/src/bench/pull.ts): skopeo copy (the floor) against
// docker pull and POST /images/create through fresh berthd daemons, 3 runs each, medians.
// Prints a table and writes bench-results/pull-<date>.json. Local only: a loopback registry.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { runPullBench } = await import(join(root, 'packages/runtime/dist/bench/pull.js'));

const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const result = await runPullBench({ repetitions, log: (l) => console.log(l) });

const mb = result.image.contentBytes / 1e6;
const row = (name, way) => {
  const ms = result.medians[way];
  const runs = result.runs[way].map((x) => x.toFixed(0)).join(', ');
  const ratio = way === 'skopeo' ? '1.00' : (ms / result.medians.skopeo).toFixed(2);
  return `| ${name.padEnd(28)} | ${ms.toFixed(0).padStart(7)} | ${(mb / (ms / 1000)).toFixed(1).padStart(6)} | ${ratio.padStart(5)} | ${runs}`;
};
console.log(
  `\nimage ${result.image.ref} (${result.image.layers} layers, ${mb.toFixed(0)} MB), ${repetitions} runs, medians`,
);
console.log('| way                          | ms      | MB/s   | ratio | runs (ms)');
console.log('|------------------------------|---------|--------|-------|----------');
console.log(row('skopeo copy → dir: (floor)', 'skopeo'));
console.log(row('docker pull via berthd', 'dockerPull'));
console.log(row('POST /images/create (berthd)', 'apiCreate'));
const dl = result.apiDownloadsDoneMs.map((x) => x.toFixed(0)).join(', ');
console.log(
  `API runs: last "Download complete" at ${dl} ms (the rest is unpacking and committing)`,
);
const worst = Math.max(result.ratios.dockerPull, result.ratios.apiCreate);
console.log(
  `\nberthd/skopeo: docker pull ${result.ratios.dockerPull.toFixed(2)}, API ${result.ratios.apiCreate.toFixed(2)} (target ≤ ${result.target}) ${worst <= result.target ? 'OK' : 'OVER TARGET'}`,
);

const outDir = join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `pull-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);

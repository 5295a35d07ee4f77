/**
 * The build benchmark: a 10-step Dockerfile (3 RUNs, a COPY, a WORKDIR, metadata steps) on
 * the test busybox image, built by the docker CLI (classic builder) through one berthd —
 * without cache (`--no-cache`) and with every step cached — against the latency of
 * `docker run --rm busybox true` and of a FROM-only build (sending and unpacking the
 * context: the floor of any build). Medians of `repetitions` runs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBerthd } from '../testing/berthd.js';
import { docker } from '../testing/docker-cli.js';
import { tempDir } from '../testing/process.js';
import { startRegistry } from '../testing/registry.js';
import { pushTestImage } from '../testing/test-images.js';
import { median } from './pull.js';

export type BuildBenchWay = 'uncached' | 'cached' | 'fromOnly' | 'runRm';

export interface BuildBenchResult {
  steps: number;
  repetitions: number;
  runs: Record<BuildBenchWay, number[]>;
  medians: Record<BuildBenchWay, number>;
  ratios: {
    /** cached rebuild / docker run --rm */
    cachedVsRun: number;
    /** cached rebuild / FROM-only build (context transfer + unpack) */
    cachedVsContext: number;
    /** uncached / cached */
    uncachedVsCached: number;
  };
  node: string;
  date: string;
}

const TIMEOUT = 300_000;

export function benchDockerfile(image: string): string {
  return [
    `FROM ${image}`,
    'ENV APP=/app GREETING=hello',
    'WORKDIR /app',
    'COPY data.txt ./',
    'RUN echo "$GREETING" > greeting.txt',
    'RUN wc -c data.txt > size.txt',
    'RUN mkdir -p /var/lib/app && cp greeting.txt /var/lib/app/',
    'LABEL bench=build',
    'EXPOSE 8080',
    'CMD ["cat", "/app/greeting.txt"]',
    '',
  ].join('\n');
}

export async function runBuildBench(opts: {
  repetitions: number;
  log?: (line: string) => void;
}): Promise<BuildBenchResult> {
  const log = opts.log ?? (() => undefined);
  const registry = await startRegistry();
  const ctx = tempDir('bench-build');
  const floor = tempDir('bench-build-floor');
  let berthd: Awaited<ReturnType<typeof startBerthd>> | undefined;
  try {
    const image = await pushTestImage(registry.host, 'busybox');
    berthd = await startBerthd();
    const host = berthd.dockerHost;
    const cli = async (args: string[]): Promise<number> => {
      const started = process.hrtime.bigint();
      const r = await docker(args, { host, env: { DOCKER_BUILDKIT: '0' }, timeoutMs: TIMEOUT });
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr || r.stdout}`);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    await cli(['pull', image.ref]);
    writeFileSync(join(ctx.path, 'Dockerfile'), benchDockerfile(image.ref));
    writeFileSync(join(ctx.path, 'data.txt'), 'x'.repeat(64 * 1024));
    writeFileSync(join(floor.path, 'Dockerfile'), `FROM ${image.ref}\n`);
    writeFileSync(join(floor.path, 'data.txt'), 'x'.repeat(64 * 1024));

    const runs: Record<BuildBenchWay, number[]> = {
      uncached: [],
      cached: [],
      fromOnly: [],
      runRm: [],
    };
    // Warm-up: fills the cache and the page cache.
    await cli(['build', '-t', 'bench-build', ctx.path]);
    await cli(['run', '--rm', image.ref, 'true']);
    for (let i = 0; i < opts.repetitions; i++) {
      runs.uncached.push(await cli(['build', '--no-cache', '-t', 'bench-build', ctx.path]));
      runs.cached.push(await cli(['build', '-t', 'bench-build', ctx.path]));
      runs.fromOnly.push(await cli(['build', '-t', 'bench-floor', floor.path]));
      runs.runRm.push(await cli(['run', '--rm', image.ref, 'true']));
      log(
        `run ${i + 1}: uncached ${runs.uncached[i]?.toFixed(0)} ms, cached ${runs.cached[i]?.toFixed(0)} ms, ` +
          `FROM-only ${runs.fromOnly[i]?.toFixed(0)} ms, run --rm ${runs.runRm[i]?.toFixed(0)} ms`,
      );
    }
    const medians = {
      uncached: median(runs.uncached),
      cached: median(runs.cached),
      fromOnly: median(runs.fromOnly),
      runRm: median(runs.runRm),
    };
    return {
      steps: 10,
      repetitions: opts.repetitions,
      runs,
      medians,
      ratios: {
        cachedVsRun: medians.cached / medians.runRm,
        cachedVsContext: medians.cached / medians.fromOnly,
        uncachedVsCached: medians.uncached / medians.cached,
      },
      node: process.version,
      date: new Date().toISOString(),
    };
  } finally {
    await berthd?.stop();
    await registry.stop();
    ctx.remove();
    floor.remove();
  }
}

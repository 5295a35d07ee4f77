/**
 * The pull benchmark: the same ~100 MB, 3-layer image pulled from a loopback registry by
 * skopeo into a `dir:` (the floor: transfer and digest checks, no unpacking), by the docker
 * CLI through a fresh berthd, and by a raw `POST /images/create` on a fresh berthd. Each way
 * runs `repetitions` times on an empty store; medians are compared.
 */
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startBerthd } from '../testing/berthd.js';
import { docker } from '../testing/docker-cli.js';
import { runOk, tempDir } from '../testing/process.js';
import { startRegistry } from '../testing/registry.js';
import { BIG_LAYER_BYTES, pushTestImage } from '../testing/test-images.js';

export interface PullBenchResult {
  image: { ref: string; digest: string; contentBytes: number; layers: number };
  repetitions: number;
  /** Milliseconds per run, in run order. */
  runs: Record<BenchWay, number[]>;
  medians: Record<BenchWay, number>;
  /** For the API runs: ms until the last layer's "Download complete", per run. */
  apiDownloadsDoneMs: number[];
  /** berthd median / skopeo median. */
  ratios: { dockerPull: number; apiCreate: number };
  target: number;
  /**
   * 1-, 5- and 15-minute load averages before and after the runs: on a shared machine the
   * ratios are only comparable between runs made at similar load.
   */
  load: { before: number[]; after: number[] };
  node: string;
  date: string;
}

export type BenchWay = 'skopeo' | 'dockerPull' | 'apiCreate';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * POST /images/create and read the progress stream to its end; throws on an in-band error.
 * Resolves with the milliseconds until the last "Download complete" (downloads done; the
 * rest of the time is unpacking and committing).
 */
function apiPull(socket: string, repository: string, tag: string): Promise<number> {
  const query = new URLSearchParams({ fromImage: repository, tag });
  const started = process.hrtime.bigint();
  let downloadsDone = 0;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method: 'POST',
        path: `/v1.41/images/create?${query.toString()}`,
        timeout: 300_000,
      },
      (res) => {
        let tail = '';
        let failure: string | undefined;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const text = tail + chunk;
          const parts = text.split('\n');
          tail = parts.pop() ?? '';
          for (const line of parts) {
            if (line.includes('"error"')) failure ??= line;
            if (line.includes('"Download complete"')) {
              downloadsDone = Number(process.hrtime.bigint() - started) / 1e6;
            }
          }
        });
        res.once('error', reject);
        res.once('end', () => {
          if (res.statusCode !== 200)
            reject(new Error(`POST /images/create: ${res.statusCode} ${tail}`));
          else if (failure !== undefined || tail.includes('"error"'))
            reject(new Error(failure ?? tail));
          else resolve(downloadsDone);
        });
      },
    );
    req.once('timeout', () => req.destroy(new Error('POST /images/create timed out')));
    req.once('error', reject);
    req.end();
  });
}

export async function runPullBench(
  opts: { repetitions?: number; log?: (line: string) => void } = {},
): Promise<PullBenchResult> {
  const repetitions = opts.repetitions ?? 3;
  const log = opts.log ?? (() => undefined);
  const registry = await startRegistry();
  const runs: Record<BenchWay, number[]> = { skopeo: [], dockerPull: [], apiCreate: [] };
  const apiDownloadsDoneMs: number[] = [];
  const loadBefore = loadavg();
  try {
    log('building and pushing the big image…');
    const big = await pushTestImage(registry.host, 'big');
    const repository = `${registry.host}/big`;
    for (let i = 1; i <= repetitions; i++) {
      const dir = tempDir('bench-skopeo');
      try {
        const ms = await timed(async () => {
          await runOk(
            'skopeo',
            [
              '--insecure-policy',
              'copy',
              '--quiet',
              '--src-tls-verify=false',
              `docker://${big.ref}`,
              `dir:${join(dir.path, 'img')}`,
            ],
            { timeoutMs: 300_000 },
          );
        });
        runs.skopeo.push(ms);
        log(`run ${i}: skopeo copy ${ms.toFixed(0)} ms`);
      } finally {
        dir.remove();
      }

      const d1 = await startBerthd();
      try {
        const ms = await timed(async () => {
          const r = await docker(['pull', big.ref], { host: d1.dockerHost, timeoutMs: 300_000 });
          if (r.code !== 0) throw new Error(`docker pull failed: ${r.stderr || r.stdout}`);
        });
        runs.dockerPull.push(ms);
        log(`run ${i}: docker pull ${ms.toFixed(0)} ms`);
      } finally {
        await d1.stop();
      }

      const d2 = await startBerthd();
      try {
        let downloaded = 0;
        const ms = await timed(async () => {
          downloaded = await apiPull(d2.socket, repository, 'latest');
        });
        runs.apiCreate.push(ms);
        apiDownloadsDoneMs.push(downloaded);
        log(
          `run ${i}: POST /images/create ${ms.toFixed(0)} ms (downloads done at ${downloaded.toFixed(0)} ms)`,
        );
      } finally {
        await d2.stop();
      }
    }
    const medians = {
      skopeo: median(runs.skopeo),
      dockerPull: median(runs.dockerPull),
      apiCreate: median(runs.apiCreate),
    };
    return {
      image: {
        ref: big.ref,
        digest: big.digest,
        contentBytes: BIG_LAYER_BYTES.reduce((a, b) => a + b, 0),
        layers: BIG_LAYER_BYTES.length,
      },
      repetitions,
      runs,
      medians,
      apiDownloadsDoneMs,
      ratios: {
        dockerPull: medians.dockerPull / medians.skopeo,
        apiCreate: medians.apiCreate / medians.skopeo,
      },
      target: 1.5,
      load: { before: loadBefore, after: loadavg() },
      node: process.version,
      date: new Date().toISOString(),
    };
  } finally {
    await registry.stop();
  }
}

/**
 * One engine under test with its surroundings: a loopback registry holding the standard test
 * images, a berthd on a private socket, and the docker CLI pointed at it. Integration test
 * files each start their own, so they run in parallel without sharing state.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { BERTHD_JS, startBerthd, type Berthd, type StartBerthdOptions } from './berthd.js';
import { docker, type DockerOptions, type DockerResult } from './docker-cli.js';
import { startRegistry, type Registry } from './registry.js';
import { pushStandardImages, type PushedImage } from './test-images.js';
import { skipUnless } from './tools.js';

/** What every docker-CLI integration test needs; missing ones skip the test. */
export const ENGINE_TEST_TOOLS = [
  'root',
  'docker-registry',
  'skopeo',
  'umoci',
  '/bin/busybox',
  'docker',
];

export const engineTestSkip = (): string | false => skipUnless(ENGINE_TEST_TOOLS);

export type StandardImages = Awaited<ReturnType<typeof pushStandardImages>>;

export interface EngineEnv {
  registry: Registry;
  berthd: Berthd;
  images: StandardImages;
  /** The docker CLI against this berthd. */
  docker(args: readonly string[], opts?: Omit<DockerOptions, 'host'>): Promise<DockerResult>;
  /** Like docker(), but throws with the output when the exit code is not 0. */
  dockerOk(args: readonly string[], opts?: Omit<DockerOptions, 'host'>): Promise<DockerResult>;
  /**
   * Like docker(), but asserts that the command fails and that its stderr holds `message`
   * (a substring, or a pattern); returns the result for more checks.
   */
  dockerFails(
    args: readonly string[],
    message: string | RegExp,
    opts?: Omit<DockerOptions, 'host'>,
  ): Promise<DockerResult>;
  /** Stops berthd and starts a fresh one (same data root unless `fresh`). */
  restart(opts?: { fresh?: boolean; kill?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export function describeResult(args: readonly string[], r: DockerResult): string {
  return `docker ${args.join(' ')} → exit ${r.code ?? r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

export async function startEngineEnv(
  opts: { berthd?: StartBerthdOptions } = {},
): Promise<EngineEnv> {
  if (!existsSync(BERTHD_JS)) throw new Error(`berthd is not built: ${BERTHD_JS} is missing`);
  const registry = await startRegistry();
  let berthd: Berthd | undefined;
  try {
    const images = await pushStandardImages(registry.host);
    berthd = await startBerthd(opts.berthd);
    const env: EngineEnv = {
      registry,
      berthd,
      images,
      docker: (args, o = {}) => docker(args, { ...o, host: env.berthd.dockerHost }),
      dockerOk: async (args, o = {}) => {
        const r = await env.docker(args, o);
        if (r.code !== 0) throw new Error(describeResult(args, r));
        return r;
      },
      dockerFails: async (args, message, o = {}) => {
        const r = await env.docker(args, o);
        const why = describeResult(args, r);
        assert.notEqual(r.code, 0, why);
        if (typeof message === 'string') assert.ok(r.stderr.includes(message), why);
        else assert.match(r.stderr, message, why);
        return r;
      },
      restart: async ({ fresh = false, kill = false } = {}) => {
        const old = env.berthd;
        if (kill) {
          await old.kill();
          if (fresh) rmSync(old.dataRoot, { recursive: true, force: true });
        } else {
          await old.stop('SIGTERM', { keepData: !fresh });
        }
        const data = fresh ? {} : { dataRoot: old.dataRoot, ownDataRoot: true };
        env.berthd = await startBerthd({ ...opts.berthd, ...data });
      },
      stop: async () => {
        await env.berthd.stop();
        await registry.stop();
      },
    };
    return env;
  } catch (e) {
    await berthd?.stop();
    await registry.stop();
    throw e;
  }
}

export type { PushedImage };

/**
 * The real docker CLI (Debian's docker.io client at /usr/bin/docker, else `docker` on PATH)
 * pointed at an engine by DOCKER_HOST, with its own config dir so nothing from the user's
 * ~/.docker (contexts, credentials, proxies) leaks in.
 */
import { processTempDir, run, type RunResult } from './process.js';
import { which } from './tools.js';

/** The docker CLI binary to use, or undefined when none is installed. */
export function dockerBinary(): string | undefined {
  return which('/usr/bin/docker') ?? which('docker');
}

const configDir = processTempDir('docker-config');

export interface DockerOptions {
  /** DOCKER_HOST, e.g. `unix:///tmp/…/berth.sock`. */
  host: string;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** DOCKER_CONFIG; default: one empty temp dir per test process. */
  configDir?: string;
  timeoutMs?: number;
}

export type DockerResult = RunResult;

export function docker(args: readonly string[], opts: DockerOptions): Promise<DockerResult> {
  const bin = dockerBinary();
  if (bin === undefined) throw new Error('no docker CLI installed');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DOCKER_')) env[k] = v;
  Object.assign(env, {
    DOCKER_HOST: opts.host,
    DOCKER_CONFIG: opts.configDir ?? configDir(),
    DOCKER_CLI_HINTS: 'false',
    NO_COLOR: '1',
    ...opts.env,
  });
  return run(bin, args, {
    env,
    cwd: opts.cwd,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}

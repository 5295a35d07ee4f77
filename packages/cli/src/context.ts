/** `berth context`: a docker context named `berth` on Berth's socket, made and used via docker. */
import { spawnSync } from 'node:child_process';
import { dockerBinary } from './docker.js';
import { dockerHost } from './engine.js';
import type { Io } from './io.js';

export const CONTEXT_NAME = 'berth';

export type ContextResult =
  | { ok: true; host: string }
  /** `code` 127: no docker CLI. */
  | { ok: false; code: number; message: string };

function dockerRun(io: Io, argv: string[]) {
  return spawnSync(dockerBinary(io.env), argv, { env: io.env, encoding: 'utf8', timeout: 30_000 });
}

/**
 * Creates the `berth` context on Berth's socket, or points an existing one back at it; the
 * user's current context is left alone (that is `berth context use`).
 */
export function ensureDockerContext(io: Io): ContextResult {
  const host = dockerHost(io.env);
  const failed = (r: ReturnType<typeof dockerRun>): ContextResult => ({
    ok: false,
    code: r.status ?? 1,
    message: r.stderr || r.error?.message || 'docker context failed',
  });
  const inspect = dockerRun(io, [
    'context',
    'inspect',
    CONTEXT_NAME,
    '--format',
    '{{.Endpoints.docker.Host}}',
  ]);
  if (inspect.error)
    return {
      ok: false,
      code: 127,
      message: `berth: cannot run the docker CLI (${inspect.error.message})\n`,
    };
  if (inspect.status !== 0) {
    const made = dockerRun(io, [
      'context',
      'create',
      CONTEXT_NAME,
      '--description',
      'Berth',
      '--docker',
      `host=${host}`,
    ]);
    if (made.status !== 0) return failed(made);
  } else if (inspect.stdout.trim() !== host) {
    const updated = dockerRun(io, ['context', 'update', CONTEXT_NAME, '--docker', `host=${host}`]);
    if (updated.status !== 0) return failed(updated);
  }
  return { ok: true, host };
}

export function contextCommand(args: readonly string[], io: Io): number {
  const ensured = ensureDockerContext(io);
  if (!ensured.ok) {
    io.err(ensured.message);
    return ensured.code;
  }
  const { host } = ensured;
  if (args[0] === 'use') {
    const used = dockerRun(io, ['context', 'use', CONTEXT_NAME]);
    if (used.status !== 0) {
      io.err(used.stderr);
      return used.status ?? 1;
    }
    io.out(`Now using the docker context "${CONTEXT_NAME}" (${host})\n`);
  } else {
    io.out(
      `docker context "${CONTEXT_NAME}" → ${host}\nUse it: docker --context ${CONTEXT_NAME} …, or: berth context use\nexport DOCKER_HOST=${host}\n`,
    );
  }
  return 0;
}

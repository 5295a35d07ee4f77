/** `berth context`: a docker context named `berth` on Berth's socket, made and used via docker. */
import { spawnSync } from 'node:child_process';
import { dockerBinary } from './docker.js';
import { dockerHost } from './engine.js';
import type { Io } from './io.js';

export const CONTEXT_NAME = 'berth';

export function contextCommand(args: readonly string[], io: Io): number {
  const docker = dockerBinary(io.env);
  const host = dockerHost(io.env);
  const run = (argv: string[]) =>
    spawnSync(docker, argv, { env: io.env, encoding: 'utf8', timeout: 30_000 });
  const inspect = run([
    'context',
    'inspect',
    CONTEXT_NAME,
    '--format',
    '{{.Endpoints.docker.Host}}',
  ]);
  if (inspect.error) {
    io.err(`berth: cannot run the docker CLI (${inspect.error.message})\n`);
    return 127;
  }
  if (inspect.status !== 0) {
    const made = run([
      'context',
      'create',
      CONTEXT_NAME,
      '--description',
      'Berth',
      '--docker',
      `host=${host}`,
    ]);
    if (made.status !== 0) {
      io.err(made.stderr);
      return made.status ?? 1;
    }
  } else if (inspect.stdout.trim() !== host) {
    const updated = run(['context', 'update', CONTEXT_NAME, '--docker', `host=${host}`]);
    if (updated.status !== 0) {
      io.err(updated.stderr);
      return updated.status ?? 1;
    }
  }
  if (args[0] === 'use') {
    const used = run(['context', 'use', CONTEXT_NAME]);
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

/**
 * Docker verbs: `berth run …` is `docker run …` against Berth's socket, so the output is
 * docker's own. The engine is checked first so a stopped VM gives Berth's message, not docker's.
 */
import { spawn } from 'node:child_process';
import { dockerHost, engineAnswers, notRunningMessage } from './engine.js';
import type { Io } from './io.js';

export const DOCKER_VERBS = [
  'run',
  'ps',
  'pull',
  'push',
  'images',
  'image',
  'container',
  'logs',
  'exec',
  'start',
  'stop',
  'restart',
  'kill',
  'rm',
  'rmi',
  'create',
  'inspect',
  'tag',
  'volume',
  'network',
  'info',
  'version',
  'events',
  'system',
  'attach',
  'cp',
  'port',
  'top',
  'stats',
  'wait',
  'save',
  'load',
  'login',
  'logout',
] as const;

export function dockerBinary(env: NodeJS.ProcessEnv): string {
  return env.BERTH_DOCKER ?? 'docker';
}

/** Runs the docker CLI with DOCKER_HOST on Berth's socket; resolves with its exit status. */
export function runDocker(
  args: readonly string[],
  io: Io,
  opts: { checkEngine?: boolean } = {},
): Promise<number> {
  const host = dockerHost(io.env);
  const go = async (): Promise<number> => {
    if (opts.checkEngine !== false && !(await engineAnswers(io.env))) {
      io.err(notRunningMessage(host));
      return 1;
    }
    // A docker context or DOCKER_CONTEXT would override DOCKER_HOST's intent: drop it.
    const env: NodeJS.ProcessEnv = { ...io.env, DOCKER_HOST: host };
    delete env.DOCKER_CONTEXT;
    return new Promise((resolve) => {
      const child = spawn(dockerBinary(io.env), args, { stdio: 'inherit', env });
      child.once('error', (e) => {
        io.err(`berth: cannot run the docker CLI (${e.message}); install docker's client\n`);
        resolve(127);
      });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
    });
  };
  return go();
}

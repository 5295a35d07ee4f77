/** docker-compose (Debian's v1, a real API client) against the berthd of an EngineEnv. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineEnv } from './engine-env.js';
import { run, type RunResult } from './process.js';

export interface ComposeProject {
  /** Writes `docker-compose.yml`: `version: "3"`, then `lines` (services, networks, volumes). */
  write(lines: readonly string[]): void;
  /** `docker-compose -p <project> <args>` in the project's folder (bounded: 120 s). */
  run(args: readonly string[]): Promise<RunResult>;
}

/** The project `name` with its compose file in `dir`; it follows `env` across restarts. */
export function composeProject(env: EngineEnv, name: string, dir: string): ComposeProject {
  return {
    write: (lines) =>
      writeFileSync(join(dir, 'docker-compose.yml'), ['version: "3"', ...lines, ''].join('\n')),
    run: (args) =>
      run('docker-compose', ['-p', name, ...args], {
        cwd: dir,
        env: {
          ...process.env,
          DOCKER_HOST: env.berthd.dockerHost,
          COMPOSE_INTERACTIVE_NO_CLI: '1',
        },
        timeoutMs: 120_000,
      }),
  };
}

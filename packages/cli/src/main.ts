/** The `berth` command: machine verbs, the docker context, completion, and docker verbs. */
import { contextCommand } from './context.js';
import { completionScript, TOP_LEVEL } from './completion.js';
import { DOCKER_VERBS, runDocker } from './docker.js';
import { UsageError, type Io } from './io.js';
import { machineCommand, MACHINE_VERBS } from './machine-commands.js';

export const USAGE = `Usage: berth COMMAND

Machine:
  berth machine init [--cpus N] [--memory MiB] [--disk GiB] [--share DIR[:ro]]... [--image DIR]
                     [--accel kvm,tcg] [--arch x86_64|aarch64] [--insecure-registry HOST:PORT]...
  berth machine ${MACHINE_VERBS.filter((v) => v !== 'init').join('|')} [--name NAME]

Docker:
  berth context [use]          a docker context "berth" on Berth's socket
  berth ${DOCKER_VERBS.slice(0, 9).join('|')}|…
                               the docker CLI against Berth's engine

  berth completion bash|zsh    shell completion
`;

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === 'machine') return await machineCommand(rest, io);
    if (command === 'context') return contextCommand(rest, io);
    if (command === 'completion') {
      io.out(completionScript(rest[0] ?? ''));
      return 0;
    }
    if ((DOCKER_VERBS as readonly string[]).includes(command))
      return await runDocker([command, ...rest], io);
    throw new UsageError(`unknown command "${command}"; one of: ${TOP_LEVEL.join(', ')}`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`berth: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** `berth machine init|start|stop|restart|status|rm|ssh|logs`. */
import { parseArgs } from 'node:util';
import {
  AgentLink,
  Machine,
  berthPaths,
  dockerHostFor,
  defaultImageDir,
  GuestArchSchema,
  hostArch,
  imageFromDir,
  readMachineKeys,
  startInBackground,
  type MachineStatus,
  type SharedFolder,
} from '@berth/machine';
import { CONTEXT_NAME, ensureDockerContext } from './context.js';
import { UsageError, type Io } from './io.js';
import { progressPrinter } from './progress-bar.js';

export const MACHINE_VERBS = [
  'init',
  'start',
  'stop',
  'restart',
  'status',
  'rm',
  'ssh',
  'logs',
] as const;

function machineFor(name: string | undefined, io: Io): Machine {
  return new Machine({ name: name ?? 'default', root: berthPaths(io.env.BERTH_HOME).root });
}

const nameOption = { name: { type: 'string', short: 'n' } } as const;

export async function machineCommand(argv: readonly string[], io: Io): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'init':
      return init(rest, io);
    case 'start':
      return start(rest, io);
    case 'stop':
      return stop(rest, io);
    case 'restart': {
      const code = await stop(rest, io);
      return code === 0 ? start(rest, io) : code;
    }
    case 'status':
      return status(rest, io);
    case 'rm':
      return remove(rest, io);
    case 'ssh':
      return ssh(rest, io);
    case 'logs':
      return logs(rest, io);
    default:
      throw new UsageError(
        `unknown machine command "${verb ?? ''}"; one of: ${MACHINE_VERBS.join(', ')}`,
      );
  }
}

function positiveInt(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive integer`);
  return n;
}

function describeShares(folders: readonly SharedFolder[]): string {
  return folders.map((f) => (f.readOnly ? `${f.hostPath} (read-only)` : f.hostPath)).join(', ');
}

async function init(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...nameOption,
      cpus: { type: 'string' },
      memory: { type: 'string' },
      disk: { type: 'string' },
      share: { type: 'string', multiple: true },
      'no-share': { type: 'boolean' },
      image: { type: 'string' },
      accel: { type: 'string' },
      arch: { type: 'string' },
      'insecure-registry': { type: 'string', multiple: true },
    },
  });
  const machine = machineFor(values.name, io);
  // Another architecture runs emulated (TCG): slow, but it is how the arm64 image is tried here.
  const parsedArch = GuestArchSchema.safeParse(values.arch ?? hostArch());
  if (!parsedArch.success)
    throw new UsageError(`--arch must be one of ${GuestArchSchema.options.join(', ')}`);
  const arch = parsedArch.data;
  const home = io.env.HOME;
  const shares = values['no-share'] ? [] : (values.share ?? (home ? [home] : []));
  const cpus = positiveInt(values.cpus, '--cpus');
  const memoryMiB = positiveInt(values.memory, '--memory');
  const diskGiB = positiveInt(values.disk, '--disk');
  const settings = await machine.init({
    arch,
    image: imageFromDir(values.image ?? defaultImageDir(arch)),
    sharedFolders: shares,
    ...(cpus ? { cpus } : {}),
    ...(memoryMiB ? { memoryMiB } : {}),
    ...(diskGiB ? { diskGiB } : {}),
    ...(values.accel ? { accelerators: values.accel.split(',') } : {}),
    ...(values['insecure-registry'] ? { insecureRegistries: values['insecure-registry'] } : {}),
  });
  io.out(
    `Machine "${settings.name}" created: ${settings.cpus} CPUs, ${settings.memoryMiB} MiB memory, ${settings.diskGiB} GiB disk` +
      (settings.sharedFolders.length ? `, sharing ${describeShares(settings.sharedFolders)}` : '') +
      `\nStart it: berth machine start\n`,
  );
  return 0;
}

async function start(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...nameOption, timeout: { type: 'string' } },
  });
  const machine = machineFor(values.name, io);
  machine.settings(); // fails early with "does not exist; run: berth machine init"
  const before = await machine.status();
  if (before.state === 'running') {
    io.out(`Machine "${machine.name}" is already running\n`);
    announceContext(io);
    return 0;
  }
  const progress = progressPrinter(io);
  try {
    await startInBackground({
      name: machine.name,
      root: machine.berth.root,
      timeoutMs: (positiveInt(values.timeout, '--timeout') ?? 300) * 1000,
      onEvent: (e) => progress.onEvent(e),
    });
  } finally {
    progress.done();
  }
  io.out(
    `Machine "${machine.name}" is running. DOCKER_HOST=${dockerHostFor(machine.dockerSocket)}\n`,
  );
  announceContext(io);
  return 0;
}

/**
 * `berth machine start && docker --context berth …` works without a `berth context` first, as
 * Docker Desktop makes its context when it starts. Without a docker CLI there is nothing to do.
 */
function announceContext(io: Io): void {
  const ensured = ensureDockerContext(io);
  if (ensured.ok) io.out(`docker context "${CONTEXT_NAME}" → ${ensured.host}\n`);
  else if (ensured.code !== 127)
    io.err(`berth: could not make the docker context "${CONTEXT_NAME}": ${ensured.message}`);
}

async function stop(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { ...nameOption } });
  const machine = machineFor(values.name, io);
  await machine.stop();
  io.out(`Machine "${machine.name}" stopped\n`);
  return 0;
}

function describe(s: MachineStatus): string {
  const lines = [
    `Machine:  ${s.name}`,
    `State:    ${s.state}${s.message ? ` (${s.message})` : ''}`,
  ];
  if (s.settings) {
    lines.push(
      `Driver:   ${s.driver ?? s.settings.driver}${s.accelerator ? ` (${s.accelerator})` : ''}`,
    );
    lines.push(
      `Size:     ${s.settings.cpus} CPUs, ${s.settings.memoryMiB} MiB, ${s.settings.diskGiB} GiB disk`,
    );
    if (s.settings.sharedFolders.length)
      lines.push(`Shares:   ${describeShares(s.settings.sharedFolders)}`);
  }
  if (s.pid) lines.push(`VM pid:   ${s.pid}`);
  lines.push(
    `Engine:   ${s.engineReachable ? 'answering' : 'not answering'} at ${dockerHostFor(s.dockerSocket)}`,
  );
  return `${lines.join('\n')}\n`;
}

async function status(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...nameOption, json: { type: 'boolean' } },
  });
  const s = await machineFor(values.name, io).status();
  io.out(values.json ? `${JSON.stringify(s, null, 2)}\n` : describe(s));
  // Scripts can branch on it: 0 only when the engine answers.
  return s.state === 'running' ? 0 : s.state === 'absent' ? 2 : 1;
}

async function remove(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { ...nameOption, force: { type: 'boolean', short: 'f' } },
  });
  const machine = machineFor(values.name, io);
  const s = await machine.status();
  if (s.state === 'absent') throw new Error(`machine "${machine.name}" does not exist`);
  if ((s.state === 'running' || s.state === 'starting') && !values.force) {
    throw new Error(`machine "${machine.name}" is running; stop it first or use --force`);
  }
  await machine.delete();
  io.out(`Machine "${machine.name}" removed\n`);
  return 0;
}

async function logs(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...nameOption,
      follow: { type: 'boolean', short: 'f' },
      previous: { type: 'boolean' },
    },
  });
  const machine = machineFor(values.name, io);
  machine.settings();
  if (!values.follow) {
    io.out(machine.logs({ previous: values.previous ?? false }));
    return 0;
  }
  const tail = machine.followLogs((line) => io.out(`${line}\n`), { fromStart: true });
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  tail.close();
  return 0;
}

/** A shell (or one command) in the guest over the agent's SSH, with a pty on a terminal. */
async function ssh(args: readonly string[], io: Io): Promise<number> {
  // Everything from the first word on is the guest's command, options included (`ssh uname -m`).
  let first = 0;
  while (first < args.length && args[first]!.startsWith('-') && args[first] !== '--')
    first += args[first] === '--name' || args[first] === '-n' ? 2 : 1;
  const { values } = parseArgs({ args: args.slice(0, first), options: { ...nameOption } });
  const positionals = args.slice(args[first] === '--' ? first + 1 : first);
  const machine = machineFor(values.name, io);
  const agent = await machine.driver().guestAgent();
  if (!agent) throw new Error(`machine "${machine.name}" is not running; try: berth machine start`);
  const keys = readMachineKeys(machine.paths);
  const link = new AgentLink({
    address: () => Promise.resolve(agent),
    clientKey: keys.clientPrivate,
    hostKey: keys.hostPublic,
    maxBackoffMs: 1000,
  });
  try {
    const tty = Boolean(process.stdin.isTTY);
    const pty = tty
      ? { term: io.env.TERM ?? 'xterm', rows: process.stdout.rows, cols: process.stdout.columns }
      : undefined;
    const channel =
      positionals.length === 0
        ? await link.shell(pty ?? false, 15_000)
        : await link.exec(positionals.join(' '), pty ? { pty } : {}, 15_000);
    if (tty) process.stdin.setRawMode(true);
    process.stdin.pipe(channel);
    channel.pipe(process.stdout);
    channel.stderr.pipe(process.stderr);
    const code = await new Promise<number>((resolve) => {
      let exit = 0;
      channel.on('exit', (c: number | null) => (exit = c ?? 1));
      channel.once('close', () => resolve(exit));
    });
    if (tty) process.stdin.setRawMode(false);
    process.stdin.unpipe(channel);
    process.stdin.pause();
    return code;
  } finally {
    await link.close();
  }
}

/**
 * `berthd`: the engine daemon's command line. Flag names follow dockerd's so scripts and
 * habits carry over. Usage errors exit 2, start-up failures exit 1, a clean stop exits 0;
 * none of them prints a stack trace unless --debug.
 */
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DaemonStartError, parseHost, startDaemon, type Daemon } from '../daemon.js';
import { isLogLevel, type LogLevel } from '../logging/logger.js';
import { buildInfo } from './build-info.js';

interface Defaults {
  dataRoot: string;
  execRoot: string;
  host: string;
}

function defaults(): Defaults {
  if (process.getuid?.() === 0) {
    return {
      dataRoot: '/var/lib/berth',
      execRoot: '/run/berth',
      host: 'unix:///run/berth/berth.sock',
    };
  }
  const base = join(homedir(), '.berth');
  return {
    dataRoot: join(base, 'data'),
    execRoot: join(base, 'run'),
    host: `unix://${join(base, 'run', 'berth.sock')}`,
  };
}

function usage(d: Defaults): string {
  return `Usage:  berthd [OPTIONS]

Berth's container engine: serves the Docker Engine API on a unix socket.

Options:
      --data-root string          Root directory of persistent state (default "${d.dataRoot}")
  -D, --debug                     Enable debug mode (log debug lines, also to stderr)
      --exec-root string          Root directory for execution state files (default "${d.execRoot}")
  -h, --help                      Print usage
  -H, --host list                 Daemon socket(s) to listen on: unix:///path.sock, or
                                  tcp://127.0.0.1:PORT (default ${d.host})
      --host-gateway-ip ip        IP address that the special 'host-gateway' string in
                                  --add-host resolves to; containers also get
                                  host.docker.internal pointing at it
      --init-path string          Path to the static init binary run --init uses (default
                                  /usr/bin/docker-init, else /usr/bin/tini-static)
      --insecure-registry list    Registries (host[:port] or CIDR) to reach over plain HTTP
      --ip ip                     Default IP when binding container ports (default 127.0.0.1)
  -l, --log-level string          Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
                                  (default "info")
  -p, --pidfile string            Path to use for daemon PID file (default "<exec-root>/berthd.pid")
  -v, --version                   Print version information and quit
`;
}

class UsageError extends Error {}

const OPTIONS = {
  host: { type: 'string', short: 'H', multiple: true },
  'data-root': { type: 'string' },
  'exec-root': { type: 'string' },
  pidfile: { type: 'string', short: 'p' },
  'insecure-registry': { type: 'string', multiple: true },
  'host-gateway-ip': { type: 'string' },
  ip: { type: 'string' },
  'init-path': { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  debug: { type: 'boolean', short: 'D' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false })
      .values;
  } catch (err) {
    // node:util's messages name the option in quotes; say it the way dockerd does.
    const e = err as NodeJS.ErrnoException;
    const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
    const flag = quoted.split(' ')[0] ?? quoted;
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown flag: ${flag}`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new UsageError(`flag needs an argument: ${flag}`);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`"berthd" accepts no arguments (got ${flag})`);
      default:
        throw new UsageError(e.message);
    }
  }
}

function logLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  if (value === 'fatal') return 'error';
  if (!isLogLevel(value)) throw new UsageError(`invalid log level: ${value}`);
  return value;
}

async function main(argv: string[], listening: () => void): Promise<number> {
  const d = defaults();
  const flags = parse(argv);
  if (flags.help) {
    process.stdout.write(usage(d));
    return 0;
  }
  const build = buildInfo();
  if (flags.version) {
    process.stdout.write(`Berth engine version ${build.version}, build ${build.gitCommit}\n`);
    return 0;
  }
  const level = logLevel(flags['log-level']);
  const debug = flags.debug ?? false;
  const hosts = flags.host ?? [d.host];
  for (const host of hosts) {
    if (parseHost(host).kind === 'tcp') {
      process.stderr.write(
        `berthd: WARNING: the API on ${host} is unencrypted and unauthenticated: ` +
          `every local user can use it as root\n`,
      );
    }
  }
  const insecure = flags['insecure-registry'] ?? [];
  for (const registry of insecure) {
    if (registry.includes('://')) {
      throw new UsageError(`insecure registry ${registry} should not contain '://'`);
    }
  }
  const hostGatewayIp = flags['host-gateway-ip'];
  if (hostGatewayIp !== undefined && isIP(hostGatewayIp) === 0) {
    throw new UsageError(`invalid IP address in --host-gateway-ip: ${hostGatewayIp}`);
  }
  const defaultBindIp = flags.ip;
  if (defaultBindIp !== undefined && isIP(defaultBindIp) !== 4) {
    throw new UsageError(`invalid IPv4 address in --ip: ${defaultBindIp}`);
  }
  const execRoot = resolve(flags['exec-root'] ?? d.execRoot);
  const daemon = await startDaemon({
    hosts,
    dataRoot: resolve(flags['data-root'] ?? d.dataRoot),
    execRoot,
    pidfile: resolve(flags.pidfile ?? join(execRoot, 'berthd.pid')),
    insecureRegistries: insecure,
    ...(hostGatewayIp ? { hostGatewayIp } : {}),
    ...(defaultBindIp ? { defaultBindIp } : {}),
    ...(flags['init-path'] ? { initPath: resolve(flags['init-path']) } : {}),
    version: build.version,
    gitCommit: build.gitCommit,
    buildTime: build.buildTime,
    debug,
    logLevel: level ?? (debug ? 'debug' : 'info'),
    logToStderr: debug,
  });
  process.stderr.write(`berthd: API listening on ${daemon.addresses.join(', ')}\n`);
  listening();
  // A bug that escapes every handler leaves the engine in an unknown state: record it in the
  // log, then die. The next start replaces the stale socket and pidfile and repairs stores.
  const crash = (kind: string) => (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    daemon.engine.logger.error(kind, { err: e, stack: e.stack });
    process.stderr.write(`berthd: ${kind}: ${e.stack ?? e.message}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled rejection'));
  return waitForSignal(daemon);
}

function waitForSignal(daemon: Daemon): Promise<number> {
  return new Promise((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        daemon.engine.logger.warn('second signal: exiting at once', { signal });
        resolveExit(1);
        return;
      }
      stopping = true;
      daemon.engine.logger.info('signal received', { signal });
      daemon.close().then(
        () => resolveExit(0),
        (err: unknown) => {
          process.stderr.write(`berthd: error while stopping: ${(err as Error).message}\n`);
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // dockerd reloads its config on SIGHUP; berthd has nothing to reload, but must not die.
    process.on('SIGHUP', () => daemon.engine.logger.info('SIGHUP ignored: nothing to reload'));
  });
}

/**
 * Runs berthd with `argv` (the flags, without node and the script) and exits the process with
 * its status. Nothing is read from the environment before this is called, so a V8 startup
 * snapshot of the loaded modules (the VM's agent) starts the same daemon. The promise resolves
 * once the API listens (for a process that runs berthd in itself); it never rejects, because a
 * failed start ends the process.
 */
export function runBerthd(argv: string[]): Promise<void> {
  // zod compiles a parser for each schema at its first use; interpreting it is cheaper for the
  // few records a daemon validates, and the start-up then compiles nothing (~40 ms a schema
  // under the VM's emulation).
  z.config({ jitless: true });
  const debugFlag = argv.includes('-D') || argv.includes('--debug');
  let listening!: () => void;
  const started = new Promise<void>((resolve) => (listening = resolve));
  main(argv, listening).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`berthd: ${err.message}\nSee 'berthd --help'.\n`);
        process.exit(2);
      }
      // A known start-up failure is the whole story; anything else gets its stack with --debug.
      const e = err instanceof Error ? err : new Error(String(err));
      const detail = debugFlag && !(err instanceof DaemonStartError) ? `\n${e.stack ?? ''}` : '';
      process.stderr.write(`berthd: ${e.message}${detail}\n`);
      process.exit(1);
    },
  );
  return started;
}

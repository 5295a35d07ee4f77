/**
 * Where Berth keeps machine state on the host. Everything lives under one root (default
 * `~/.berth`; tests pass a temp dir) so `delete` can remove exactly what it made:
 *
 *   <root>/machines/<name>/machine.json   settings (MachineSettings)
 *   <root>/machines/<name>/keys/           ed25519 host and client keys
 *   <root>/machines/<name>/data.img        persistent data disk (sparse raw)
 *   <root>/machines/<name>/serial.log      the guest's console
 *   <root>/machines/<name>/host.log        the host side's events (JSON lines)
 *   <root>/machines/<name>/run/            pid files, QMP socket, the boot's guest config
 *   <root>/run/docker.sock                 the engine, for the docker CLI (0600)
 *   <root>/accelerators.json               accelerators whose probe failed on this host
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface BerthPaths {
  root: string;
  machinesDir: string;
  runDir: string;
  /** The host socket the docker CLI talks to (a named pipe on Windows). */
  dockerSocket: string;
  /** Accelerators that failed their probe on this host (shared by all machines). */
  acceleratorVerdicts: string;
  machine(name: string): MachinePaths;
}

export interface MachinePaths {
  dir: string;
  settings: string;
  keysDir: string;
  hostKey: string;
  hostKeyPub: string;
  clientKey: string;
  clientKeyPub: string;
  dataDisk: string;
  serialLog: string;
  hostLog: string;
  runDir: string;
  /** Pid of the host process that keeps the bridge (`berth machine start`'s detached child). */
  hostPid: string;
}

export function defaultRoot(): string {
  return process.env.BERTH_HOME ?? join(homedir(), '.berth');
}

export function berthPaths(root: string = defaultRoot()): BerthPaths {
  const machinesDir = join(root, 'machines');
  const runDir = join(root, 'run');
  return {
    root,
    machinesDir,
    runDir,
    dockerSocket:
      process.platform === 'win32'
        ? '\\\\.\\pipe\\berth-docker-engine'
        : join(runDir, 'docker.sock'),
    acceleratorVerdicts: join(root, 'accelerators.json'),
    machine(name: string): MachinePaths {
      const dir = join(machinesDir, name);
      const keysDir = join(dir, 'keys');
      const run = join(dir, 'run');
      return {
        dir,
        settings: join(dir, 'machine.json'),
        keysDir,
        hostKey: join(keysDir, 'ssh_host_ed25519_key'),
        hostKeyPub: join(keysDir, 'ssh_host_ed25519_key.pub'),
        clientKey: join(keysDir, 'id_ed25519'),
        clientKeyPub: join(keysDir, 'id_ed25519.pub'),
        dataDisk: join(dir, 'data.img'),
        serialLog: join(dir, 'serial.log'),
        hostLog: join(dir, 'host.log'),
        runDir: run,
        hostPid: join(run, 'host.pid'),
      };
    },
  };
}

/** DOCKER_HOST for the engine socket: `unix://…`, or `npipe:////./pipe/…` on Windows. */
export function dockerHostFor(socket: string): string {
  const pipe = /^\\\\\.\\pipe\\(.+)$/.exec(socket);
  return pipe ? `npipe:////./pipe/${pipe[1]}` : `unix://${socket}`;
}

/** The same socket as @berth/engine-client addresses it (Node connects to pipes by path). */
export function engineClientHost(socket: string): string {
  return `unix://${socket}`;
}

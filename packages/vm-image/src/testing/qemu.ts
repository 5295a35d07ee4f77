/**
 * Boots a built image under QEMU for tests: TCG, user networking with the agent's port
 * forwarded to 127.0.0.1 only, the guest config over fw_cfg, the serial console captured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Manifest } from '../build/manifest.js';
import { AGENT_PORT, FW_CFG_NAME, parseStageLine, type BootStage } from '../agent/protocol.js';

export interface BootOptions {
  imageDir: string;
  manifest: Manifest;
  dataDisk: string;
  configFile: string;
  memoryMiB?: number;
  cpus?: number;
}

export interface BootedGuest {
  /** 127.0.0.1 port forwarded to the agent. */
  sshPort: number;
  process: ChildProcess;
  /** Everything the serial console printed so far. */
  serial(): string;
  /** Wall ms since QEMU started at which each stage line arrived. */
  stageTimes(): Record<string, number>;
  /** Resolves with ms since QEMU started when the stage appears; rejects on failure or timeout. */
  waitForStage(stage: BootStage, timeoutMs: number): Promise<number>;
  /** Resolves when QEMU exits; kills it after timeoutMs. */
  waitForExit(timeoutMs: number): Promise<number | null>;
  kill(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function bootGuest(opts: BootOptions): Promise<BootedGuest> {
  const sshPort = await freePort();
  const started = Date.now();
  const args = [
    ...['-accel', 'tcg', '-m', String(opts.memoryMiB ?? 1024), '-smp', String(opts.cpus ?? 2)],
    ...['-display', 'none', '-no-reboot', '-nodefaults', '-serial', 'stdio', '-monitor', 'none'],
    ...['-kernel', join(opts.imageDir, opts.manifest.files.vmlinux ? 'vmlinux' : 'vmlinuz')],
    ...['-initrd', join(opts.imageDir, 'initramfs.img')],
    ...['-append', opts.manifest.cmdline],
    ...['-drive', `file=${join(opts.imageDir, 'system.img')},format=raw,if=virtio,readonly=on`],
    ...['-drive', `file=${opts.dataDisk},format=raw,if=virtio`],
    ...['-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${sshPort}-:${AGENT_PORT}`],
    ...['-device', 'virtio-net-pci,netdev=net0,romfile='],
    ...['-fw_cfg', `name=${FW_CFG_NAME},file=${opts.configFile}`],
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let serial = '';
  let partial = '';
  const times: Record<string, number> = {};
  const waiters = new Set<() => void>();
  const onData = (c: Buffer) => {
    serial += c.toString('utf8');
    const lines = (partial + c.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const s = parseStageLine(line);
      if (s && times[s.stage] === undefined) times[s.stage] = Date.now() - started;
    }
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  return {
    sshPort,
    process: child,
    serial: () => serial,
    stageTimes: () => ({ ...times }),
    waitForStage(stage, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of serial.split('\n')) {
            const s = parseStageLine(line);
            if (s?.stage === 'failed') return done(new Error(`guest failed: ${s.detail}`));
            if (s?.stage === stage) return done(undefined, Date.now() - started);
          }
          if (exitCode !== undefined) done(new Error(`QEMU exited (${exitCode}) before ${stage}`));
        };
        const timer = setTimeout(
          () =>
            done(new Error(`no ${stage} within ${timeoutMs} ms; serial:\n${serial.slice(-3000)}`)),
          timeoutMs,
        );
        const done = (err?: Error, ms?: number) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(ms ?? 0);
        };
        waiters.add(check);
        check();
      });
    },
    async waitForExit(timeoutMs) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill() {
      if (exitCode === undefined) child.kill('SIGKILL');
    },
  };
}

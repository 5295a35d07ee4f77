/**
 * Published ports through QEMU user networking's own `hostfwd` (slirp), added and removed at
 * run time over QMP: QEMU listens on the host and connects to the guest's user-net address,
 * so the bytes skip the agent's ssh2 channel (encryption and copies in an emulated guest).
 */
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, isIPv4 } from 'node:net';
import { z } from 'zod';
import { PortForwardError, type NativePortForwarder } from '../../driver.js';
import { qmpExecute } from './qmp.js';

/** The user-net netdev of every QEMU boot (see args.ts). */
export const USER_NETDEV = 'net0';

type Proto = 'tcp' | 'udp';

const RulesSchema = z.array(
  z.object({ proto: z.enum(['tcp', 'udp']), hostIp: z.string(), hostPort: z.number().int() }),
);
type Rule = z.infer<typeof RulesSchema>[number];

/** HMP `hostfwd_add`, run through QMP's human-monitor-command (QMP has no command of its own). */
export function hostfwdAddCommand(
  proto: Proto,
  hostIp: string,
  hostPort: number,
  guestPort: number,
): string {
  return `hostfwd_add ${USER_NETDEV} ${proto}:${hostIp}:${hostPort}-:${guestPort}`;
}

export function hostfwdRemoveCommand(proto: Proto, hostIp: string, hostPort: number): string {
  return `hostfwd_remove ${USER_NETDEV} ${proto}:${hostIp}:${hostPort}`;
}

/** HMP answers with text: empty on success, a message otherwise. */
export function hmpFailure(answer: unknown): string | undefined {
  const text = typeof answer === 'string' ? answer.trim() : '';
  return text === '' ? undefined : text;
}

/** Why the host cannot bind address:port itself, or undefined when it can. */
function probeBind(proto: Proto, address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const fail = (e: NodeJS.ErrnoException) =>
      resolve(
        e.code === 'EADDRINUSE'
          ? `port ${address}:${port} is already in use on the host`
          : `cannot listen on ${address}:${port}: ${e.message}`,
      );
    if (proto === 'udp') {
      const sock = createSocket('udp4');
      sock.once('error', fail);
      sock.bind({ address, port, exclusive: true }, () => sock.close(() => resolve(undefined)));
      return;
    }
    const server = createServer();
    server.once('error', fail);
    server.listen({ host: address, port, exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
}

export class QemuHostForwarder implements NativePortForwarder {
  /**
   * @param rulesFile where the rules this guest got are listed, so that a later host process
   *   can clear them (it lives in the run dir, which goes with the guest).
   */
  constructor(
    private readonly qmpSocket: string,
    private readonly rulesFile: string,
  ) {}

  supports(_proto: Proto, hostIp: string): boolean {
    // QEMU 7.2's slirp hostfwd parses IPv4 host addresses only.
    return isIPv4(hostIp);
  }

  async add(proto: Proto, hostIp: string, hostPort: number, guestPort: number): Promise<void> {
    // A rule this guest already has (a host process restarted beside a running VM) is replaced.
    await this.remove(proto, hostIp, hostPort);
    const why = hmpFailure(await this.hmp(hostfwdAddCommand(proto, hostIp, hostPort, guestPort)));
    if (why === undefined) {
      this.record([...this.rules(), { proto, hostIp, hostPort }]);
      return;
    }
    // QEMU says only that it could not; the host's own bind says why.
    throw new PortForwardError((await probeBind(proto, hostIp, hostPort)) ?? why);
  }

  async remove(proto: Proto, hostIp: string, hostPort: number): Promise<void> {
    await this.hmp(hostfwdRemoveCommand(proto, hostIp, hostPort));
    const same = (r: Rule) => r.proto === proto && r.hostIp === hostIp && r.hostPort === hostPort;
    const rules = this.rules();
    if (rules.some(same)) this.record(rules.filter((r) => !same(r)));
  }

  async reset(): Promise<void> {
    for (const r of this.rules()) await this.remove(r.proto, r.hostIp, r.hostPort);
  }

  private rules(): Rule[] {
    try {
      return RulesSchema.parse(JSON.parse(readFileSync(this.rulesFile, 'utf8')));
    } catch {
      return [];
    }
  }

  private record(rules: Rule[]): void {
    writeFileSync(this.rulesFile, `${JSON.stringify(rules)}\n`, { mode: 0o600 });
  }

  private hmp(commandLine: string): Promise<unknown> {
    return qmpExecute(this.qmpSocket, 'human-monitor-command', { 'command-line': commandLine });
  }
}

/**
 * The contract between the host (packages/machine) and the guest (the boot scripts and the
 * agent built by packages/vm-image). Both sides import this file; nothing else about the guest
 * is an interface.
 *
 * Transport: SSH (npm `ssh2`) to the agent on guest TCP port {@link AGENT_PORT}; with QEMU
 * user networking the host reaches it as `hostfwd=tcp:127.0.0.1:HOSTPORT-:22`. The agent
 * accepts exactly one user, {@link AGENT_USER}, with public-key auth against the keys in the
 * {@link GuestConfig}; there is no password or keyboard-interactive auth.
 *
 * Channels the agent serves:
 * - `direct-streamlocal@openssh.com` (ssh2 client: `openssh_forwardOutStreamLocal(path)`) to
 *   {@link ENGINE_SOCKET} only: one Docker Engine API connection per channel, byte for byte,
 *   so hijacked attach/exec streams work unchanged. Any other path is refused.
 * - `direct-tcpip` (ssh2 client: `forwardOut(srcIP, srcPort, dstIP, dstPort)`) to a guest
 *   port: published TCP ports; the host connects to `127.0.0.1:<guestPort>` of a
 *   {@link PublishedPort}. Only loopback destinations in the guest are accepted.
 * - `session` + `exec`: a command run by `/bin/sh -c` in the guest as root (pty if requested),
 *   for `berth machine ssh`; `shell` gives an interactive shell. Exit status is returned.
 *   A clean stop is `exec poweroff` (the channel may close without an exit status).
 *   Two exec commands are reserved for the agent itself (never run by the shell):
 *   {@link EXEC_EVENTS} and {@link udpExecCommand}.
 * - `session` + `exec` {@link EXEC_EVENTS}: the event channel. The agent writes one JSON
 *   {@link AgentEvent} per line (NDJSON): first `hello`, then a full `ports` snapshot, and a new
 *   snapshot whenever the set of published ports changes (driven by berthd's /events, not by
 *   polling). The host writes nothing; closing the channel unsubscribes.
 * - `session` + `exec` `udpExecCommand(port)`: UDP forwarding for one published UDP port.
 *   Both directions carry datagrams framed as a 2-byte big-endian length and the payload
 *   ({@link encodeDatagram}/{@link DatagramDecoder}); the agent sends each to
 *   127.0.0.1:<port> from one socket per channel and frames replies back. The host opens one
 *   channel per (host client address, port) pair.
 *
 * Boot progress: the guest prints `berth-stage: <stage>` lines ({@link BOOT_STAGE_PREFIX},
 * {@link BootStage}) on the serial console (ttyS0 on x86_64, ttyAMA0 on aarch64), and
 * `berth-stage: failed <reason>` when it gives up. `ready` means the agent listens and berthd
 * answered `/_ping`.
 *
 * Configuration: the host hands the guest one JSON {@link GuestConfig} either as the QEMU
 * firmware config entry {@link FW_CFG_NAME} (`-fw_cfg name=opt/berth/config,file=PATH`), or,
 * for hypervisors without fw_cfg, as a raw disk image made by {@link encodeConfigDisk}
 * (attach it read-only as any extra virtio block device; the guest finds it by its magic).
 *
 * Disks: the system image is found by its squashfs magic and the data disk by its ext4 label
 * {@link DATA_DISK_LABEL} (a disk that is all zeros in its first MiB is formatted with that
 * label on first boot). The conventional order is system, data, config.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const AGENT_PORT = 22;
export const AGENT_USER = 'berth';
/** berthd's API socket inside the guest. */
export const ENGINE_SOCKET = '/run/berth/berth.sock';
/** berthd's data root inside the guest: the data disk's mount point. */
export const GUEST_DATA_ROOT = '/var/lib/berth';
export const DATA_DISK_LABEL = 'berth-data';
/** The address of the host as seen from the guest with QEMU user networking. */
export const QEMU_USER_NET_HOST = '10.0.2.2';

export const EXEC_EVENTS = '@berth/events';
const EXEC_UDP_PREFIX = '@berth/udp ';
export function udpExecCommand(port: number): string {
  return `${EXEC_UDP_PREFIX}${port}`;
}
/** The port of a UDP-forward exec command, or undefined for any other command. */
export function parseUdpExecCommand(command: string): number | undefined {
  if (!command.startsWith(EXEC_UDP_PREFIX)) return undefined;
  const port = Number(command.slice(EXEC_UDP_PREFIX.length));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

export const BOOT_STAGE_PREFIX = 'berth-stage: ';
/** In boot order. */
export const BOOT_STAGES = [
  'initramfs',
  'system-image',
  'root',
  'modules',
  'data-disk',
  'cgroups',
  'network',
  'config',
  'agent',
  'shares',
  'engine',
  'ready',
] as const;
export type BootStage = (typeof BOOT_STAGES)[number];

/** Parses one serial console line; undefined when it is not a stage line. */
export function parseStageLine(
  line: string,
): { stage: BootStage; detail?: string } | { stage: 'failed'; detail: string } | undefined {
  const at = line.indexOf(BOOT_STAGE_PREFIX);
  if (at < 0) return undefined;
  const rest = line
    .slice(at + BOOT_STAGE_PREFIX.length)
    .replace(/\r$/, '')
    .trim();
  const [word = '', ...more] = rest.split(' ');
  const detail = more.join(' ');
  if (word === 'failed') return { stage: 'failed', detail };
  const stage = BOOT_STAGES.find((s) => s === word);
  if (!stage) return undefined;
  return detail ? { stage, detail } : { stage };
}

export const FW_CFG_NAME = 'opt/berth/config';
/** Where the fw_cfg entry appears in the guest (module qemu_fw_cfg). */
export const FW_CFG_GUEST_PATH = `/sys/firmware/qemu_fw_cfg/by_name/${FW_CFG_NAME}/raw`;
/** First line of a config disk; the JSON follows, then zero padding to a 512-byte multiple. */
export const CONFIG_DISK_MAGIC = 'BERTH-CONFIG-1\n';

export const SharedFolderSchema = z.object({
  /** 9p mount_tag / virtiofs tag given to the hypervisor. */
  tag: z.string().min(1).max(31),
  /** Absolute path in the guest; the same as the host path so bind mounts just work. */
  guestPath: z.string().startsWith('/'),
  type: z.enum(['9p', 'virtiofs']),
  readOnly: z.boolean().default(false),
});
export type SharedFolder = z.infer<typeof SharedFolderSchema>;

export const GuestConfigSchema = z.object({
  version: z.literal(PROTOCOL_VERSION),
  /** The guest's SSH host key: an OpenSSH or PEM private key (ed25519 recommended). */
  hostKey: z.string().min(1),
  /** OpenSSH public key lines (`ssh-ed25519 AAAA… comment`) allowed to log in. */
  authorizedKeys: z.array(z.string().min(1)).min(1),
  shares: z.array(SharedFolderSchema).default([]),
  /** Passed to berthd as --insecure-registry. */
  insecureRegistries: z.array(z.string()).default([]),
  /** What `host.docker.internal` resolves to inside the guest. */
  hostAddress: z.string().default(QEMU_USER_NET_HOST),
  hostname: z.string().default('berth'),
});
export type GuestConfig = z.input<typeof GuestConfigSchema>;
export type ParsedGuestConfig = z.output<typeof GuestConfigSchema>;

/** A raw disk image carrying the config, for hypervisors without fw_cfg. */
export function encodeConfigDisk(config: GuestConfig): Buffer {
  const body = Buffer.from(`${CONFIG_DISK_MAGIC}${JSON.stringify(config)}\n`, 'utf8');
  const size = Math.max(4096, Math.ceil(body.length / 4096) * 4096);
  const disk = Buffer.alloc(size);
  body.copy(disk);
  return disk;
}

/** The config in a config disk's bytes, or undefined when they do not start with the magic. */
export function decodeConfigDisk(bytes: Buffer): ParsedGuestConfig | undefined {
  if (bytes.subarray(0, CONFIG_DISK_MAGIC.length).toString('utf8') !== CONFIG_DISK_MAGIC) {
    return undefined;
  }
  const end = bytes.indexOf(0);
  const text = bytes.subarray(CONFIG_DISK_MAGIC.length, end < 0 ? undefined : end).toString();
  return GuestConfigSchema.parse(JSON.parse(text));
}

export const PublishedPortSchema = z.object({
  containerId: z.string(),
  containerName: z.string(),
  protocol: z.enum(['tcp', 'udp']),
  /** The address the user asked for (`-p 127.0.0.1:8080:80`); '' or '0.0.0.0' mean any. */
  hostIp: z.string(),
  /** The port the host should listen on. */
  hostPort: z.number().int().min(1).max(65535),
  /** The guest port to forward to (berthd binds the same port in the guest). */
  guestPort: z.number().int().min(1).max(65535),
  /** The container side, for display. */
  containerPort: z.number().int().min(1).max(65535),
});
export type PublishedPort = z.infer<typeof PublishedPortSchema>;

export const AgentEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    /** The guest image's manifest version string. */
    image: z.string(),
    kernel: z.string(),
    /** Guest uptime in seconds when the channel opened. */
    uptime: z.number(),
  }),
  /** The full set of published ports, replacing the previous one. */
  z.object({ type: z.literal('ports'), ports: z.array(PublishedPortSchema) }),
  /** Something the host should show (e.g. berthd's /events stream dropped and reconnected). */
  z.object({ type: z.literal('warning'), message: z.string() }),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;

/** Datagram framing on a UDP-forward channel: u16 big-endian length, then the payload. */
export function encodeDatagram(payload: Buffer): Buffer {
  if (payload.length > 0xffff) throw new RangeError('datagram too large');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(payload.length);
  return Buffer.concat([head, payload]);
}

export class DatagramDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds channel bytes; returns the complete datagrams they finish. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const len = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + len) break;
      out.push(this.pending.subarray(2, 2 + len));
      this.pending = this.pending.subarray(2 + len);
    }
    return out;
  }
}

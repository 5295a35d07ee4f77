/**
 * The agent's SSH server (see protocol.ts for the channels). Public-key auth only, against the
 * keys the host handed over at boot; unix-socket forwarding only to the engine socket; TCP
 * forwarding only to guest loopback.
 */
import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type AddressInfo, type Socket } from 'node:net';
import ssh2, {
  type CipherAlgorithm,
  type Connection,
  type ParsedKey,
  type ServerChannel,
} from 'ssh2';
import type { PortWatcher } from './ports.js';
import {
  AGENT_USER,
  DatagramDecoder,
  encodeDatagram,
  EXEC_EVENTS,
  parseUdpExecCommand,
  PROTOCOL_VERSION,
  type AgentEvent,
  type PublishedPort,
} from './protocol.js';

export interface AgentServerOptions {
  hostKey: string;
  authorizedKeys: readonly string[];
  /** The only unix socket clients may open a stream to. */
  engineSocket: string;
  ports: PortWatcher;
  host?: string;
  port?: number;
  /** Fields of the hello event. */
  hello: () => { image: string; kernel: string; uptime: number };
  /** Environment of commands run for exec/shell. */
  env?: NodeJS.ProcessEnv;
}

export interface AgentServer {
  port: number;
  close(): Promise<void>;
}

/**
 * ssh2's default ciphers without chacha20-poly1305, which needs its WebAssembly poly1305 that
 * the startup snapshot leaves out (build/snapshot-bundle.ts).
 */
const CIPHERS: CipherAlgorithm[] = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];

function parseKeys(keys: readonly string[]): ParsedKey[] {
  return keys.map((k) => {
    const parsed = ssh2.utils.parseKey(k);
    if (parsed instanceof Error) throw new Error(`authorized key: ${parsed.message}`);
    return parsed;
  });
}

function isLoopback(ip: string): boolean {
  return ip === 'localhost' || ip === '::1' || ip.startsWith('127.');
}

/** Carries a channel both ways over a socket that is already connecting. */
function pipeBoth(channel: ServerChannel, socket: Socket): void {
  socket.setNoDelay(true);
  channel.pipe(socket).pipe(channel);
  socket.on('error', () => channel.destroy());
  channel.on('error', () => socket.destroy());
  channel.on('close', () => socket.destroy());
}

/** Accepts the channel once the socket connects, rejects it if the socket fails first. */
function forwardTo(socket: Socket, accept: () => ServerChannel, reject: () => void): void {
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    pipeBoth(accept(), socket);
  });
  socket.once('error', () => {
    if (!connected) reject();
  });
}

export function startAgentServer(opts: AgentServerOptions): Promise<AgentServer> {
  const allowed = parseKeys(opts.authorizedKeys);
  const clients = new Set<Connection>();
  const server = new ssh2.Server(
    { hostKeys: [opts.hostKey], algorithms: { cipher: CIPHERS } },
    (client) => {
      clients.add(client);
      client.on('close', () => clients.delete(client));
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey' || ctx.username !== AGENT_USER)
          return ctx.reject(['publickey']);
        const key = allowed.find((k) => {
          const pub = k.getPublicSSH();
          return (
            k.type === ctx.key.algo &&
            pub.length === ctx.key.data.length &&
            timingSafeEqual(pub, ctx.key.data)
          );
        });
        if (!key) return ctx.reject(['publickey']);
        if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client asks whether the key would do
        if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
        return ctx.reject(['publickey']);
      });
      client.on('ready', () => {
        client.on('openssh.streamlocal', (accept, reject, info) => {
          if (info.socketPath !== opts.engineSocket) return reject();
          forwardTo(connect(info.socketPath), accept, reject);
        });
        client.on('tcpip', (accept, reject, info) => {
          if (!isLoopback(info.destIP)) return reject();
          const loopback = () => forwardTo(connect(info.destPort, '127.0.0.1'), accept, reject);
          const target = opts.ports.target(info.destPort);
          // The container directly when it has an address; berthd's proxy if that fails.
          if (target) forwardTo(connect(target.port, target.host), accept, loopback);
          else loopback();
        });
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          const env: Record<string, string> = {};
          session.on('pty', (accept) => accept?.());
          session.on('window-change', (accept) => accept?.());
          session.on('env', (accept, _reject, info) => {
            env[info.key] = info.val;
            accept?.();
          });
          session.on('exec', (accept, _reject, info) => {
            const channel = accept();
            if (info.command === EXEC_EVENTS) return serveEvents(channel, opts);
            const udpPort = parseUdpExecCommand(info.command);
            if (udpPort !== undefined) return serveUdp(channel, udpPort);
            runCommand(channel, ['-c', info.command], { ...opts.env, ...env });
          });
          session.on('shell', (accept) => runCommand(accept(), ['-i'], { ...opts.env, ...env }));
        });
      });
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 22, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const c of clients) c.end();
            server.close(() => done());
          }),
      });
    });
  });
}

function runCommand(channel: ServerChannel, shArgs: string[], env: NodeJS.ProcessEnv): void {
  const child = spawn('/bin/sh', shArgs, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  channel.pipe(child.stdin);
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  child.stdin.on('error', () => undefined);
  child.on('error', (err) => {
    channel.stderr.write(`${err.message}\n`);
    channel.exit(127);
    channel.end();
  });
  child.on('close', (code, signal) => {
    if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
  channel.on('close', () => {
    if (child.exitCode === null) child.kill('SIGHUP');
  });
}

function serveEvents(channel: ServerChannel, opts: AgentServerOptions): void {
  const send = (e: AgentEvent) => channel.write(`${JSON.stringify(e)}\n`);
  send({ type: 'hello', protocol: PROTOCOL_VERSION, ...opts.hello() });
  send({ type: 'ports', ports: opts.ports.ports });
  const onPorts = (ports: PublishedPort[]) => send({ type: 'ports', ports });
  const onWarning = (message: string) => send({ type: 'warning', message });
  opts.ports.on('ports', onPorts);
  opts.ports.on('warning', onWarning);
  channel.on('data', () => undefined);
  channel.on('close', () => {
    opts.ports.off('ports', onPorts);
    opts.ports.off('warning', onWarning);
  });
}

function serveUdp(channel: ServerChannel, port: number): void {
  const socket = createSocket('udp4');
  const decoder = new DatagramDecoder();
  socket.on('message', (msg) => channel.write(encodeDatagram(msg)));
  socket.on('error', () => undefined);
  channel.on('data', (chunk: Buffer) => {
    for (const d of decoder.push(chunk)) socket.send(d, port, '127.0.0.1');
  });
  channel.on('close', () => socket.close());
}

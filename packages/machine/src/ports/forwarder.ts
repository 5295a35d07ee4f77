/**
 * Published ports on the host. The agent sends the full set of published ports whenever it
 * changes (from berthd's events); `apply()` reconciles the listeners with it: new ports get a
 * listener on the host (127.0.0.1 unless the user asked for an address), gone ports lose theirs.
 * A port the host cannot bind is reported as a `port-error`, never silently skipped.
 *
 * Two paths: the hypervisor's own forward (QEMU's hostfwd) where the driver has one and the
 * guest listens on its own address, else a host listener whose connections ride ssh2 channels
 * to the agent. Under emulation ssh2's encryption and copies cost as much as the data path.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  DatagramDecoder,
  encodeDatagram,
  udpExecCommand,
  type PublishedPort,
} from '@berth/vm-image/protocol';
import type { ClientChannel } from 'ssh2';
import type { AgentLink } from '../bridge/agent-link.js';
import { PortForwardError, type NativePortForwarder } from '../driver.js';

/** Where the host listens for a published port. */
export function hostListenAddress(port: Pick<PublishedPort, 'hostIp'>): string {
  // Docker's "all addresses" becomes loopback: the guest's ports are for this host's user.
  if (port.hostIp === '' || port.hostIp === '0.0.0.0') return '127.0.0.1';
  if (port.hostIp === '::') return '::1';
  return port.hostIp;
}

/**
 * Whether the hypervisor can carry this port: it delivers to the guest's own address, which
 * only a binding on all guest addresses answers (berthd's `--ip 0.0.0.0` in the VM); a port
 * the user bound to an address inside the guest keeps the agent path.
 */
export function useNativeForward(
  port: PublishedPort,
  native: NativePortForwarder | undefined,
): native is NativePortForwarder {
  const guestWide = port.hostIp === '' || port.hostIp === '0.0.0.0' || port.hostIp === '::';
  return !!native && guestWide && native.supports(port.protocol, hostListenAddress(port));
}

export function portKey(port: PublishedPort): string {
  return `${port.protocol}/${hostListenAddress(port)}/${port.hostPort}`;
}

interface Listener {
  port: PublishedPort;
  close(): Promise<void>;
}

interface PortForwarderEvents {
  opened: [PublishedPort];
  closed: [PublishedPort];
  'port-error': [PublishedPort, string];
}

export class PortForwarder extends EventEmitter<PortForwarderEvents> {
  private readonly forwards = new Map<string, Listener>();
  private readonly failed = new Set<string>();
  private pending: Promise<void> = Promise.resolve();
  private nativeReset = false;

  constructor(
    private readonly link: AgentLink,
    private readonly native?: NativePortForwarder,
  ) {
    super();
  }

  /** Ports currently forwarded. */
  active(): PublishedPort[] {
    return [...this.forwards.values()].map((l) => l.port);
  }

  /** Reconciles with a full snapshot; calls are serialised. */
  apply(ports: readonly PublishedPort[]): Promise<void> {
    this.pending = this.pending.then(() => this.reconcile(ports));
    return this.pending;
  }

  close(): Promise<void> {
    return this.apply([]);
  }

  private async reconcile(ports: readonly PublishedPort[]): Promise<void> {
    if (this.native && !this.nativeReset) {
      this.nativeReset = true;
      await this.native.reset().catch(() => undefined);
    }
    const wanted = new Map(ports.map((p) => [portKey(p), p]));
    for (const [key, listener] of this.forwards) {
      const next = wanted.get(key);
      if (next && next.guestPort === listener.port.guestPort) continue;
      this.forwards.delete(key);
      await listener.close();
      this.emit('closed', listener.port);
    }
    for (const key of this.failed) if (!wanted.has(key)) this.failed.delete(key);
    for (const [key, port] of wanted) {
      if (this.forwards.has(key) || this.failed.has(key)) continue;
      try {
        const listener = useNativeForward(port, this.native)
          ? await this.forwardNative(port, this.native)
          : port.protocol === 'udp'
            ? await this.listenUdp(port)
            : await this.listenTcp(port);
        this.forwards.set(key, listener);
        this.emit('opened', port);
      } catch (e) {
        // Reported once per snapshot that still wants it, not retried in a loop.
        this.failed.add(key);
        const err = e as NodeJS.ErrnoException;
        const why =
          err instanceof PortForwardError
            ? err.message
            : err.code === 'EADDRINUSE'
              ? `port ${hostListenAddress(port)}:${port.hostPort} is already in use on the host`
              : `cannot listen on ${hostListenAddress(port)}:${port.hostPort}: ${err.message}`;
        this.emit('port-error', port, why);
      }
    }
  }

  private async forwardNative(port: PublishedPort, native: NativePortForwarder): Promise<Listener> {
    const address = hostListenAddress(port);
    try {
      await native.add(port.protocol, address, port.hostPort, port.guestPort);
    } catch (e) {
      if (e instanceof PortForwardError) throw e;
      // The hypervisor did not answer (its monitor socket): the agent path still works.
      return port.protocol === 'udp' ? this.listenUdp(port) : this.listenTcp(port);
    }
    return {
      port,
      // The guest may be gone already (stop, kill): its rules went with it.
      close: () => native.remove(port.protocol, address, port.hostPort).catch(() => undefined),
    };
  }

  private listenTcp(port: PublishedPort): Promise<Listener> {
    const sockets = new Set<Socket>();
    const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.setNoDelay(true);
      socket.pause();
      socket.on('error', () => socket.destroy());
      this.link
        .openTcp(
          port.guestPort,
          { address: socket.remoteAddress ?? '127.0.0.1', port: socket.remotePort ?? 0 },
          10_000,
        )
        .then((channel) => {
          socket.pipe(channel);
          channel.pipe(socket);
          socket.resume();
          channel.on('error', () => socket.destroy());
          socket.once('close', () => channel.destroy());
          channel.once('close', () => (socket.writableEnded ? socket.destroySoon() : socket.end()));
        })
        .catch(() => socket.destroy());
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: hostListenAddress(port), port: port.hostPort, exclusive: true }, () => {
        server.off('error', reject);
        resolve({
          port,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => done());
            }),
        });
      });
    });
  }

  private listenUdp(port: PublishedPort): Promise<Listener> {
    const address = hostListenAddress(port);
    const socket: UdpSocket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    // One channel per client address, as the protocol asks, so replies find their sender.
    const flows = new Map<string, Promise<ClientChannel>>();
    const flowFor = (peer: RemoteInfo): Promise<ClientChannel> => {
      const key = `${peer.address}:${peer.port}`;
      let flow = flows.get(key);
      if (!flow) {
        flow = this.link.exec(udpExecCommand(port.guestPort), {}, 10_000).then((channel) => {
          const decoder = new DatagramDecoder();
          channel.on('data', (chunk: Buffer) => {
            for (const datagram of decoder.push(chunk))
              socket.send(datagram, peer.port, peer.address);
          });
          channel.once('close', () => flows.delete(key));
          channel.on('error', () => flows.delete(key));
          return channel;
        });
        flow.catch(() => flows.delete(key));
        flows.set(key, flow);
      }
      return flow;
    };
    socket.on('message', (msg, peer) => {
      flowFor(peer).then(
        (channel) => channel.write(encodeDatagram(msg)),
        () => undefined,
      );
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port: port.hostPort, exclusive: true }, () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve({
          port,
          close: async () => {
            for (const flow of flows.values())
              flow.then(
                (c) => c.close(),
                () => undefined,
              );
            flows.clear();
            await new Promise<void>((done) => socket.close(() => done()));
          },
        });
      });
    });
  }
}

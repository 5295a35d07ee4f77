/**
 * The userland proxy behind a published port: a listener on the host address that forwards to
 * the container's address. TCP relays each connection; UDP keeps one upstream socket per client
 * address (a session) that is closed after a quiet period, with a bound on live sessions.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';

export const UDP_IDLE_MS = 30_000;
const MAX_UDP_SESSIONS = 1024;

export interface ProxyTarget {
  hostIp: string;
  /** 0: the kernel picks a free port. */
  hostPort: number;
  proto: 'tcp' | 'udp';
  targetIp: string;
  targetPort: number;
}

export interface PortProxy {
  /** The port actually bound. */
  readonly hostPort: number;
  close(): Promise<void>;
}

/** Listens (rejecting with the socket error, e.g. EADDRINUSE) and starts forwarding. */
export function openProxy(t: ProxyTarget): Promise<PortProxy> {
  return t.proto === 'tcp' ? openTcp(t) : openUdp(t);
}

function openTcp(t: ProxyTarget): Promise<PortProxy> {
  const conns = new Set<Socket>();
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    const upstream = connect(t.targetPort, t.targetIp);
    conns.add(client);
    conns.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: t.hostPort, host: t.hostIp, exclusive: true }, () => {
      server.off('error', reject);
      const addr = server.address();
      const hostPort = addr && typeof addr === 'object' ? addr.port : t.hostPort;
      resolve({
        hostPort,
        close: () =>
          new Promise<void>((done) => {
            for (const c of conns) c.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function openUdp(t: ProxyTarget): Promise<PortProxy> {
  const front: UdpSocket = createSocket({ type: 'udp4', reuseAddr: false });
  const sessions = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout }>();
  const drop = (key: string) => {
    const s = sessions.get(key);
    if (!s) return;
    sessions.delete(key);
    clearTimeout(s.timer);
    s.sock.close();
  };
  const session = (client: RemoteInfo) => {
    const key = `${client.address}:${client.port}`;
    let s = sessions.get(key);
    if (!s) {
      if (sessions.size >= MAX_UDP_SESSIONS) {
        const oldest = sessions.keys().next().value;
        if (oldest !== undefined) drop(oldest);
      }
      const sock = createSocket('udp4');
      sock.on('message', (reply) => {
        front.send(reply, client.port, client.address);
        touch();
      });
      sock.on('error', () => drop(key));
      s = { sock, timer: setTimeout(() => drop(key), UDP_IDLE_MS) };
      sessions.set(key, s);
    }
    const live = s;
    function touch() {
      live.timer.refresh();
    }
    touch();
    return live.sock;
  };
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind({ port: t.hostPort, address: t.hostIp, exclusive: true }, () => {
      front.off('error', reject);
      front.on('error', () => undefined);
      front.on('message', (msg, rinfo) => {
        session(rinfo).send(msg, t.targetPort, t.targetIp);
      });
      resolve({
        hostPort: front.address().port,
        close: () =>
          new Promise<void>((done) => {
            for (const key of [...sessions.keys()]) drop(key);
            front.close(() => done());
          }),
      });
    });
  });
}

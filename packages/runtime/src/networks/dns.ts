/**
 * A small DNS server per user-defined network, on its gateway address, port 53 (what Docker's
 * embedded 127.0.0.11 resolver does, without entering each container's namespace): A queries
 * for containers on the network are answered from `lookup`; anything else is relayed to an
 * upstream resolver, with a bounded number of queries in flight and a timeout each.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

const TYPE_A = 1;
const CLASS_IN = 1;
const TTL = 600;
const UPSTREAM_TIMEOUT_MS = 3_000;
const MAX_IN_FLIGHT = 128;

export interface DnsQuestion {
  id: number;
  /** Lower-cased, without the trailing dot. */
  name: string;
  type: number;
  cls: number;
  /** Offset just past the question section. */
  end: number;
  /** Recursion desired bit of the query. */
  rd: boolean;
}

/** Reads the first question of a query; undefined for anything malformed or not a query. */
export function parseQuery(msg: Buffer): DnsQuestion | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (let guard = 0; guard < 128; guard++) {
    const len = msg[off];
    if (len === undefined || len > 63) return undefined;
    off += 1;
    if (len === 0) break;
    if (off + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off, off + len));
    off += len;
  }
  if (off + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    name: labels.join('.').toLowerCase(),
    type: msg.readUInt16BE(off),
    cls: msg.readUInt16BE(off + 2),
    end: off + 4,
    rd: (flags & 0x0100) !== 0,
  };
}

/** A reply carrying the query's question and A records for `ips` (rcode 0 or 3). */
export function buildReply(
  query: Buffer,
  q: DnsQuestion,
  ips: readonly number[],
  rcode = 0,
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(0x8400 | (q.rd ? 0x0100 : 0) | 0x0080 | rcode, 2); // QR AA [RD] RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ips.length, 6);
  const answers = ips.map((ip) => {
    const a = Buffer.alloc(16);
    a.writeUInt16BE(0xc00c, 0); // name: pointer to the question
    a.writeUInt16BE(TYPE_A, 2);
    a.writeUInt16BE(CLASS_IN, 4);
    a.writeUInt32BE(TTL, 6);
    a.writeUInt16BE(4, 10);
    a.writeUInt32BE(ip >>> 0, 12);
    return a;
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

export interface DnsServerOptions {
  address: string;
  port?: number;
  /** Addresses for a name on this network, or undefined when the name is not ours. */
  lookup: (name: string) => number[] | undefined;
  upstreams: readonly string[];
  /** Port of the upstream resolvers (53; tests use another). */
  upstreamPort?: number;
  onError?: (err: unknown) => void;
}

export class DnsServer {
  private socket: Socket | undefined;
  private inFlight = 0;

  private constructor(private readonly opts: DnsServerOptions) {}

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const server = new DnsServer(opts);
    await server.listen();
    return server;
  }

  private listen(): Promise<void> {
    const sock = createSocket({ type: 'udp4', reuseAddr: false });
    this.socket = sock;
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.opts.port ?? 53, this.opts.address, () => {
        sock.off('error', reject);
        sock.on('error', (err) => this.opts.onError?.(err));
        sock.on('message', (msg, rinfo) => this.answer(msg, rinfo));
        resolve();
      });
    });
  }

  /** The bound port. */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  private answer(msg: Buffer, rinfo: RemoteInfo): void {
    const q = parseQuery(msg);
    const sock = this.socket;
    if (!q || !sock) return;
    const ips = this.opts.lookup(q.name);
    if (ips !== undefined) {
      // Known name: A records for A queries, an empty NOERROR answer for other types (AAAA),
      // so resolvers do not go on to ask upstream about a container.
      const reply = buildReply(msg, q, q.type === TYPE_A && q.cls === CLASS_IN ? ips : []);
      sock.send(reply, rinfo.port, rinfo.address);
      return;
    }
    this.forward(msg, q, rinfo);
  }

  private forward(msg: Buffer, q: DnsQuestion, rinfo: RemoteInfo): void {
    const upstream = this.opts.upstreams[0];
    const sock = this.socket;
    if (!sock) return;
    if (!upstream || this.inFlight >= MAX_IN_FLIGHT) {
      sock.send(buildReply(msg, q, [], 2), rinfo.port, rinfo.address); // SERVFAIL
      return;
    }
    this.inFlight++;
    const relay = createSocket('udp4');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
      clearTimeout(timer);
      relay.close();
    };
    const timer = setTimeout(finish, UPSTREAM_TIMEOUT_MS);
    relay.on('error', finish);
    relay.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === q.id) {
        this.socket?.send(reply, rinfo.port, rinfo.address);
        finish();
      }
    });
    relay.send(msg, this.opts.upstreamPort ?? 53, upstream, (err) => {
      if (err) finish();
    });
  }

  close(): Promise<void> {
    const sock = this.socket;
    this.socket = undefined;
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => sock.close(() => resolve()));
  }
}

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { buildReply, DnsServer, parseQuery } from './dns.js';
import { parseIPv4 } from './ipam.js';

/** A standard query for `name` of `type` (1 = A, 28 = AAAA). */
function query(id: number, name: string, type = 1): Buffer {
  const labels = name
    .split('.')
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, type >> 8, type & 255, 0, 1])]);
}

function ask(port: number, msg: Buffer): Promise<Buffer> {
  const sock = createSocket('udp4');
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no DNS reply')), 3_000);
    sock.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    sock.send(msg, port, '127.0.0.1');
  }).finally(() => sock.close());
}

describe('network DNS server', () => {
  it('parses a query and builds an answer with A records', () => {
    const q = parseQuery(query(0x1234, 'Web.Example'));
    assert.equal(q?.name, 'web.example');
    assert.equal(q?.type, 1);
    assert.equal(q?.id, 0x1234);
    assert.equal(parseQuery(Buffer.from([1, 2, 3])), undefined);
    const reply = buildReply(query(7, 'web'), q ?? assert.fail('no question'), [
      parseIPv4('10.0.0.5') ?? 0,
    ]);
    assert.equal(reply.readUInt16BE(6), 1); // one answer
    assert.deepEqual([...reply.subarray(reply.length - 4)], [10, 0, 0, 5]);
  });

  it('answers names it knows, empty for AAAA, and SERVFAIL without an upstream', async () => {
    const server = await DnsServer.start({
      address: '127.0.0.1',
      port: 0,
      lookup: (name) => (name === 'web' ? [parseIPv4('172.18.0.2') ?? 0] : undefined),
      upstreams: [],
    });
    try {
      const port = server.port;
      const a = await ask(port, query(1, 'web'));
      assert.equal(a.readUInt16BE(0), 1);
      assert.equal(a.readUInt16BE(2) & 0xf, 0);
      assert.deepEqual([...a.subarray(a.length - 4)], [172, 18, 0, 2]);
      const aaaa = await ask(port, query(2, 'web', 28));
      assert.equal(aaaa.readUInt16BE(6), 0);
      assert.equal(aaaa.readUInt16BE(2) & 0xf, 0);
      const other = await ask(port, query(3, 'elsewhere.example'));
      assert.equal(other.readUInt16BE(2) & 0xf, 2);
    } finally {
      await server.close();
    }
  });

  it('relays other names to the upstream resolver', async () => {
    const upstream = createSocket('udp4');
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    upstream.on('message', (m, r) => {
      const q = parseQuery(m);
      if (q) upstream.send(buildReply(m, q, [parseIPv4('192.0.2.7') ?? 0]), r.port, r.address);
    });
    const server = await DnsServer.start({
      address: '127.0.0.1',
      port: 0,
      lookup: () => undefined,
      upstreams: ['127.0.0.1'],
      upstreamPort: upstream.address().port,
    });
    try {
      const r = await ask(server.port, query(9, 'example.org'));
      assert.equal(r.readUInt16BE(0), 9);
      assert.deepEqual([...r.subarray(r.length - 4)], [192, 0, 2, 7]);
    } finally {
      await server.close();
      upstream.close();
    }
  });
});

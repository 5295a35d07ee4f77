import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { EngineClient, engineAddress } from './client.js';
import { EngineUnreachableError, NotFoundError } from './errors.js';

describe('engineAddress', () => {
  it('reads DOCKER_HOST syntax: unix sockets, Windows named pipes, TCP', () => {
    assert.deepEqual(engineAddress('unix:///run/berth/berth.sock'), {
      socketPath: '/run/berth/berth.sock',
    });
    assert.deepEqual(engineAddress('npipe:////./pipe/berth-default'), {
      socketPath: '\\\\.\\pipe\\berth-default',
    });
    assert.deepEqual(engineAddress('tcp://127.0.0.1:2375'), { host: '127.0.0.1', port: 2375 });
    assert.throws(() => engineAddress('ssh://host'), /unsupported engine address/);
  });
});

// A loopback HTTP server on a unix socket that answers the way the engine's HTTP layer does;
// the client is also exercised against the real berthd in the runtime's integration tests.
describe('EngineClient', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-client-'));
  const socket = join(dir, 'engine.sock');
  const seen: string[] = [];
  let server: Server;

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/_ping') {
        res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'text/plain' });
        res.end('OK');
      } else if (req.url?.startsWith('/v1.41/images/json')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify([{ Id: 'sha256:abc' }]));
      } else if (req.url === '/v1.41/images/create?fromImage=x') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"status":"Pulling fs layer","id":"abc"}\r\n');
        res.end('{"errorDetail":{"message":"boom"},"error":"boom"}\r\n');
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'No such image: nope:latest' }));
      }
    });
    // A hijacked exec: echoes what the client writes, upper-cased, after the start body.
    server.on('upgrade', (req: IncomingMessage, conn: Duplex, head: Buffer) => {
      seen.push(`UPGRADE ${req.method} ${req.url}`);
      conn.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      if (head.length > 0) conn.write(head.toString('utf8').toUpperCase());
      conn.on('data', (d: Buffer) => conn.write(d.toString('utf8').toUpperCase()));
      conn.on('end', () => conn.end());
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates down to the engine version and prefixes paths with it', async () => {
    const client = new EngineClient({ host: `unix://${socket}` });
    const images = await client.request({
      method: 'GET',
      path: '/images/json',
      query: { filters: { dangling: ['true'] }, all: undefined },
      schema: z.array(z.object({ Id: z.string() })),
    });
    assert.deepEqual(images, [{ Id: 'sha256:abc' }]);
    assert.equal(await client.apiVersion(), '1.41');
    assert.ok(
      seen.includes(
        `GET /v1.41/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`,
      ),
    );
  });

  it('negotiates again once an engine that was not up yet answers', async () => {
    const later = join(dir, 'later.sock');
    const client = new EngineClient({ host: `unix://${later}` });
    await assert.rejects(
      client.request({ method: 'GET', path: '/images/json' }),
      EngineUnreachableError,
    );
    const engine = createServer((req, res) => {
      res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'application/json' });
      res.end(req.url === '/_ping' ? 'OK' : '[]');
    });
    await new Promise<void>((resolve) => engine.listen(later, resolve));
    try {
      assert.deepEqual(await client.request({ method: 'GET', path: '/images/json' }), []);
      assert.equal(await client.apiVersion(), '1.41');
    } finally {
      await new Promise<void>((resolve) => engine.close(() => resolve()));
    }
  });

  it('maps status codes to typed errors carrying the engine message', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    await assert.rejects(client.request({ method: 'GET', path: '/images/nope/json' }), (err) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.message, 'No such image: nope:latest');
      return true;
    });
  });

  it('ends a progress stream with the in-band error', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    const statuses: unknown[] = [];
    await assert.rejects(async () => {
      for await (const m of client.jsonStream({
        method: 'POST',
        path: '/images/create',
        query: { fromImage: 'x' },
      })) {
        statuses.push(m['status']);
      }
    }, /boom/);
    assert.deepEqual(statuses, ['Pulling fs layer']);
  });

  it('hijacks a connection: bytes flow both ways on the upgraded socket', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    const conn = await client.hijack({ method: 'POST', path: '/exec/abc/start', body: {} });
    assert.ok(seen.includes('UPGRADE POST /v1.41/exec/abc/start'));
    const got: string[] = [];
    conn.on('data', (d: Buffer) => got.push(d.toString('utf8')));
    const ended = new Promise((resolve) => conn.once('end', resolve));
    conn.end('echo hi');
    await ended;
    assert.equal(got.join(''), '{}ECHO HI');
  });

  it('does not send a request whose signal is already aborted', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      client.raw({ method: 'GET', path: '/images/json', signal: controller.signal }),
      (e: Error) => e.name === 'AbortError',
    );
  });

  it('says the engine is unreachable when nothing listens', async () => {
    const client = new EngineClient({ host: `unix://${join(dir, 'missing.sock')}` });
    await assert.rejects(client.apiVersion(), EngineUnreachableError);
  });
});

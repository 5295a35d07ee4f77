import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '@berth/engine-client';
import { Terminals } from './terminal.js';

// The engine's side of an exec with a TTY, as berthd speaks it: create, a hijacked start, and
// resizes. It records what happens in order, and echoes input the way a TTY in raw mode would.
// (The dashboard e2e runs the same code against a real berthd and busybox sh.)
describe('Terminals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-term-'));
  const socket = join(dir, 'engine.sock');
  const seen: string[] = [];
  let server: Server;
  let slowResize = 0;

  before(async () => {
    server = createServer((req, res) => {
      void (async () => {
        let body = '';
        for await (const c of req as AsyncIterable<Buffer>) body += c.toString('utf8');
        if (req.url === '/v1.41/containers/c1/exec') {
          const spec = JSON.parse(body) as { Tty: boolean; ConsoleSize: number[] };
          seen.push(`create tty=${spec.Tty} size=${spec.ConsoleSize.join('x')}`);
          res.writeHead(201, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ Id: 'e1' }));
        } else if (req.url?.startsWith('/v1.41/exec/e1/resize')) {
          await new Promise((r) => setTimeout(r, slowResize));
          seen.push(`resize ${new URL(req.url, 'http://x').search}`);
          res.writeHead(200).end();
        } else {
          res.writeHead(404, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'No such container: nope' }));
        }
      })();
    });
    server.on('upgrade', (req: IncomingMessage, conn: Duplex) => {
      seen.push(`start ${req.url}`);
      conn.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      // "é" split across two writes: the client must not show two broken halves.
      const e = Buffer.from('é$ ');
      conn.write(e.subarray(0, 1));
      setTimeout(() => conn.write(e.subarray(1)), 20);
      conn.on('data', (d: Buffer) => {
        const text = d.toString('utf8');
        // The start body ({"Detach":false,…}) arrives first on the connection.
        if (text.startsWith('{')) return;
        seen.push(`input ${JSON.stringify(text)}`);
        conn.write(text.toUpperCase());
      });
      conn.on('end', () => conn.end());
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries keys in and screen bytes out, resizes before later keys, ends on close', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    const out: string[] = [];
    let exited: (error: string | undefined) => void = () => undefined;
    const exit = new Promise<string | undefined>((r) => (exited = r));
    const terms = new Terminals(client, {
      data: (_id, data) => out.push(data),
      exit: (_id, error) => exited(error),
    });
    const { execId } = await terms.start({ termId: 't1', id: 'c1', cols: 80, rows: 24 });
    assert.equal(execId, 'e1');
    slowResize = 100;
    const resized = terms.resize('t1', 100, 30);
    terms.input('t1', 'ls\r');
    await resized;
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [
      'create tty=true size=24x80',
      'start /v1.41/exec/e1/start',
      'resize ?h=30&w=100',
      'input "ls\\r"',
    ]);
    terms.close('t1');
    assert.equal(await exit, undefined);
    assert.equal(out.join(''), 'é$ LS\r');
    assert.ok(
      out.every((chunk) => !chunk.includes('\uFFFD')),
      'no broken UTF-8',
    );
    assert.throws(() => terms.input('t1', 'x'), /closed/);
  });

  it('refuses a container the engine does not know, with its message', async () => {
    const client = new EngineClient({ host: `unix://${socket}`, apiVersion: '1.41' });
    const terms = new Terminals(client, { data: () => undefined, exit: () => undefined });
    await assert.rejects(
      terms.start({ termId: 't2', id: 'nope', cols: 80, rows: 24 }),
      /No such container: nope/,
    );
  });
});

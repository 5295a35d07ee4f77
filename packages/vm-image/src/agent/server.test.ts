/** The agent's SSH server on the host, against a real HTTP server on a unix socket. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'ssh2';
import { generateEd25519KeyPair } from './ssh-keys.js';
import { connectAgent, engineRequest, execIn, openEngineStream } from '../testing/ssh.js';
import { PortWatcher } from './ports.js';
import { startAgentServer, type AgentServer } from './server.js';

describe('agent ssh server', () => {
  let dir: string;
  let engine: Server;
  let agent: AgentServer;
  let client: Client;
  const key = generateEd25519KeyPair();
  const stranger = generateEd25519KeyPair();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-agent-'));
    const socket = join(dir, 'engine.sock');
    engine = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(req.url === '/_ping' ? 'OK' : 'nope');
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    agent = await startAgentServer({
      hostKey: generateEd25519KeyPair().private,
      authorizedKeys: [key.public],
      engineSocket: socket,
      ports: new PortWatcher(socket),
      host: '127.0.0.1',
      port: 0,
      hello: () => ({ image: 'test', kernel: 'test', uptime: 0 }),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    client = await connectAgent(agent.port, key.private);
  });

  after(async () => {
    client?.end();
    await agent?.close();
    await new Promise<void>((resolve) => (engine ? engine.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries HTTP to the engine socket and nowhere else', async () => {
    assert.deepEqual(await engineRequest(client, 'GET', '/_ping', join(dir, 'engine.sock')), {
      status: 200,
      body: 'OK',
    });
    await assert.rejects(openEngineStream(client, join(dir, 'other.sock')));
  });

  it('refuses keys it was not given', async () => {
    await assert.rejects(connectAgent(agent.port, stranger.private), /authentication/i);
  });

  it('runs commands with their exit status', async () => {
    const r = await execIn(client, 'echo out; echo err >&2; exit 3');
    assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('refuses TCP forwarding off guest loopback', async () => {
    await assert.rejects(
      new Promise((resolve, reject) =>
        client.forwardOut('127.0.0.1', 0, '10.0.2.2', 80, (err, ch) =>
          err ? reject(err) : resolve(ch),
        ),
      ),
    );
  });
});

/**
 * The bridge against the real guest agent code run on the host, in front of a real berthd: the
 * docker CLI through the host socket, host-key pinning, client-key auth, half-close, and
 * reconnecting when the agent comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  startEngineEnv,
  engineTestSkip,
  type EngineEnv,
} from '../../../runtime/dist/testing/engine-env.js';
import { docker } from '../../../runtime/dist/testing/docker-cli.js';
import { generateMachineKeys } from '../keys.js';
import { startHostAgent, type HostAgent } from '../testing/host-agent.js';
import { AgentLink } from './agent-link.js';
import { EngineSocket } from './engine-socket.js';

const skip = engineTestSkip();

describe(
  'engine bridge (host socket → ssh2 → guest agent → berthd)',
  { skip, timeout: 240_000 },
  () => {
    let env: EngineEnv;
    let agent: HostAgent;
    let link: AgentLink;
    let socket: EngineSocket;
    let dir: string;
    let host: string;

    before(async () => {
      env = await startEngineEnv();
      dir = mkdtempSync(join(tmpdir(), 'berth-bridge-'));
      agent = await startHostAgent({ engineSocket: env.berthd.socket });
      link = new AgentLink({
        address: () => Promise.resolve(agent.address),
        clientKey: agent.keys.clientPrivate,
        hostKey: agent.keys.hostPublic,
        minBackoffMs: 50,
        maxBackoffMs: 500,
      });
      const path = join(dir, 'run', 'docker.sock');
      socket = new EngineSocket({ path, link, guestSocket: env.berthd.socket });
      await socket.listen();
      host = `unix://${path}`;
    });

    after(async () => {
      await socket?.close();
      await link?.close();
      await agent?.close();
      await env?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('serves the socket to its owner only', () => {
      assert.equal(statSync(join(dir, 'run', 'docker.sock')).mode & 0o777, 0o600);
    });

    it('answers docker version and pulls an image through the bridge', async () => {
      const version = await docker(['version', '--format', '{{.Server.Version}}'], {
        host,
        timeoutMs: 60_000,
      });
      assert.equal(version.code, 0, version.stderr);
      assert.ok(version.stdout.trim().length > 0);
      const pull = await docker(['pull', env.images.busybox.ref], { host, timeoutMs: 120_000 });
      assert.equal(pull.code, 0, pull.stderr);
      const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'], {
        host,
        timeoutMs: 60_000,
      });
      assert.match(
        images.stdout,
        new RegExp(env.images.busybox.ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      );
    });

    it('carries hijacked attach streams both ways, stdin end included', async () => {
      const echo = await docker(
        ['run', '--rm', env.images.busybox.ref, 'echo', 'hello through the bridge'],
        {
          host,
          timeoutMs: 120_000,
        },
      );
      assert.equal(echo.code, 0, echo.stderr);
      assert.equal(echo.stdout, 'hello through the bridge\n');
      // `cat` ends only when its stdin ends: the half-close must cross the bridge.
      const cat = await docker(['run', '--rm', '-i', env.images.busybox.ref, 'cat'], {
        host,
        input: 'line one\nline two\n',
        timeoutMs: 120_000,
      });
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'line one\nline two\n');
    });

    it('carries docker exec -i', async () => {
      const run = await docker(
        ['run', '-d', '--name', 'bridge-exec', env.images.busybox.ref, 'sleep', '300'],
        {
          host,
          timeoutMs: 120_000,
        },
      );
      assert.equal(run.code, 0, run.stderr);
      try {
        const exec = await docker(['exec', '-i', 'bridge-exec', 'sh', '-c', 'tr a-z A-Z'], {
          host,
          input: 'shout\n',
          timeoutMs: 60_000,
        });
        assert.equal(exec.code, 0, exec.stderr);
        assert.equal(exec.stdout, 'SHOUT\n');
      } finally {
        await docker(['rm', '-f', 'bridge-exec'], { host, timeoutMs: 60_000 });
      }
    });

    it('refuses an agent whose host key is not the machine’s', async () => {
      const impostor = new AgentLink({
        address: () => Promise.resolve(agent.address),
        clientKey: agent.keys.clientPrivate,
        hostKey: generateMachineKeys('other').hostPublic,
        minBackoffMs: 50,
      });
      const retried = new Promise<Error>((resolve) => impostor.once('retry', resolve));
      impostor.start();
      try {
        const err = await retried;
        assert.ok(!impostor.connected);
        assert.match(err.message, /verif|host key|handshake/i);
      } finally {
        // A link left open retries for ever and keeps the test file from ending.
        await impostor.close();
      }
    });

    it('is refused by the agent with a client key it was not given', async () => {
      const stranger = new AgentLink({
        address: () => Promise.resolve(agent.address),
        clientKey: generateMachineKeys('other').clientPrivate,
        hostKey: agent.keys.hostPublic,
        minBackoffMs: 50,
      });
      const retried = new Promise<Error>((resolve) => stranger.once('retry', resolve));
      stranger.start();
      try {
        assert.match((await retried).message, /authentication/i);
      } finally {
        await stranger.close();
      }
    });

    it('passes each half-close on: the reply comes after the client ends its side', async () => {
      // An "engine" that answers only once its input ended, like a hijacked exec whose stdin closed.
      const echoPath = join(dir, 'echo.sock');
      const echo: Server = createServer({ allowHalfOpen: true }, (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (b: Buffer) => chunks.push(b));
        s.on('end', () => s.end(`got ${Buffer.concat(chunks).toString()}`));
      });
      await new Promise<void>((r) => echo.listen(echoPath, r));
      const echoAgent = await startHostAgent({ engineSocket: echoPath, keys: agent.keys });
      const echoLink = new AgentLink({
        address: () => Promise.resolve(echoAgent.address),
        clientKey: agent.keys.clientPrivate,
        hostKey: agent.keys.hostPublic,
      });
      const hostPath = join(dir, 'echo-host.sock');
      const bridge = new EngineSocket({ path: hostPath, link: echoLink, guestSocket: echoPath });
      await bridge.listen();
      try {
        const reply = await new Promise<string>((resolve, reject) => {
          const c = connect({ path: hostPath, allowHalfOpen: true });
          let text = '';
          c.on('data', (b: Buffer) => (text += b.toString()));
          c.on('end', () => resolve(text));
          c.on('error', reject);
          c.end('abc');
        });
        assert.equal(reply, 'got abc');
      } finally {
        await bridge.close();
        await echoLink.close();
        await echoAgent.close();
        await new Promise<void>((r) => echo.close(() => r()));
      }
    });

    it('reconnects when the agent comes back (a VM restart)', async () => {
      const port = agent.address.port;
      const down = new Promise<void>((resolve) => link.once('down', () => resolve()));
      await agent.close();
      await down;
      agent = await startHostAgent({ engineSocket: env.berthd.socket, keys: agent.keys, port });
      const r = await docker(['version', '--format', '{{.Server.Os}}'], {
        host,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'linux');
    });
  },
);

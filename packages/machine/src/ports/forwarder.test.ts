/**
 * Published ports, driven by the real agent's event channel (run on the host): a snapshot with
 * a port opens a host listener that forwards into the "guest" (here: this host's loopback), a
 * snapshot without it closes it, and a port taken on the host is reported.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PublishedPort } from '@berth/vm-image/protocol';
import { AgentEvents } from '../bridge/agent-events.js';
import { AgentLink } from '../bridge/agent-link.js';
import { PortForwardError, type NativePortForwarder } from '../driver.js';
import { startHostAgent, type HostAgent } from '../testing/host-agent.js';
import { freePort } from '../util/process.js';
import { hostListenAddress, PortForwarder, useNativeForward } from './forwarder.js';

function published(
  p: Partial<PublishedPort> & Pick<PublishedPort, 'hostPort' | 'guestPort'>,
): PublishedPort {
  return {
    containerId: 'c1',
    containerName: 'web',
    protocol: 'tcp',
    hostIp: '',
    containerPort: 80,
    ...p,
  };
}

/** A hypervisor forward that records what it was asked (the QEMU one is tested in hostfwd). */
class RecordingForwarder implements NativePortForwarder {
  readonly calls: string[] = [];
  readonly taken = new Set<number>();
  answering = true;

  supports(_proto: 'tcp' | 'udp', hostIp: string): boolean {
    return hostIp === '127.0.0.1';
  }

  add(proto: 'tcp' | 'udp', hostIp: string, hostPort: number, guestPort: number): Promise<void> {
    if (!this.answering) return Promise.reject(new Error('QMP: connect ENOENT'));
    if (this.taken.has(hostPort))
      return Promise.reject(
        new PortForwardError(`port ${hostIp}:${hostPort} is already in use on the host`),
      );
    this.calls.push(`add ${proto}:${hostIp}:${hostPort}-:${guestPort}`);
    return Promise.resolve();
  }

  remove(proto: 'tcp' | 'udp', hostIp: string, hostPort: number): Promise<void> {
    this.calls.push(`remove ${proto}:${hostIp}:${hostPort}`);
    return Promise.resolve();
  }

  reset(): Promise<void> {
    this.calls.push('reset');
    return Promise.resolve();
  }
}

function request(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (b: Buffer) => (got += b.toString()));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.end(text);
  });
}

function nextEvent<T extends unknown[]>(
  emitter: PortForwarder,
  name: 'opened' | 'closed' | 'port-error',
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} event in 10 s`)), 10_000);
    emitter.once(name, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    });
  });
}

describe('published ports', { timeout: 60_000 }, () => {
  let agent: HostAgent;
  let link: AgentLink;
  let events: AgentEvents;
  let ports: PortForwarder;
  let guestServer: Server;
  let guestPort: number;

  before(async () => {
    agent = await startHostAgent({ engineSocket: '/nonexistent.sock' });
    link = new AgentLink({
      address: () => Promise.resolve(agent.address),
      clientKey: agent.keys.clientPrivate,
      hostKey: agent.keys.hostPublic,
    });
    ports = new PortForwarder(link);
    events = new AgentEvents(link);
    events.on('event', (e) => {
      if (e.type === 'ports') void ports.apply(e.ports);
    });
    link.start();
    events.start();
    await link.client(10_000);
    // The container's port inside the "guest".
    guestServer = createServer({ allowHalfOpen: true }, (s) => {
      let text = '';
      s.on('data', (b: Buffer) => (text += b.toString()));
      s.on('end', () => s.end(`hello ${text}`));
    });
    await new Promise<void>((r) => guestServer.listen(0, '127.0.0.1', r));
    guestPort = (guestServer.address() as { port: number }).port;
  });

  after(async () => {
    events?.stop();
    await ports?.close();
    await link?.close();
    await agent?.close();
    await new Promise<void>((r) => (guestServer ? guestServer.close(() => r()) : r()));
  });

  it('listens on 127.0.0.1 for "all addresses", and on the address asked for', () => {
    assert.equal(hostListenAddress({ hostIp: '' }), '127.0.0.1');
    assert.equal(hostListenAddress({ hostIp: '0.0.0.0' }), '127.0.0.1');
    assert.equal(hostListenAddress({ hostIp: '127.0.0.2' }), '127.0.0.2');
  });

  it('forwards TCP while the port is published and closes it after', async () => {
    const hostPort = await freePort();
    const port = published({ hostPort, guestPort });
    const opened = nextEvent(ports, 'opened');
    agent.ports.publish([port]);
    await opened;
    assert.equal(await request(hostPort, 'world'), 'hello world');
    const closed = nextEvent(ports, 'closed');
    agent.ports.publish([]);
    await closed;
    await assert.rejects(request(hostPort, 'x'), /ECONNREFUSED/);
  });

  it('reports a port already taken on the host', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const failed = nextEvent<[PublishedPort, string]>(ports, 'port-error');
      agent.ports.publish([published({ hostPort: taken, guestPort })]);
      const [port, message] = await failed;
      assert.equal(port.hostPort, taken);
      assert.match(message, /already in use/);
      assert.deepEqual(ports.active(), []);
    } finally {
      agent.ports.publish([]);
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('forwards UDP datagrams both ways', async () => {
    const guestUdp = createSocket('udp4');
    guestUdp.on('message', (msg, peer) =>
      guestUdp.send(Buffer.from(`pong ${msg.toString()}`), peer.port, peer.address),
    );
    await new Promise<void>((r) => guestUdp.bind(0, '127.0.0.1', r));
    const udpGuestPort = guestUdp.address().port;
    const hostPort = await freePort();
    const opened = nextEvent(ports, 'opened');
    agent.ports.publish([published({ protocol: 'udp', hostPort, guestPort: udpGuestPort })]);
    await opened;
    const client = createSocket('udp4');
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no UDP reply in 10 s')), 10_000);
        client.on('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString());
        });
        client.send('ping', hostPort, '127.0.0.1');
      });
      assert.equal(reply, 'pong ping');
    } finally {
      client.close();
      guestUdp.close();
      agent.ports.publish([]);
    }
  });

  describe('through the hypervisor where the driver forwards ports itself', () => {
    let native: RecordingForwarder;
    let viaNative: PortForwarder;

    before(() => {
      native = new RecordingForwarder();
      viaNative = new PortForwarder(link, native);
    });

    after(() => viaNative.close());

    it('is chosen only for ports the guest publishes on all its addresses', () => {
      const n = new RecordingForwarder();
      assert.equal(useNativeForward(published({ hostPort: 1, guestPort: 1 }), n), true);
      assert.equal(
        useNativeForward(published({ hostIp: '0.0.0.0', hostPort: 1, guestPort: 1 }), n),
        true,
      );
      // Bound to the guest's loopback: QEMU delivers to the guest's own address, not there.
      assert.equal(
        useNativeForward(published({ hostIp: '127.0.0.1', hostPort: 1, guestPort: 1 }), n),
        false,
      );
      // An address the hypervisor cannot listen on.
      assert.equal(
        useNativeForward(published({ hostIp: '::', hostPort: 1, guestPort: 1 }), n),
        false,
      );
      assert.equal(useNativeForward(published({ hostPort: 1, guestPort: 1 }), undefined), false);
    });

    it('clears an earlier host process’s rules, then adds TCP and UDP forwards for a snapshot and removes them after', async () => {
      const tcp = await freePort();
      const udp = await freePort();
      await viaNative.apply([
        published({ hostIp: '0.0.0.0', hostPort: tcp, guestPort: 8080 }),
        published({ protocol: 'udp', hostPort: udp, guestPort: 5353 }),
      ]);
      assert.equal(native.calls.shift(), 'reset');
      assert.deepEqual(
        native.calls.sort(),
        [`add tcp:127.0.0.1:${tcp}-:8080`, `add udp:127.0.0.1:${udp}-:5353`].sort(),
      );
      assert.equal(viaNative.active().length, 2);
      native.calls.length = 0;
      await viaNative.apply([]);
      assert.deepEqual(
        native.calls.sort(),
        [`remove tcp:127.0.0.1:${tcp}`, `remove udp:127.0.0.1:${udp}`].sort(),
      );
      assert.deepEqual(viaNative.active(), []);
    });

    it('keeps the agent path for a port bound to the guest’s loopback', async () => {
      const hostPort = await freePort();
      native.calls.length = 0;
      await viaNative.apply([published({ hostIp: '127.0.0.1', hostPort, guestPort })]);
      try {
        assert.deepEqual(native.calls, []);
        assert.equal(await request(hostPort, 'world'), 'hello world');
      } finally {
        await viaNative.apply([]);
      }
    });

    it('reports a port the hypervisor cannot bind on the host', async () => {
      const hostPort = await freePort();
      native.taken.add(hostPort);
      try {
        const failed = nextEvent<[PublishedPort, string]>(viaNative, 'port-error');
        await viaNative.apply([published({ hostPort, guestPort: 8080 })]);
        const [port, message] = await failed;
        assert.equal(port.hostPort, hostPort);
        assert.match(message, /already in use/);
        assert.deepEqual(viaNative.active(), []);
      } finally {
        native.taken.delete(hostPort);
        await viaNative.apply([]);
      }
    });

    it('falls back to the agent path when the hypervisor does not answer', async () => {
      const hostPort = await freePort();
      native.answering = false;
      try {
        await viaNative.apply([published({ hostPort, guestPort })]);
        assert.equal(await request(hostPort, 'again'), 'hello again');
      } finally {
        native.answering = true;
        await viaNative.apply([]);
      }
    });
  });
});

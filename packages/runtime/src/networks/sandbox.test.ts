/**
 * The NetworkService against the real kernel: user-defined networks, sandboxes joined by busybox
 * containers run with runc, name resolution through the network's DNS server and hosts files,
 * published TCP/UDP ports through the userland proxy, and cleanup of everything it made.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EngineError } from '../api/errors.js';
import { detectCgroup } from '../containers/cgroups.js';
import {
  createRuntime,
  detectRuntime,
  type OciRuntime,
  type RuntimeProcessHandle,
} from '../containers/oci-runtime.js';
import { buildSpec } from '../containers/oci-spec.js';
import { makeBusyboxRootfs } from '../containers/test-rootfs.js';
import { MemoryEventBus } from '../events/bus.js';
import { createLogger } from '../logging/logger.js';
import { httpGet } from '../testing/http.js';
import { collect, retry, run, tempDir, within } from '../testing/process.js';
import { startUdpEcho } from '../testing/udp-echo.js';
import { skipUnless } from '../testing/tools.js';
import { linkExists } from './kernel.js';
import { NetworkManager } from './manager.js';
import type { Sandbox, SandboxRequest } from './service.js';

const choice = (() => {
  try {
    return detectRuntime();
  } catch {
    return undefined;
  }
})();
const skip =
  skipUnless(['root', '/bin/busybox', 'ip', 'iptables', 'unshare', 'nsenter']) ||
  (choice ? false : 'no runc or crun installed');

const EXTRA_APPLETS = ['nslookup', 'ping', 'httpd', 'nc', 'wget', 'ip', 'ifconfig', 'route'];

describe('network sandboxes (real netns, veth, bridge, runc)', { skip }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let rootfs: string;
  let runtime: OciRuntime;
  let manager: NetworkManager;
  const running = new Map<string, string>(); // container id → name
  const started: string[] = [];

  before(() => {
    tmp = tempDir('net-sandbox');
    rootfs = makeBusyboxRootfs(tmp.path);
    for (const a of EXTRA_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    mkdirSync(join(rootfs, 'www'));
    writeFileSync(join(rootfs, 'www/index.html'), 'hello from berth\n');
    runtime = createRuntime(join(tmp.path, 'runc'), choice);
    const dataRoot = join(tmp.path, 'data');
    mkdirSync(dataRoot);
    manager = new NetworkManager({
      dataRoot,
      execRoot: join(tmp.path, 'exec'),
      events: new MemoryEventBus(),
      logger: createLogger({}),
    });
    manager.setContainerResolver({
      resolve: (term) => {
        for (const [id, name] of running) {
          if (id === term || name === term) return Promise.resolve({ id, name, running: true });
        }
        return Promise.resolve(undefined);
      },
    });
  });

  after(async () => {
    for (const id of started) await runtime.delete(id, { force: true }).catch(() => undefined);
    await manager?.teardownAll();
    await manager?.close();
    tmp?.remove();
  });

  function request(name: string, over: Partial<SandboxRequest> = {}): SandboxRequest {
    return {
      containerId: randomBytes(32).toString('hex'),
      name,
      hostname: name,
      networkMode: 'default',
      exposedPorts: [],
      portBindings: {},
      publishAllPorts: false,
      ...over,
    };
  }

  /** Starts busybox `sh -c script` in the sandbox; the handle's stdout is piped. */
  async function start(
    req: SandboxRequest,
    sandbox: Sandbox,
    script: string,
  ): Promise<{ proc: RuntimeProcessHandle; stdout: Promise<string>; stderr: Promise<string> }> {
    const id = `berth-net-${req.containerId.slice(0, 12)}`;
    const bundle = join(tmp.path, 'bundles', id);
    mkdirSync(bundle, { recursive: true });
    const spec = await buildSpec({
      id: req.containerId,
      rootfs,
      config: { Cmd: ['sh', '-c', script], Hostname: req.hostname },
      mounts: [
        { type: 'bind', source: sandbox.hostsPath, destination: '/etc/hosts' },
        { type: 'bind', source: sandbox.resolvConfPath, destination: '/etc/resolv.conf' },
        { type: 'bind', source: sandbox.hostnamePath, destination: '/etc/hostname' },
      ],
      namespaces: sandbox.netnsPath
        ? { network: { path: sandbox.netnsPath } }
        : { network: 'host' },
      cgroupsPath: `/berth-test/${id}`,
      cgroup: detectCgroup(),
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    started.push(id);
    const proc = await runtime.create(id, {
      bundle,
      stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    });
    const stdout = collect(proc.stdout);
    const stderr = collect(proc.stderr);
    await runtime.start(id);
    running.set(req.containerId, req.name);
    return { proc, stdout, stderr };
  }

  async function stop(req: SandboxRequest): Promise<void> {
    const id = `berth-net-${req.containerId.slice(0, 12)}`;
    await runtime.delete(id, { force: true }).catch(() => undefined);
    running.delete(req.containerId);
    await manager.releaseSandbox(req.containerId);
  }

  it('creates the predefined networks and a user network with its bridge', async () => {
    const names = (await manager.listNetworks()).map((n) => n.Name).sort();
    assert.deepEqual(names, ['bridge', 'host', 'none']);
    const net = await manager.createNetwork({ Name: 'berth-t1', Labels: { a: 'b' } });
    assert.match(net.device ?? '', /^br-[0-9a-f]{12}$/);
    assert.ok(await linkExists(net.device ?? ''));
    await assert.rejects(manager.createNetwork({ Name: 'berth-t1' }), (err: EngineError) => {
      assert.equal(err.statusCode, 409);
      assert.equal(err.message, 'network with name berth-t1 already exists');
      return true;
    });
    await assert.rejects(
      manager.removeNetwork('bridge'),
      /bridge is a pre-defined network and cannot be removed/,
    );
    await manager.removeNetwork('berth-t1');
    assert.equal(await linkExists(net.device ?? ''), false);
  });

  it('containers on a user network resolve each other by name and alias (DNS and hosts)', async () => {
    const net = await manager.createNetwork({ Name: 'berth-dns' });
    const beta = request('beta', {
      networkMode: 'berth-dns',
      endpointsConfig: { 'berth-dns': { Aliases: ['b-alias'] } },
    });
    await manager.registerContainer(beta);
    const betaBox = await manager.createSandbox(beta);
    const betaRun = await start(beta, betaBox, 'sleep 60');
    const alpha = request('alpha', { networkMode: 'berth-dns' });
    const alphaBox = await manager.createSandbox(alpha);
    const script = [
      'cat /etc/hosts',
      'echo =====',
      'cat /etc/resolv.conf',
      'echo =====',
      'nslookup beta',
      'echo =====',
      'nslookup b-alias',
      'echo =====',
      'ping -c1 -W5 b-alias',
      'echo ping=$?',
    ].join('; ');
    const alphaRun = await start(alpha, alphaBox, script);
    const exit = await within(alphaRun.proc.exited, 30_000, 'alpha');
    const out = await alphaRun.stdout;
    const betaIp = String(
      (betaBox.networkSettings.Networks as Record<string, { IPAddress: string }>)['berth-dns']
        ?.IPAddress,
    );
    assert.deepEqual(exit, { exitCode: 0 }, `${out}\n${await alphaRun.stderr}`);
    const [hosts = '', resolv = '', ns1 = '', ns2 = '', ping = ''] = out.split('=====\n');
    assert.match(hosts, new RegExp(`^${betaIp.replace(/\./g, '\\.')}\\tbeta b-alias$`, 'm'));
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(resolv, new RegExp(`^nameserver ${String(net.IPAM.Config[0]?.Gateway)}$`, 'm'));
    assert.ok(ns1.includes(betaIp), ns1);
    assert.ok(ns2.includes(betaIp), ns2);
    assert.match(ping, /1 packets received/);
    assert.match(ping, /ping=0/);
    // beta's hosts file learnt about alpha while it ran; after alpha leaves it forgets it.
    assert.match(readFileSync(betaBox.hostsPath, 'utf8'), /\talpha$/m);
    await stop(alpha);
    assert.doesNotMatch(readFileSync(betaBox.hostsPath, 'utf8'), /\talpha$/m);
    const inspect = manager.inspect(net);
    assert.deepEqual(Object.keys(inspect.Containers as object), [beta.containerId]);
    await assert.rejects(manager.removeNetwork('berth-dns'), /has active endpoints/);
    await stop(beta);
    await within(betaRun.proc.exited, 10_000, 'beta');
    await manager.removeNetwork('berth-dns');
  });

  it('publishes a TCP port on 127.0.0.1 by default and refuses a taken one', async () => {
    const req = request('web', {
      exposedPorts: ['80/tcp'],
      portBindings: { '80/tcp': [{ HostIp: '', HostPort: '' }] },
    });
    const box = await manager.createSandbox(req);
    const web = await start(req, box, 'httpd -f -p 80 -h /www');
    const ports = box.networkSettings.Ports as Record<
      string,
      Array<{ HostIp: string; HostPort: string }>
    >;
    const binding = ports['80/tcp']?.[0];
    assert.equal(binding?.HostIp, '127.0.0.1');
    const port = Number(binding?.HostPort);
    assert.ok(port > 0);
    const body = await retry('GET /', () => httpGet(`http://127.0.0.1:${port}/index.html`));
    assert.equal(body, 'hello from berth\n');

    // The same host port again: Docker's error, and nothing of the second sandbox is left.
    const clash = request('clash', { portBindings: { '80/tcp': [{ HostPort: String(port) }] } });
    await assert.rejects(manager.createSandbox(clash), (err: EngineError) => {
      assert.equal(err.statusCode, 500);
      assert.match(
        err.message,
        new RegExp(
          `^driver failed programming external connectivity on endpoint clash \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated$`,
        ),
      );
      return true;
    });
    assert.equal((await manager.settingsFor(clash.containerId)).SandboxKey, '');
    await stop(req);
    await within(web.proc.exited, 10_000, 'httpd');
    // The listener is gone with the sandbox.
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });

  // Debian's busybox nc has no -u, so the UDP server in the container's namespace is Node.
  it('publishes a UDP port (an echo server inside the namespace)', async (t) => {
    const req = request('udp', {
      exposedPorts: ['9000/udp'],
      portBindings: { '9000/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    });
    const box = await manager.createSandbox(req);
    t.after(() => manager.releaseSandbox(req.containerId));
    await startUdpEcho(t, box.netnsPath ?? '');
    const port = Number(
      (box.networkSettings.Ports as Record<string, Array<{ HostPort: string }>>)['9000/udp']?.[0]
        ?.HostPort,
    );
    const sock = createSocket('udp4');
    t.after(() => sock.close());
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString('utf8')));
    sock.send('one', port, '127.0.0.1');
    sock.send('two', port, '127.0.0.1');
    await retry('udp replies', () =>
      replies.length === 2 ? Promise.resolve() : Promise.reject(new Error(replies.join(','))),
    );
    assert.deepEqual(replies.sort(), ['pong:one', 'pong:two']);
  });

  it('NAT rules come and go with a network; an internal one drops traffic leaving it', async () => {
    const rules = async () => (await run('iptables-save', [])).stdout;
    const open = await manager.createNetwork({ Name: 'berth-nat' });
    const internal = await manager.createNetwork({ Name: 'berth-int', Internal: true });
    const saved = await rules();
    const subnet = String(open.IPAM.Config[0]?.Subnet);
    assert.ok(
      saved.includes(
        `-A POSTROUTING -s ${subnet} ! -o ${open.device} -m comment --comment "berth:${open.device}" -j MASQUERADE`,
      ),
      saved,
    );
    assert.ok(
      saved.includes(
        `-A FORWARD -i ${internal.device} ! -o ${internal.device} -m comment --comment "berth:${internal.device}" -j DROP`,
      ),
      saved,
    );
    assert.equal(
      saved.includes(`MASQUERADE`) &&
        saved.includes(
          `! -o ${internal.device} -m comment --comment "berth:${internal.device}" -j MASQUERADE`,
        ),
      false,
    );
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
    const req = request('inside', { networkMode: 'berth-int' });
    const box = await manager.createSandbox(req);
    const r = await start(req, box, 'ip route');
    await within(r.proc.exited, 10_000, 'ip route');
    assert.doesNotMatch(await r.stdout, /default/);
    await stop(req);
    await manager.removeNetwork('berth-nat');
    await manager.removeNetwork('berth-int');
    const after = await rules();
    assert.equal(after.includes(`berth:${open.device}`), false);
    assert.equal(after.includes(`berth:${internal.device}`), false);
  });

  it('none mode has only lo; release removes the namespace and veths', async () => {
    const req = request('lonely', { networkMode: 'none' });
    const box = await manager.createSandbox(req);
    const r = await start(req, box, 'ip -o link');
    await within(r.proc.exited, 10_000, 'ip link');
    const links = (await r.stdout).trim().split('\n');
    assert.equal(links.length, 1, links.join('\n'));
    assert.match(links[0] ?? '', /: lo:/);
    await stop(req);
    assert.equal(existsSync(box.netnsPath ?? '/'), false);

    const def = request('default');
    const defBox = await manager.createSandbox(def);
    const net = await manager.getNetwork('bridge');
    // Only this manager's bridge: other test files create and drop veths on the same host.
    const device = net.Options?.['com.docker.network.bridge.name'] ?? '';
    const ports = async () =>
      (await run('ip', ['-o', 'link', 'show', 'master', device])).stdout
        .split('\n')
        .filter((l) => l.trim() !== '');
    const attached = await ports();
    assert.equal(attached.length, 1, attached.join('\n'));
    const bridgeIp = net.IPAM.Config[0]?.Gateway;
    assert.equal((defBox.networkSettings as { Gateway?: string }).Gateway, bridgeIp);
    assert.match(String((defBox.networkSettings as { MacAddress?: string }).MacAddress), /^02:42:/);
    await stop(def);
    // The kernel tears a namespace's veths down asynchronously (and berthd deletes its end in
    // the background), so the port goes away shortly after release, not at once.
    await retry('the veth leaves the bridge', async () => {
      const left = await ports();
      assert.equal(left.length, 0, left.join('\n'));
    });
  });
});

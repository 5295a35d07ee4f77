/**
 * Networks and published ports through berthd with the real docker CLI: `docker network`
 * verbs and their errors, containers on a user-defined network resolving each other by name
 * and alias (nslookup and ping over the test's own bridge), connect/disconnect of a running
 * container, published TCP and UDP ports on 127.0.0.1 (the default bind address), `-P`,
 * `docker port`, and Docker's error for a port already taken. Bridges, NAT rules and
 * namespaces are gone after the test.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { collectLeftovers } from '../networks/host-registry.js';
import { composeProject } from '../testing/compose.js';
import { httpGet } from '../testing/http.js';
import { retry as retryFor, run, freePort, tempDir } from '../testing/process.js';
import { engineTestSkip, startEngineEnv, type EngineEnv } from '../testing/engine-env.js';
import { skipUnless } from '../testing/tools.js';
import { startUdpEcho } from '../testing/udp-echo.js';

/** dockerd's --host-gateway-ip for this suite's berthd (TEST-NET-1: never reached). */
const HOST_GATEWAY_IP = '192.0.2.1';
const skip = engineTestSkip() || skipUnless(['ip', 'iptables', 'nsenter', 'unshare']);

const retry = <T>(what: string, fn: () => Promise<T>) =>
  retryFor(what, fn, { timeoutMs: 20_000, intervalMs: 250 });

describe('networks through berthd and the docker CLI', { skip }, () => {
  let env: EngineEnv;
  let busybox: string;
  let containersApi: string | false = 'containers API not probed';
  const netName = `bn${process.pid}`;

  const docker = (...args: string[]) => env.docker(args, { timeoutMs: 120_000 });
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: 120_000 })).stdout;
  const fails = (args: string[], message: string | RegExp) =>
    env.dockerFails(args, message, { timeoutMs: 120_000 });
  /** Runs busybox httpd serving `text` at /, published on 127.0.0.1 at a free port it returns. */
  const runWebServer = async (name: string, text: string, ...runOptions: string[]) => {
    const port = await freePort();
    const serve = `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`;
    await ok(
      'run',
      '-d',
      ...runOptions,
      '--name',
      name,
      '-p',
      `127.0.0.1:${port}:80`,
      busybox,
      'sh',
      '-c',
      serve,
    );
    return port;
  };
  const needContainers = (t: { skip(msg: string): void }) => {
    if (containersApi) t.skip(containersApi);
    return !containersApi;
  };

  before(async () => {
    env = await startEngineEnv({ berthd: { extraArgs: ['--host-gateway-ip', HOST_GATEWAY_IP] } });
    busybox = env.images.busybox.ref;
    await ok('pull', '-q', busybox);
    const probe = await docker('run', '--rm', busybox, 'true');
    containersApi =
      probe.code === 0 ? false : `docker run does not work yet: ${probe.stderr.trim()}`;
  });

  after(async () => {
    if (env) {
      const ids = (await docker('ps', '-aq')).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await docker('rm', '-f', ...ids);
      await docker('network', 'prune', '-f');
      await env.stop();
    }
    await collectLeftovers();
  });

  it('lists the predefined networks and refuses to remove them', async () => {
    const names = (await ok('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'))
      .trim()
      .split('\n');
    assert.deepEqual(names.sort(), ['bridge bridge local', 'host host local', 'none null local']);
    await fails(
      ['network', 'rm', 'bridge'],
      'bridge is a pre-defined network and cannot be removed',
    );
    // The CLI words a 404 itself ("No such network"); the API says "network nope not found".
    await fails(['network', 'rm', 'nope'], /network nope not found|No such network: nope/);
    await fails(['network', 'inspect', 'nope'], /network nope not found|No such network: nope/);
  });

  it('creates, lists with filters, inspects and removes a user network', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const id =
      (await ok(
        'network', 'create', '--label', 'tier=test', '--subnet', '10.231.0.0/16',
        '--gateway', '10.231.0.254', '--ip-range', '10.231.7.0/24', `${netName}-a`,
      )) // prettier-ignore
        .trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await fails(
      ['network', 'create', `${netName}-a`],
      `network with name ${netName}-a already exists`,
    );
    const [info] = JSON.parse(await ok('network', 'inspect', `${netName}-a`)) as Array<{
      Id: string;
      Driver: string;
      Scope: string;
      IPAM: { Config: Array<{ Subnet: string; Gateway: string; IPRange: string }> };
      Labels: Record<string, string>;
      Containers: Record<string, unknown>;
      Options: Record<string, string>;
    }>;
    assert.equal(info?.Id, id);
    assert.equal(info?.Driver, 'bridge');
    assert.equal(info?.Scope, 'local');
    assert.deepEqual(info?.IPAM.Config, [
      { Subnet: '10.231.0.0/16', Gateway: '10.231.0.254', IPRange: '10.231.7.0/24' },
    ]);
    assert.deepEqual(info?.Labels, { tier: 'test' });
    assert.deepEqual(info?.Containers, {});
    const addrs = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', `br-${id.slice(0, 12)}`]);
    assert.match(addrs.stdout, /10\.231\.0\.254\/16/);
    await fails(
      ['network', 'create', '--subnet', '10.231.5.0/24', `${netName}-b`],
      'Pool overlaps with other one on this address space',
    );
    await ok('network', 'create', `${netName}-b`);
    const filtered = async (...f: string[]) =>
      (await ok('network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['--filter', x])))
        .trim()
        .split('\n')
        .filter(Boolean)
        .sort();
    assert.deepEqual(await filtered('label=tier=test'), [`${netName}-a`]);
    assert.deepEqual(await filtered(`name=${netName}`), [`${netName}-a`, `${netName}-b`]);
    assert.deepEqual(await filtered('type=custom'), [`${netName}-a`, `${netName}-b`]);
    assert.deepEqual(await filtered('type=builtin'), ['bridge', 'host', 'none']);
    assert.deepEqual(await filtered('driver=null'), ['none']);
    assert.deepEqual(await filtered(`id=${id.slice(0, 10)}`), [`${netName}-a`]);
    assert.deepEqual(await filtered('dangling=true'), [`${netName}-a`, `${netName}-b`]);
    await ok('network', 'rm', `${netName}-b`);
    const pruned = await ok('network', 'prune', '-f');
    assert.match(pruned, new RegExp(`Deleted Networks:\\n${netName}-a`));
    assert.equal((await run('ip', ['link', 'show', `br-${id.slice(0, 12)}`])).code !== 0, true);
    const events = await ok(
      'events', '--since', since, '--until', String(Math.ceil(Date.now() / 1000) + 1),
      '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.name}}',
    ); // prettier-ignore
    const mine = events.split('\n').filter((l) => l.includes(netName));
    assert.deepEqual(mine, [
      `create ${netName}-a`,
      `create ${netName}-b`,
      `destroy ${netName}-b`,
      `destroy ${netName}-a`,
    ]);
  });

  it('containers on a user network resolve each other by name and alias', async (t) => {
    if (!needContainers(t)) return;
    await ok('network', 'create', `${netName}-dns`);
    await ok(
      'run',
      '-d',
      '--name',
      `${netName}-beta`,
      '--network',
      `${netName}-dns`,
      '--network-alias',
      'b-alias',
      busybox,
      'sleep',
      '120',
    );
    const script =
      'nslookup beta-x >/dev/null 2>&1; nslookup $PEER && nslookup b-alias && ping -c1 -W5 b-alias && cat /etc/hosts';
    const out = await ok(
      'run', '--rm', '--network', `${netName}-dns`, '-e', `PEER=${netName}-beta`, busybox, 'sh', '-c', script,
    ); // prettier-ignore
    const betaIp = (
      await ok(
        'inspect',
        '-f',
        `{{(index .NetworkSettings.Networks "${netName}-dns").IPAddress}}`,
        `${netName}-beta`,
      )
    ).trim();
    assert.match(betaIp, /^\d+\.\d+\.\d+\.\d+$/);
    assert.ok(out.includes(`Address: ${betaIp}`) || out.includes(`Address 1: ${betaIp}`), out);
    assert.match(out, /1 packets received/);
    assert.match(
      out,
      new RegExp(`^${betaIp.replace(/\./g, '\\.')}\\t${netName}-beta b-alias$`, 'm'),
    );
    const inspect = JSON.parse(await ok('network', 'inspect', `${netName}-dns`)) as Array<{
      Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }>;
    }>;
    const entries = Object.values(inspect[0]?.Containers ?? {});
    assert.deepEqual(
      entries.map((c) => c.Name),
      [`${netName}-beta`],
    );
    assert.match(entries[0]?.IPv4Address ?? '', /\/16$/);
    assert.match(entries[0]?.MacAddress ?? '', /^02:42:/);
    await fails(
      ['network', 'rm', `${netName}-dns`],
      new RegExp(
        `error while removing network: network ${netName}-dns id [0-9a-f]{64} has active endpoints`,
      ),
    );
  });

  it('gives containers host.docker.internal and host-gateway from --host-gateway-ip', async (t) => {
    if (!needContainers(t)) return;
    const entries = async (...args: string[]) =>
      (await ok('run', '--rm', ...args, busybox, 'cat', '/etc/hosts'))
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' '));
    const hosts = await entries('--add-host', 'gw:host-gateway');
    assert.ok(hosts.includes(`${HOST_GATEWAY_IP} gw`), hosts.join('\n'));
    assert.ok(hosts.includes(`${HOST_GATEWAY_IP} host.docker.internal`), hosts.join('\n'));
    const own = await entries('--add-host', 'host.docker.internal:192.0.2.9');
    assert.ok(own.includes('192.0.2.9 host.docker.internal'), own.join('\n'));
    assert.ok(!own.includes(`${HOST_GATEWAY_IP} host.docker.internal`), own.join('\n'));
  });

  it('connects and disconnects a running container', async (t) => {
    if (!needContainers(t)) return;
    await ok('network', 'create', `${netName}-c`);
    await ok('run', '-d', '--name', `${netName}-cc`, busybox, 'sleep', '120');
    await ok('network', 'connect', '--alias', 'joined', `${netName}-c`, `${netName}-cc`);
    // From the network's side: the container's own inspect follows once CORE refreshes its
    // record through ContainerResolver.networkSettingsChanged.
    const members = async () =>
      Object.values(
        (
          JSON.parse(await ok('network', 'inspect', `${netName}-c`)) as Array<{
            Containers: Record<string, { Name: string; IPv4Address: string }>;
          }>
        )[0]?.Containers ?? {},
      );
    const [member] = await members();
    assert.equal(member?.Name, `${netName}-cc`);
    const ip = (member?.IPv4Address ?? '').replace(/\/\d+$/, '');
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    const out = await ok(
      'run',
      '--rm',
      '--network',
      `${netName}-c`,
      busybox,
      'ping',
      '-c1',
      '-W5',
      'joined',
    );
    assert.match(out, new RegExp(`from ${ip.replace(/\./g, '\\.')}`));
    await fails(
      ['network', 'connect', `${netName}-c`, `${netName}-cc`],
      /already exists in network/,
    );
    await ok('network', 'disconnect', `${netName}-c`, `${netName}-cc`);
    assert.deepEqual(await members(), []);
    await fails(
      ['network', 'connect', `${netName}-c`, 'no-such-container'],
      'No such container: no-such-container',
    );
    await ok('rm', '-f', `${netName}-cc`);
    await ok('network', 'rm', `${netName}-c`);
  });

  it('publishes a TCP port on 127.0.0.1, shown by docker port and docker ps', async (t) => {
    if (!needContainers(t)) return;
    const port = await runWebServer(`${netName}-web`, 'served-by-busybox');
    assert.equal(
      await retry('GET', () => httpGet(`http://127.0.0.1:${port}/index.html`)),
      'served-by-busybox\n',
    );
    assert.equal((await ok('port', `${netName}-web`)).trim(), `80/tcp -> 127.0.0.1:${port}`);
    assert.match(
      await ok('ps', '--filter', `name=${netName}-web`, '--format', '{{.Ports}}'),
      new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`),
    );
    // The same host port again: Docker's message, and the failed container does not run.
    const r = await fails(
      [
        'run',
        '-d',
        '--name',
        `${netName}-web2`,
        '-p',
        `127.0.0.1:${port}:80`,
        busybox,
        'sleep',
        '60',
      ],
      new RegExp(
        `driver failed programming external connectivity on endpoint ${netName}-web2 \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`,
      ),
    );
    void r;
    await ok('rm', '-f', `${netName}-web`);
    // The listener went with the container.
    await new Promise<void>((resolve, reject) => {
      const s: Server = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });

  it('binds 127.0.0.1 by default; -P publishes exposed ports on random ones', async (t) => {
    if (!needContainers(t)) return;
    await ok(
      'run',
      '-d',
      '--name',
      `${netName}-p`,
      '-p',
      '80',
      '--expose',
      '8080',
      '-P',
      busybox,
      'sleep',
      '120',
    );
    const lines = (await ok('port', `${netName}-p`)).trim().split('\n').sort();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0] ?? '', /^80\/tcp -> 127\.0\.0\.1:\d+$/);
    assert.match(lines[1] ?? '', /^8080\/tcp -> 127\.0\.0\.1:\d+$/);
  });

  // Debian's busybox nc has no -u: the UDP server runs in the container's namespace (Node).
  it('publishes a UDP port', async (t) => {
    if (!needContainers(t)) return;
    await ok(
      'run',
      '-d',
      '--name',
      `${netName}-udp`,
      '-p',
      '127.0.0.1::9000/udp',
      busybox,
      'sleep',
      '120',
    );
    const key = (
      await ok('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', `${netName}-udp`)
    ).trim();
    await startUdpEcho(t, key);
    const mapping = (await ok('port', `${netName}-udp`, '9000/udp')).trim();
    const m = /^127\.0\.0\.1:(\d+)$/.exec(mapping);
    assert.ok(m, mapping);
    const sock = createSocket('udp4');
    t.after(() => sock.close());
    const reply = await retry('udp', () => {
      const got = once(sock, 'message') as Promise<[Buffer]>;
      sock.send('hi', Number(m[1]), '127.0.0.1');
      return Promise.race([
        got.then(([b]) => b.toString('utf8')),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no reply')), 1_000)),
      ]);
    });
    assert.equal(reply, 'pong:hi');
  });

  it('published ports come back after berthd restarts', async (t) => {
    if (!needContainers(t)) return;
    const port = await runWebServer(`${netName}-rs`, 'still-here', '--restart', 'always');
    assert.equal(
      await retry('GET before', () => httpGet(`http://127.0.0.1:${port}/`)),
      'still-here\n',
    );
    await env.restart();
    assert.equal(
      await retry('GET after', () => httpGet(`http://127.0.0.1:${port}/`)),
      'still-here\n',
    );
    assert.equal((await ok('port', `${netName}-rs`)).trim(), `80/tcp -> 127.0.0.1:${port}`);
    await ok('rm', '-f', `${netName}-rs`);
  });

  it('gives a static --ip, joins networks connected before start, and runs host/none modes', async (t) => {
    if (!needContainers(t)) return;
    await ok('network', 'create', '--subnet', '10.232.0.0/24', `${netName}-s`);
    await ok('network', 'create', `${netName}-s2`);
    const addr = await ok(
      'run',
      '--rm',
      '--network',
      `${netName}-s`,
      '--ip',
      '10.232.0.77',
      busybox,
      'ip',
      '-4',
      '-o',
      'addr',
      'show',
      'eth0',
    );
    assert.match(addr, /inet 10\.232\.0\.77\/24/);
    await fails(
      ['run', '--rm', '--network', `${netName}-s2`, '--ip', '10.1.1.1', busybox, 'true'],
      'user specified IP address is supported only when connecting to networks with user configured subnets',
    );
    await fails(
      ['run', '--rm', '--network', 'nope-net', busybox, 'true'],
      'network nope-net not found',
    );
    // Connected while only created: both interfaces exist once it starts.
    await ok(
      'create',
      '--name',
      `${netName}-late`,
      '--network',
      `${netName}-s`,
      busybox,
      'ip',
      '-4',
      '-o',
      'addr',
    );
    await ok('network', 'connect', `${netName}-s2`, `${netName}-late`);
    const both = await ok('start', '-a', `${netName}-late`);
    assert.match(both, /eth0 +inet 10\.232\.0\./);
    assert.match(both, /eth1 +inet /);
    await ok('rm', `${netName}-late`);
    const none = await ok('run', '--rm', '--network', 'none', busybox, 'ip', '-o', 'link');
    assert.deepEqual(
      none
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]?.trim()),
      ['lo'],
    );
    const hostLinks = await ok('run', '--rm', '--network', 'host', busybox, 'ip', '-o', 'link');
    assert.match(hostLinks, /: eth0[:@]/);
    await ok('network', 'rm', `${netName}-s`, `${netName}-s2`);
  });

  it('docker-compose: services resolve each other on the project network; ports publish', async (t) => {
    if (!needContainers(t)) return;
    const noCompose = skipUnless(['docker-compose']);
    if (noCompose) return t.skip(noCompose);
    const dir = tempDir('berth-compose-net');
    t.after(() => dir.remove());
    const port = await freePort();
    const project = composeProject(env, `${netName}cp`, dir.path);
    project.write([
      'services:',
      '  web:',
      `    image: ${busybox}`,
      '    command: sh -c "mkdir -p /www && echo composed > /www/index.html && exec httpd -f -p 80 -h /www"',
      `    ports: ["127.0.0.1:${port}:80"]`,
      '    networks: [back]',
      '  client:',
      `    image: ${busybox}`,
      '    command: sleep 120',
      '    networks:',
      '      back:',
      '        aliases: [helper]',
      'networks:',
      '  back: {}',
    ]);
    const compose = async (...args: string[]) => {
      const r = await project.run(args);
      assert.equal(r.code, 0, `docker-compose ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    await compose('up', '-d');
    try {
      assert.equal(await retry('GET', () => httpGet(`http://127.0.0.1:${port}/`)), 'composed\n');
      const out = await ok(
        'exec',
        `${netName}cp_client_1`,
        'wget',
        '-q',
        '-O-',
        'http://web/',
      ).catch(
        // exec may not be served yet: resolve from a one-off container on the same network
        () =>
          ok(
            'run',
            '--rm',
            '--network',
            `${netName}cp_back`,
            busybox,
            'wget',
            '-q',
            '-O-',
            'http://web/',
          ),
      );
      assert.equal(out, 'composed\n');
      const helper = await ok(
        'run',
        '--rm',
        '--network',
        `${netName}cp_back`,
        busybox,
        'nslookup',
        'helper',
      );
      assert.match(helper, /Name:\s+helper/);
    } finally {
      await compose('down', '-v');
    }
    assert.equal((await docker('network', 'inspect', `${netName}cp_back`)).code === 0, false);
  });
});

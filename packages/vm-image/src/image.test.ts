/**
 * Builds the amd64 image (cached by input hash) and boots it under QEMU/TCG twice on the same
 * data disk: the agent accepts only the generated key, carries the Docker API to berthd, and
 * what the first boot wrote to the data disk is there on the second.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'ssh2';
import { generateEd25519KeyPair } from './agent/ssh-keys.js';
import { buildImage, type BuildResult } from './build/build.js';
import { EXEC_EVENTS, type GuestConfig } from './agent/protocol.js';
import { bootGuest, type BootedGuest } from './testing/qemu.js';
import { connectAgent, engineRequest, execIn, openEngineStream } from './testing/ssh.js';

const TOOLS = [
  '/usr/bin/qemu-system-x86_64',
  '/usr/bin/mksquashfs',
  '/usr/sbin/depmod',
  '/usr/bin/readelf',
  '/usr/bin/apt-get',
];
const missing = TOOLS.filter((t) => !existsSync(t));
const skip =
  process.arch !== 'x64'
    ? 'needs an x86-64 host'
    : missing.length
      ? `missing ${missing.join(', ')}`
      : false;

const BUILD_TIMEOUT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 240_000;

describe('vm image: build and boot under TCG', { skip, timeout: 30 * 60_000 }, () => {
  let image: BuildResult;
  let dir: string;
  let clientKey: string;
  let otherKey: string;
  let configFile: string;
  let dataDisk: string;
  const guests: BootedGuest[] = [];
  const clients: Client[] = [];

  before(
    async () => {
      const started = Date.now();
      image = await buildImage({ arch: 'amd64' });
      console.log(
        `# image ${image.manifest.key} ${image.cached ? 'from cache' : 'built'} in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
          Object.entries(image.manifest.files)
            .map(([f, i]) => `${f} ${(i.size / 1048576).toFixed(1)} MiB`)
            .join(', '),
      );
      dir = mkdtempSync(join(tmpdir(), 'berth-vm-test-'));
      const host = generateEd25519KeyPair();
      const client = generateEd25519KeyPair();
      clientKey = client.private;
      otherKey = generateEd25519KeyPair().private;
      const config: GuestConfig = {
        version: 1,
        hostKey: host.private,
        authorizedKeys: [client.public],
      };
      configFile = join(dir, 'config.json');
      writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
      dataDisk = join(dir, 'data.raw');
      writeFileSync(dataDisk, '');
      truncateSync(dataDisk, 2 * 1024 ** 3);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    for (const c of clients) c.end();
    await killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A guest left running by a failed test holds the data disk's lock. */
  async function killAll(): Promise<void> {
    for (const g of guests) g.kill();
    await Promise.all(guests.map((g) => g.waitForExit(10_000)));
  }

  /** Boots the image (after any guest left running) and waits until it is ready. */
  async function bootReady(label: string): Promise<BootedGuest> {
    await killAll();
    const guest = await bootGuest({
      imageDir: image.dir,
      manifest: image.manifest,
      dataDisk,
      configFile,
    });
    guests.push(guest);
    const readyMs = await guest.waitForStage('ready', READY_TIMEOUT_MS);
    console.log(
      `# ${label}: ready after ${(readyMs / 1000).toFixed(1)} s wall (${/berth-stage: ready (\S+)/.exec(guest.serial())?.[1]} guest uptime)`,
    );
    console.log(`# stages (wall ms): ${JSON.stringify(guest.stageTimes())}`);
    return guest;
  }

  async function connect(guest: BootedGuest): Promise<Client> {
    const client = await connectAgent(guest.sshPort, clientKey);
    clients.push(client);
    return client;
  }

  async function powerOff(guest: BootedGuest, client: Client): Promise<void> {
    // The channel may close without a status: the guest is going down.
    await execIn(client, 'poweroff').catch(() => undefined);
    const code = await guest.waitForExit(90_000);
    assert.equal(code, 0, `QEMU exit after poweroff; serial:\n${guest.serial().slice(-2000)}`);
    assert.match(guest.serial(), /berth-stage: stopped/);
  }

  it('first boot: formats the data disk, serves the engine over ssh, powers off cleanly', async () => {
    const guest = await bootReady('first boot');
    const client = await connect(guest);
    assert.match(guest.serial(), /berth-stage: data-disk formatted/);

    const ping = await engineRequest(client, 'GET', '/_ping');
    assert.deepEqual(ping, { status: 200, body: 'OK' });
    const version = await engineRequest(client, 'GET', '/version');
    assert.equal(version.status, 200);
    const v = JSON.parse(version.body) as { ApiVersion: string; Os: string; Arch: string };
    assert.equal(v.Os, 'linux');
    assert.equal(v.Arch, 'amd64');

    // Only the engine socket is reachable as a unix stream.
    await assert.rejects(openEngineStream(client, '/run/berth/agent.pid'));

    // The event channel says hello, then the (empty) set of published ports.
    const events = await new Promise<string[]>((resolve, reject) => {
      client.exec(EXEC_EVENTS, (err, ch) => {
        if (err) return reject(err);
        let text = '';
        ch.on('data', (c: Buffer) => {
          text += c.toString();
          const lines = text.split('\n').filter(Boolean);
          if (lines.length >= 2) {
            ch.close();
            resolve(lines);
          }
        });
      });
    });
    assert.equal((JSON.parse(events[0] ?? '{}') as { type: string }).type, 'hello');
    assert.deepEqual(JSON.parse(events[1] ?? '{}'), { type: 'ports', ports: [] });

    const cg = await execIn(
      client,
      'grep cgroup /proc/mounts; cat /sys/fs/cgroup/cgroup.subtree_control',
    );
    assert.match(cg.stdout, /^cgroup2 \/sys\/fs\/cgroup cgroup2 /m);
    assert.doesNotMatch(cg.stdout, /^\S+ \S+ cgroup /m, 'no cgroup v1 hierarchy');
    assert.match(cg.stdout, /memory/);
    // Scripts berthd runs through sh find iproute2's ip (busybox's applet has no -batch).
    const ip = await execIn(client, "sh -c 'ip -V; echo link show lo | ip -batch -'");
    assert.match(ip.stdout, /iproute2/, ip.stderr);
    assert.match(ip.stdout, /^1: lo:/m, ip.stderr);
    const w = await execIn(client, 'echo persisted-$((6*7)) > /var/lib/berth/boot-test && sync');
    assert.equal(w.code, 0, w.stderr);

    await powerOff(guest, client);
  });

  it('refuses a key it was not given; the data disk survives a reboot', async () => {
    const guest = await bootReady('second boot');
    await assert.rejects(connectAgent(guest.sshPort, otherKey), /authentication/i);

    // Second boot on the same disk: not formatted again, and the file is there.
    assert.doesNotMatch(guest.serial(), /data-disk formatted/);
    const client = await connect(guest);
    const r = await execIn(client, 'cat /var/lib/berth/boot-test');
    assert.equal(r.stdout.trim(), 'persisted-42');
    assert.deepEqual(await engineRequest(client, 'GET', '/_ping'), { status: 200, body: 'OK' });
    await powerOff(guest, client);
  });
});

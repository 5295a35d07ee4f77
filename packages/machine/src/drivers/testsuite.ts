/**
 * The conformance suite every Driver runnable on the host passes (after containerd's snapshotter
 * testsuite): the same lifecycle checks against a real guest, whatever the hypervisor.
 *
 *   runDriverSuite('qemu', qemuDriver(), { image })
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION, type GuestConfig } from '@berth/vm-image/protocol';
import { AgentLink } from '../bridge/agent-link.js';
import type { Driver, DriverContext, DriverFactory, StartedGuest } from '../driver.js';
import { generateMachineKeys, writeMachineKeys, type MachineKeys } from '../keys.js';
import { berthPaths } from '../paths.js';
import {
  guestShares,
  MachineSettingsSchema,
  sharedFoldersFor,
  type GuestImage,
  type MachineSettings,
} from '../settings.js';

export interface DriverSuiteOptions {
  image: GuestImage;
  /** Why the suite cannot run here (missing hypervisor, image not built), or false. */
  skip: string | false;
  settings?: Partial<MachineSettings>;
  /** Milliseconds for one boot. */
  bootTimeoutMs?: number;
  /** Extra checks on the first boot (e.g. which accelerator won, and what was said about it). */
  onFirstStart?: (guest: StartedGuest, notices: readonly string[], hostStateDir: string) => void;
  /** Checks the filesystem type the guest mounted the shared folder with (9p, virtiofs). */
  onShareMounted?: (fsType: string) => void;
}

async function agentRuns(
  keys: MachineKeys,
  driver: Driver,
  command = 'cat /proc/sys/kernel/hostname',
): Promise<string> {
  const link = new AgentLink({
    address: () => driver.guestAgent(),
    clientKey: keys.clientPrivate,
    hostKey: keys.hostPublic,
    minBackoffMs: 250,
    maxBackoffMs: 2000,
  });
  try {
    const ch = await link.exec(command, {}, 120_000);
    let out = '';
    ch.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise<void>((resolve) => ch.once('close', () => resolve()));
    return out.trim();
  } finally {
    await link.close();
  }
}

export function runDriverSuite(
  name: string,
  factory: DriverFactory,
  opts: DriverSuiteOptions,
): void {
  describe(`driver conformance: ${name}`, { skip: opts.skip, timeout: 15 * 60_000 }, () => {
    let root: string;
    let ctx: DriverContext;
    let keys: MachineKeys;
    let driver: Driver;
    let shared: string;

    before(() => {
      root = mkdtempSync(join(tmpdir(), `berth-driver-${name}-`));
      shared = mkdtempSync(join(tmpdir(), `berth-driver-${name}-share-`));
      writeFileSync(join(shared, 'hello.txt'), 'from the host\n');
      const paths = berthPaths(root).machine('suite');
      keys = generateMachineKeys('suite');
      writeMachineKeys(paths, keys);
      const settings = MachineSettingsSchema.parse({
        name: 'suite',
        driver: name,
        arch: process.arch === 'arm64' ? 'aarch64' : 'x86_64',
        cpus: 2,
        memoryMiB: 1024,
        diskGiB: 2,
        image: opts.image,
        sharedFolders: sharedFoldersFor([shared]),
        createdAt: new Date().toISOString(),
        ...opts.settings,
      });
      const guestConfig: GuestConfig = {
        version: PROTOCOL_VERSION,
        hostKey: keys.hostPrivate,
        authorizedKeys: [keys.clientPublic],
        shares: guestShares(settings.sharedFolders),
        hostname: 'suite-guest',
      };
      ctx = { settings, paths, hostStateDir: root, guestConfig };
      driver = factory(ctx);
    });

    after(async () => {
      await driver?.delete().catch(() => undefined);
      if (root) rmSync(root, { recursive: true, force: true });
      if (shared) rmSync(shared, { recursive: true, force: true });
    });

    it('validates and creates its files idempotently', async () => {
      await driver.validate();
      await driver.create();
      await driver.create();
      assert.ok(existsSync(ctx.paths.dataDisk));
      assert.equal(statSync(ctx.paths.dataDisk).size, ctx.settings.diskGiB * 1024 ** 3);
    });

    it('is not running before start, and stop is then a no-op', async () => {
      assert.equal((await driver.status()).running, false);
      assert.equal(await driver.guestAgent(), undefined);
      await driver.stop({ timeoutMs: 1000 });
    });

    it('boots a guest whose agent answers with the machine keys', async () => {
      const notices: string[] = [];
      const guest = await driver.start({ onNotice: (m) => notices.push(m) });
      const status = await driver.status();
      assert.equal(status.running, true);
      assert.equal(status.accelerator, guest.accelerator);
      assert.deepEqual(await driver.guestAgent(), guest.agent);
      if (guest.agent.transport === 'tcp') assert.equal(guest.agent.host, '127.0.0.1');
      assert.match(readFileSync(ctx.paths.serialLog, 'utf8'), /berth-stage: /);
      opts.onFirstStart?.(guest, notices, root);
      assert.equal(await agentRuns(keys, driver), 'suite-guest');
    });

    it('shares a host folder at the same path, over the transport it reports', async () => {
      const file = join(shared, 'hello.txt');
      assert.equal(await agentRuns(keys, driver, `cat ${file}`), 'from the host');
      const mounts = await agentRuns(keys, driver, 'cat /proc/mounts');
      const mount = mounts.split('\n').find((l) => l.split(' ')[1] === shared);
      assert.ok(mount, `${shared} not mounted in the guest:\n${mounts}`);
      opts.onShareMounted?.(mount.split(' ')[2] ?? '');
    });

    it('refuses a second start while running', async () => {
      await assert.rejects(driver.start(), /already running/);
    });

    it('stops cleanly, and keeps the data disk across a restart', async () => {
      // The guest's own power-off (ACPI for QEMU): its shutdown script ran to the end.
      await driver.stop({ timeoutMs: 30_000 });
      assert.equal((await driver.status()).running, false);
      assert.match(readFileSync(ctx.paths.serialLog, 'utf8'), /berth-stage: stopped/);
      assert.equal(await driver.guestAgent(), undefined);
      await driver.stop({ timeoutMs: 1000 });
      // The guest formatted the blank disk on first boot: its first MiB is no longer zeros.
      const head = Buffer.alloc(1024 * 1024);
      const fd = openSync(ctx.paths.dataDisk, 'r');
      try {
        readSync(fd, head, 0, head.length, 0);
      } finally {
        closeSync(fd);
      }
      assert.ok(
        head.some((b) => b !== 0),
        'data disk still blank after the first boot',
      );
      await driver.start();
      assert.equal(await agentRuns(keys, driver), 'suite-guest');
      await driver.stop({ timeoutMs: 10_000 });
    });

    it('deletes everything it made', async () => {
      writeFileSync(join(ctx.paths.dir, 'keep.txt'), 'not the driver’s');
      await driver.delete();
      assert.equal(existsSync(ctx.paths.dataDisk), false);
      assert.equal(existsSync(ctx.paths.serialLog), false);
      assert.equal((await driver.status()).running, false);
      assert.ok(existsSync(join(ctx.paths.dir, 'keep.txt')));
    });
  });
}

/**
 * QEMU's hostfwd over QMP: the commands, and a real QEMU (no guest: the firmware idles) whose
 * user-net forwards are added and removed at run time, with a taken host port reported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PortForwardError } from '../../driver.js';
import { hostArch } from '../../settings.js';
import { freePort, livePid, runCommand, terminate } from '../../util/process.js';
import { waitUntil } from '../../util/wait.js';
import { qemuBinary } from './args.js';
import {
  hmpFailure,
  hostfwdAddCommand,
  hostfwdRemoveCommand,
  QemuHostForwarder,
} from './hostfwd.js';

/** Resolves with the listen error's code, or undefined when the host can bind the port. */
function bindError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

describe('QEMU hostfwd commands', () => {
  it('adds and removes on the user-net netdev', () => {
    assert.equal(
      hostfwdAddCommand('tcp', '127.0.0.1', 8080, 80),
      'hostfwd_add net0 tcp:127.0.0.1:8080-:80',
    );
    assert.equal(
      hostfwdRemoveCommand('udp', '127.0.0.2', 5353),
      'hostfwd_remove net0 udp:127.0.0.2:5353',
    );
  });

  it('reads HMP’s text answers', () => {
    assert.equal(hmpFailure(''), undefined);
    assert.equal(
      hmpFailure("Could not set up host forwarding rule 'tcp:127.0.0.1:1-:2'\r\n"),
      "Could not set up host forwarding rule 'tcp:127.0.0.1:1-:2'",
    );
  });

  it('forwards IPv4 host addresses only (QEMU 7.2 slirp)', () => {
    const f = new QemuHostForwarder('/nonexistent', '/nonexistent.json');
    assert.equal(f.supports('tcp', '127.0.0.1'), true);
    assert.equal(f.supports('udp', '::1'), false);
  });
});

const qemu = qemuBinary(hostArch());
const skip =
  spawnSync(qemu, ['--version'], { timeout: 15_000 }).status === 0
    ? false
    : `${qemu} is not installed`;

describe('QEMU hostfwd at run time', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let pid: number | undefined;
  let forwarder: QemuHostForwarder;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-hostfwd-'));
    const qmp = join(dir, 'qmp.sock');
    const pidFile = join(dir, 'qemu.pid');
    const r = await runCommand(
      qemu,
      [
        '-nodefaults',
        '-no-user-config',
        '-display',
        'none',
        '-accel',
        'tcg',
        '-m',
        '64',
        '-netdev',
        'user,id=net0',
        '-device',
        'virtio-net-pci,netdev=net0',
        '-qmp',
        `unix:${qmp},server=on,wait=off`,
        '-pidfile',
        pidFile,
        '-daemonize',
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    pid = await waitUntil('the QEMU pid file', () => livePid(pidFile), { timeoutMs: 10_000 });
    forwarder = new QemuHostForwarder(qmp, join(dir, 'hostfwd.json'));
  });

  after(async () => {
    if (pid !== undefined) await terminate(pid, 2000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on the host while the rule exists, TCP and UDP', async () => {
    const port = await freePort();
    await forwarder.add('tcp', '127.0.0.1', port, 80);
    await forwarder.add('udp', '127.0.0.1', port, 53);
    assert.equal(await bindError(port), 'EADDRINUSE');
    // Again: a rule this guest already has is replaced, not refused.
    await forwarder.add('tcp', '127.0.0.1', port, 80);
    await forwarder.remove('tcp', '127.0.0.1', port);
    await forwarder.remove('udp', '127.0.0.1', port);
    assert.equal(await bindError(port), undefined);
    // Removing what is not there is fine.
    await forwarder.remove('tcp', '127.0.0.1', port);
  });

  it('clears what an earlier host process added to the same guest', async () => {
    const port = await freePort();
    await forwarder.add('tcp', '127.0.0.1', port, 80);
    await forwarder.add('udp', '127.0.0.1', port, 53);
    const later = new QemuHostForwarder(join(dir, 'qmp.sock'), join(dir, 'hostfwd.json'));
    await later.reset();
    assert.equal(await bindError(port), undefined);
    await later.reset();
  });

  it('reports a host port that is already taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        forwarder.add('tcp', '127.0.0.1', taken, 80),
        (e: unknown) =>
          e instanceof PortForwardError &&
          e.message === `port 127.0.0.1:${taken} is already in use on the host`,
      );
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

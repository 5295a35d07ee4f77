/**
 * The /volumes endpoints served by an in-process API server on a temp socket, driven by the
 * real docker CLI (`docker volume create/ls/inspect/rm/prune`) and by raw requests where the
 * CLI cannot show a detail (status codes, API-version-dependent prune).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryEventBus } from '../../events/bus.js';
import { nullLogger } from '../../logging/logger.js';
import { docker } from '../../testing/docker-cli.js';
import { tempDir } from '../../testing/process.js';
import { socketRequest } from '../../testing/socket-http.js';
import { skipUnless } from '../../testing/tools.js';
import { createVolumeService, type LocalVolumeService } from '../../volumes/service.js';
import { Router } from '../router.js';
import { createApiServer } from '../server.js';
import { registerVolumeRoutes } from './volumes.js';

const skip = skipUnless(['docker']);
const CID = 'e'.repeat(64);

describe('volume routes', { skip }, () => {
  let dir: { path: string; remove(): void };
  let server: Server;
  let socket: string;
  let svc: LocalVolumeService;
  const events = new MemoryEventBus();
  const cli = (...args: string[]) => docker(args, { host: `unix://${socket}`, timeoutMs: 30_000 });
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const api = (path: string, method = 'GET', body?: unknown) =>
    socketRequest(socket, path, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
    });

  before(async () => {
    dir = tempDir('berth-volume-routes-');
    socket = join(dir.path, 'api.sock');
    svc = await createVolumeService({ dataRoot: dir.path, events, logger: nullLogger() });
    const router = new Router();
    router.get('/_ping', ({ res }) => {
      res.end('OK');
    });
    registerVolumeRoutes(router, { events }, svc);
    server = createApiServer({ router, engineVersion: '0.0.0-test' });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    for (const v of svc.store.list()) {
      await svc.releaseMounts(CID, { removeAnonymous: true });
      await svc.store.remove(v.name, { force: true });
    }
    dir.remove();
  });

  it('docker volume create/inspect/ls/rm', async () => {
    assert.equal(
      (
        await ok(
          'volume',
          'create',
          '--label',
          'tier=db',
          '--opt',
          'type=tmpfs',
          '--opt',
          'device=tmpfs',
          '--opt',
          'o=size=1m',
          'dbdata',
        )
      ).trim(),
      'dbdata',
    );
    assert.equal((await ok('volume', 'create', 'dbdata')).trim(), 'dbdata', 'idempotent');
    const [inspected] = JSON.parse(await ok('volume', 'inspect', 'dbdata')) as Array<
      Record<string, unknown>
    >;
    assert.deepEqual(
      { ...inspected, CreatedAt: typeof inspected?.CreatedAt },
      {
        CreatedAt: 'string',
        Driver: 'local',
        Labels: { tier: 'db' },
        Mountpoint: join(dir.path, 'volumes/dbdata/_data'),
        Name: 'dbdata',
        Options: { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' },
        Scope: 'local',
      },
    );
    await ok('volume', 'create', 'other');
    assert.equal(
      await ok('volume', 'ls', '--format', '{{.Driver}} {{.Name}}'),
      'local dbdata\nlocal other\n',
    );
    assert.equal(await ok('volume', 'ls', '-q', '--filter', 'label=tier=db'), 'dbdata\n');
    assert.equal(await ok('volume', 'ls', '-q', '--filter', 'name=oth'), 'other\n');
    assert.equal(await ok('volume', 'ls', '-q', '--filter', 'driver=none'), '');
    assert.equal(await ok('volume', 'rm', 'other'), 'other\n');
    assert.equal(await ok('volume', 'inspect', '-f', '{{.Name}}', 'dbdata'), 'dbdata\n');
  });

  it("answers bad input with Docker's status codes and messages", async () => {
    const bad = await cli('volume', 'create', 'x!');
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /create x!: "x!" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/,
    );
    const missing = await api('/v1.41/volumes/nope');
    assert.deepEqual(
      [missing.status, JSON.parse(missing.body)],
      [404, { message: 'get nope: no such volume' }],
    );
    const rmMissing = await cli('volume', 'rm', 'nope');
    // The 20.10 client words a 404 on a volume itself, as it does against dockerd.
    assert.match(rmMissing.stderr, /No such volume: nope/);
    assert.equal((await cli('volume', 'rm', '-f', 'nope')).code, 0);
    const filt = await api(`/v1.41/volumes?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    assert.deepEqual(
      [filt.status, JSON.parse(filt.body)],
      [400, { message: "invalid filter 'colour'" }],
    );
    const opt = await api('/v1.41/volumes/create', 'POST', {
      Name: 'o',
      DriverOpts: { bogus: '1' },
    });
    assert.equal(opt.status, 400);
  });

  it('refuses rm of a volume in use with 409 and the container ID', async () => {
    await svc.prepareMounts({ containerId: CID, binds: ['used:/u'] }, join(dir.path, 'no-rootfs'));
    const r = await api('/v1.41/volumes/used', 'DELETE');
    assert.deepEqual(
      [r.status, JSON.parse(r.body)],
      [409, { message: `remove used: volume is in use - [${CID}]` }],
    );
    const ls = await ok('volume', 'ls', '-q', '--filter', 'dangling=false');
    assert.equal(ls, 'used\n');
    await svc.releaseMounts(CID, { removeAnonymous: false });
    assert.match(await ok('volume', 'ls', '-q', '--filter', 'dangling=true'), /used/);
  });

  it('prunes every unused volume before API 1.42, only anonymous ones after unless all=true', async () => {
    await ok('volume', 'create', 'named-a');
    const anon = JSON.parse((await api('/v1.44/volumes/create', 'POST', {})).body) as {
      Name: string;
      Labels: Record<string, string>;
    };
    assert.deepEqual(anon.Labels, { 'com.docker.volume.anonymous': '' });
    const modern = await api('/v1.44/volumes/prune', 'POST');
    assert.deepEqual(JSON.parse(modern.body), { VolumesDeleted: [anon.Name], SpaceReclaimed: 0 });
    const all = await api(
      `/v1.44/volumes/prune?filters=${encodeURIComponent('{"all":["true"],"label!":["keep"]}')}`,
      'POST',
    );
    assert.ok(
      (JSON.parse(all.body) as { VolumesDeleted: string[] }).VolumesDeleted.includes('named-a'),
    );
    await ok('volume', 'create', '--label', 'keep', 'kept');
    await ok('volume', 'create', 'gone');
    // The 20.10 CLI speaks API 1.41: every unused volume, label filters honoured.
    const out = await ok('volume', 'prune', '-f', '--filter', 'label!=keep');
    assert.match(out, /Deleted Volumes:\ngone\n/);
    assert.equal(await ok('volume', 'ls', '-q'), 'kept\n');
    const old = await api(
      `/v1.41/volumes/prune?filters=${encodeURIComponent('{"all":["1"]}')}`,
      'POST',
    );
    assert.equal(old.status, 400);
    assert.ok(events.history(0n).some((e) => e.Type === 'volume' && e.Action === 'prune'));
  });
});

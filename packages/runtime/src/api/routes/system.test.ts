/**
 * The system endpoints on a daemon started in-process on a temp socket, checked over the
 * socket with node:http: framing (version prefix, negotiation errors, 404s, bad bodies), the
 * shapes of /version, /info and /system/df, `GET /events` replay, filters and live streaming,
 * and `POST /auth` against a real registry.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { startDaemon, type Daemon } from '../../daemon.js';
import { MemoryEventBus } from '../../events/bus.js';
import { startRegistryProxy } from '../../images/registry/test-proxy.js';
import { tempDir, waitFor } from '../../testing/process.js';
import { startRegistry } from '../../testing/registry.js';
import { socketRequest } from '../../testing/socket-http.js';
import { skipUnless } from '../../testing/tools.js';
import { API_VERSION, MIN_API_VERSION } from '../server.js';

const versionSchema = z.object({
  Platform: z.object({ Name: z.literal('Berth Engine') }),
  Components: z
    .array(
      z.object({
        Name: z.string(),
        Version: z.string(),
        Details: z.record(z.string(), z.string()),
      }),
    )
    .min(1),
  Version: z.string(),
  ApiVersion: z.literal(API_VERSION),
  MinAPIVersion: z.literal(MIN_API_VERSION),
  GitCommit: z.string(),
  GoVersion: z.string().startsWith('node v'),
  Os: z.literal('linux'),
  Arch: z.enum(['amd64', 'arm64']),
  KernelVersion: z.string().min(1),
  BuildTime: z.string(),
});

const infoSchema = z.object({
  ID: z.string().regex(/^[0-9a-f-]{36}$/),
  Containers: z.number().int(),
  Images: z.number().int(),
  Driver: z.literal('overlayfs'),
  DriverStatus: z.array(z.tuple([z.string(), z.string()])),
  Plugins: z.object({ Volume: z.array(z.string()), Network: z.array(z.string()) }),
  MemoryLimit: z.boolean(),
  KernelVersion: z.string().min(1),
  OperatingSystem: z.string().min(1),
  OSType: z.literal('linux'),
  Architecture: z.string().min(1),
  NCPU: z.number().int().positive(),
  MemTotal: z.number().int().positive(),
  DockerRootDir: z.string(),
  Name: z.string().min(1),
  ServerVersion: z.string(),
  CgroupDriver: z.literal('cgroupfs'),
  CgroupVersion: z.enum(['1', '2']),
  DefaultRuntime: z.string(),
  Runtimes: z.record(z.string(), z.object({ path: z.string() })),
  RegistryConfig: z.object({
    InsecureRegistryCIDRs: z.array(z.string()),
    IndexConfigs: z.record(
      z.string(),
      z.object({ Name: z.string(), Secure: z.boolean(), Official: z.boolean() }),
    ),
  }),
  SecurityOptions: z.array(z.string()),
  Swarm: z.object({ LocalNodeState: z.literal('inactive') }),
  Warnings: z.array(z.string()),
});

const eventSchema = z.object({
  Type: z.string(),
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string(), z.string()) }),
  scope: z.literal('local'),
  time: z.number(),
  timeNano: z.number(),
});
type Event = z.infer<typeof eventSchema>;

function parseLines(body: string): Event[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => eventSchema.parse(JSON.parse(l)));
}

/** An open `GET /events` whose messages arrive in `events` as they are streamed. */
function openEventStream(
  socket: string,
  path: string,
): Promise<{ res: IncomingMessage; events: Event[]; ended: Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, timeout: 20_000 }, (res) => {
      const events: Event[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        events.push(...parseLines(lines.join('\n')));
      });
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      resolve({ res, events, ended, close: () => req.destroy() });
    });
    req.once('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.once('error', reject);
    req.end();
  });
}

/** Docker's `seconds.nanoseconds` form of a timeNano, exactly. */
function seconds(nano: number | bigint): string {
  const n = BigInt(nano);
  return `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`;
}

describe('system routes (in-process daemon)', () => {
  const tmp = tempDir('system-routes');
  const socket = join(tmp.path, 'run', 'berth.sock');
  let daemon: Daemon;

  before(async () => {
    daemon = await startDaemon({
      hosts: [`unix://${socket}`],
      dataRoot: join(tmp.path, 'data'),
      execRoot: join(tmp.path, 'run'),
      pidfile: join(tmp.path, 'run', 'berthd.pid'),
      insecureRegistries: ['myreg.example:5000', '10.1.0.0/16'],
      version: '0.1.0',
    });
  });
  after(async () => {
    await daemon?.close();
    tmp.remove();
  });

  const get = (path: string, opts = {}) => socketRequest(socket, path, opts);
  const getJson = async (path: string) => {
    const r = await get(path);
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return JSON.parse(r.body) as unknown;
  };

  it('answers /_ping with and without a version prefix, with Docker headers', async () => {
    for (const path of ['/_ping', '/v1.41/_ping', `/v${API_VERSION}/_ping`]) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, 'OK');
      assert.equal(r.headers['api-version'], API_VERSION);
      assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
      assert.equal(r.headers['pragma'], 'no-cache');
      assert.equal(r.headers['builder-version'], '1');
      assert.equal(r.headers['docker-experimental'], 'false');
      assert.equal(r.headers['ostype'], 'linux');
      assert.equal(r.headers['swarm'], 'inactive');
    }
  });

  it('answers HEAD /_ping with the headers and no body', async () => {
    const r = await get('/_ping', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.headers['api-version'], API_VERSION);
  });

  it('refuses too new and too old API versions with moby’s texts', async () => {
    const tooNew = await get('/v9.99/version');
    assert.equal(tooNew.status, 400);
    assert.deepEqual(JSON.parse(tooNew.body), {
      message: `client version 9.99 is too new. Maximum supported API version is ${API_VERSION}`,
    });
    const tooOld = await get('/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.body, /client version 1\.12 is too old/);
  });

  it('answers unknown paths with 404 page not found', async () => {
    for (const path of ['/nope', '/v1.41/containers/x/nothing']) {
      const r = await get(path);
      assert.equal(r.status, 404);
      assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
    }
  });

  it('answers a malformed JSON body with 400', async () => {
    const r = await get('/auth', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username": ',
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /"message":"invalid JSON/);
  });

  it('reports /version in Docker’s shape', async () => {
    const v = versionSchema.parse(await getJson('/v1.41/version'));
    assert.equal(v.Version, '0.1.0');
    const engine = v.Components.find((c) => c.Name === 'Engine');
    assert.equal(engine?.Details.ApiVersion, API_VERSION);
    assert.equal(engine?.Details.GoVersion, `node ${process.version}`);
  });

  it('reports /info in Docker’s shape, with the insecure registries', async () => {
    const raw = await getJson('/info');
    const info = infoSchema.parse(raw);
    assert.equal(info.DockerRootDir, join(tmp.path, 'data'));
    assert.equal(info.Images, 0);
    assert.ok(info.RegistryConfig.InsecureRegistryCIDRs.includes('127.0.0.0/8'));
    assert.ok(info.RegistryConfig.InsecureRegistryCIDRs.includes('10.1.0.0/16'));
    const indexConfigs = z
      .object({ RegistryConfig: z.object({ IndexConfigs: z.record(z.string(), z.unknown()) }) })
      .parse(raw).RegistryConfig.IndexConfigs;
    assert.deepEqual(indexConfigs['myreg.example:5000'], {
      Name: 'myreg.example:5000',
      Mirrors: [],
      Secure: false,
      Official: false,
    });
    assert.equal(info.RegistryConfig.IndexConfigs['docker.io']?.Official, true);
    assert.deepEqual(info.SecurityOptions, ['name=seccomp,profile=builtin']);
    // Clients before 1.42 warn about any profile not called "default".
    const old = infoSchema.parse(await getJson('/v1.41/info'));
    assert.deepEqual(old.SecurityOptions, ['name=seccomp,profile=default']);
    // The ID is kept across restarts under the data root.
    assert.equal(info.ID, daemon.engine.config.id);
  });

  it('reports /system/df in both the old and the 1.52 shapes', async () => {
    const df = z
      .object({
        LayersSize: z.number(),
        Images: z.array(z.unknown()),
        Containers: z.array(z.unknown()),
        Volumes: z.array(z.unknown()),
        BuildCache: z.array(z.unknown()),
        ImageUsage: z.object({ TotalCount: z.number(), TotalSize: z.number() }),
      })
      .parse(await getJson('/system/df'));
    assert.equal(df.LayersSize, 0);
    assert.deepEqual(df.Images, []);
  });

  it('lists volumes with their usage in /system/df', async () => {
    const created = await get('/volumes/create', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'df-volume' }),
    });
    assert.equal(created.status, 201, created.body);
    const df = z
      .object({
        Volumes: z.array(
          z.object({
            Name: z.string(),
            UsageData: z.object({ Size: z.number(), RefCount: z.number() }),
          }),
        ),
        VolumeUsage: z.object({ TotalCount: z.number(), ActiveCount: z.number() }),
      })
      .parse(await getJson('/system/df'));
    const vol = df.Volumes.find((v) => v.Name === 'df-volume');
    assert.deepEqual(vol?.UsageData, { Size: 0, RefCount: 0 });
    assert.equal(df.VolumeUsage.TotalCount, df.Volumes.length);
    assert.equal(df.VolumeUsage.ActiveCount, 0);
  });

  describe('GET /events', () => {
    const bus = () => daemon.engine.events;

    it('replays the ring between since and until, then ends', async () => {
      bus().emit('image', 'pull', 'busybox:latest', { name: 'busybox:latest' });
      const [first] = bus().history(0n).slice(-1);
      bus().emit('image', 'tag', 'sha256:abc', { name: 'busybox:v2' });
      bus().emit('container', 'start', 'c0ffee', { name: 'web', image: 'busybox' });
      const last = bus().history(0n).at(-1);
      assert.ok(first && last);

      const started = Date.now();
      const all = await get(
        `/events?since=${seconds(first.timeNano)}&until=${seconds(last.timeNano)}`,
      );
      assert.equal(all.status, 200);
      assert.ok(Date.now() - started < 5_000, 'an until in the past ends the stream at once');
      const events = parseLines(all.body);
      assert.deepEqual(
        events.map((e) => e.Action),
        ['pull', 'tag', 'start'],
      );
      // moby's legacy fields for container events.
      const start = JSON.parse(all.body.trim().split('\n').at(-1) ?? '{}') as Record<
        string,
        unknown
      >;
      assert.equal(start.status, 'start');
      assert.equal(start.id, 'c0ffee');
      assert.equal(start.from, 'busybox');

      const sinceTag = await get(
        `/events?since=${seconds(BigInt(first.timeNano) + 1n)}&until=${seconds(last.timeNano)}`,
      );
      assert.deepEqual(
        parseLines(sinceTag.body).map((e) => e.Action),
        ['tag', 'start'],
      );
    });

    it('applies type, event, image, container and label filters', async () => {
      bus().emit('image', 'delete', 'sha256:feed', { name: 'alpine:3' });
      bus().emit('container', 'die', 'deadbeef01', { name: 'db', image: 'alpine:3', tier: 'x' });
      const until = `until=${seconds(Date.now() * 1e6 + 1e9)}`;
      const q = async (filters: Record<string, string[]>) => {
        const r = await get(
          `/events?since=0&${until}&filters=${encodeURIComponent(JSON.stringify(filters))}`,
          { timeoutMs: 10_000 },
        );
        assert.equal(r.status, 200, r.body);
        return parseLines(r.body).map((e) => `${e.Type}:${e.Action}:${e.Actor.ID}`);
      };
      assert.deepEqual(await q({ type: ['image'], event: ['delete'] }), [
        'image:delete:sha256:feed',
      ]);
      assert.deepEqual(await q({ image: ['alpine'] }), [
        'image:delete:sha256:feed',
        'container:die:deadbeef01',
      ]);
      assert.deepEqual(await q({ container: ['deadbeef'] }), ['container:die:deadbeef01']);
      assert.deepEqual(await q({ container: ['db'], label: ['tier=x'] }), [
        'container:die:deadbeef01',
      ]);
      assert.deepEqual(await q({ label: ['tier=y'] }), []);
      const bad = await get(`/events?filters=${encodeURIComponent('{"colour":["red"]}')}`);
      assert.equal(bad.status, 400);
      assert.deepEqual(JSON.parse(bad.body), { message: "invalid filter 'colour'" });
    });

    it('rejects since after until, and unparsable times', async () => {
      const r = await get('/events?since=200&until=100');
      assert.equal(r.status, 400);
      assert.match(r.body, /cannot be after/);
      assert.equal((await get('/events?since=yesterday')).status, 400);
    });

    it('accepts RFC 3339 and duration timestamps', async () => {
      bus().emit('network', 'create', 'n1', { name: 'net1' });
      const recent = await get(
        `/events?since=10m&until=${encodeURIComponent(new Date(Date.now() + 1).toISOString())}`,
      );
      assert.equal(recent.status, 200, recent.body);
      assert.ok(parseLines(recent.body).some((e) => e.Actor.ID === 'n1'));
    });

    it('streams live events to a subscriber and drops it on disconnect', async () => {
      const events = bus();
      assert.ok(events instanceof MemoryEventBus);
      const before = events.listenerCount;
      const stream = await openEventStream(
        socket,
        `/events?filters=${encodeURIComponent('{"type":["volume"]}')}`,
      );
      assert.equal(stream.res.statusCode, 200);
      assert.equal(stream.res.headers['content-type'], 'application/json');
      events.emit('image', 'pull', 'ignored:latest');
      events.emit('volume', 'create', 'vol1', { driver: 'local' });
      await waitFor('the live volume event', () => Promise.resolve(stream.events.length > 0), {
        timeoutMs: 5_000,
      });
      assert.deepEqual(
        stream.events.map((e) => `${e.Type}:${e.Action}:${e.Actor.ID}`),
        ['volume:create:vol1'],
      );
      stream.close();
      await waitFor(
        'the listener to go away',
        () => Promise.resolve(events.listenerCount === before),
        { timeoutMs: 5_000 },
      );
    });

    it('ends a stream at a future until', async () => {
      const stream = await openEventStream(
        socket,
        `/events?until=${seconds(Date.now() * 1e6 + 300e6)}`,
      );
      const started = Date.now();
      await Promise.race([
        stream.ended,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('stream did not end')), 5_000),
        ),
      ]);
      assert.ok(Date.now() - started < 5_000);
    });
  });

  describe('POST /auth', { skip: skipUnless(['docker-registry']) }, () => {
    it('logs in to an open registry, and checks credentials at a token registry', async () => {
      const registry = await startRegistry();
      const proxy = await startRegistryProxy(registry.url, {
        bearer: { username: 'alice', password: 's3cret' },
      });
      try {
        const login = (body: object) =>
          get('/v1.41/auth', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const open = await login({ username: 'x', password: 'y', serveraddress: registry.host });
        assert.equal(open.status, 200, open.body);
        assert.deepEqual(JSON.parse(open.body), { Status: 'Login Succeeded', IdentityToken: '' });

        const good = await login({
          username: 'alice',
          password: 's3cret',
          serveraddress: `http://${proxy.host}`,
        });
        assert.equal(good.status, 200, good.body);

        const bad = await login({ username: 'alice', password: 'nope', serveraddress: proxy.host });
        assert.equal(bad.status, 401, bad.body);
        assert.match(bad.body, /incorrect username or password/);
      } finally {
        await proxy.stop();
        await registry.stop();
      }
    });
  });
});

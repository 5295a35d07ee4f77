/**
 * The image endpoints on a daemon started in-process on a temp socket, pulling from a real
 * loopback registry: response shapes (checked with zod against the swagger's required fields),
 * status codes and Docker's messages, filters, events, and save/load/push over the socket.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { z } from 'zod';
import { startDaemon, type Daemon } from '../../daemon.js';
import { tempDir } from '../../testing/process.js';
import { startRegistry, type Registry } from '../../testing/registry.js';
import { socketRequest } from '../../testing/socket-http.js';
import { pushTestImage, type PushedImage } from '../../testing/test-images.js';
import { skipUnless } from '../../testing/tools.js';

const summarySchema = z
  .object({
    Id: z.string().regex(/^sha256:[a-f0-9]{64}$/),
    ParentId: z.string(),
    RepoTags: z.array(z.string()),
    RepoDigests: z.array(z.string()),
    Created: z.number().int().positive(),
    Size: z.number().int().positive(),
    SharedSize: z.literal(-1),
    Labels: z.record(z.string(), z.string()),
    Containers: z.literal(-1),
  })
  .strict();

const inspectSchema = z.looseObject({
  Id: z.string(),
  RepoTags: z.array(z.string()),
  RepoDigests: z.array(z.string()),
  Parent: z.string(),
  Comment: z.string(),
  Created: z.string(),
  DockerVersion: z.string(),
  Author: z.string(),
  Config: z.looseObject({
    Cmd: z.array(z.string()).nullable(),
    Env: z.array(z.string()).nullable(),
  }),
  Architecture: z.string(),
  Os: z.string(),
  Size: z.number().int().positive(),
  GraphDriver: z.object({ Name: z.literal('overlayfs'), Data: z.record(z.string(), z.string()) }),
  RootFS: z.object({ Type: z.literal('layers'), Layers: z.array(z.string()) }),
  Metadata: z.object({ LastTagTime: z.string().optional() }),
});

const historySchema = z.array(
  z.object({
    Id: z.string(),
    Created: z.number().int(),
    CreatedBy: z.string(),
    Tags: z.array(z.string()),
    Size: z.number().int(),
    Comment: z.string(),
  }),
);

const jsonLines = (body: string): Record<string, unknown>[] =>
  body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A request with a binary body and a binary answer. */
function rawRequest(
  socket: string,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.once('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.once('error', reject);
    req.end(body);
  });
}

async function tarOf(files: [string, Buffer][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe(
  'image routes (in-process daemon, loopback registry)',
  {
    skip: skipUnless(['root', 'docker-registry', 'skopeo', 'umoci', '/bin/busybox']),
    timeout: 240_000,
  },
  () => {
    const tmp = tempDir('image-routes');
    const socket = join(tmp.path, 'run', 'berth.sock');
    let daemon: Daemon;
    let registry: Registry;
    let busybox: PushedImage;
    let multilayer: PushedImage;

    const get = (path: string) => socketRequest(socket, path, { timeoutMs: 60_000 });
    const post = (path: string, headers: Record<string, string> = {}) =>
      socketRequest(socket, path, { method: 'POST', headers, timeoutMs: 120_000 });
    const del = (path: string) => socketRequest(socket, path, { method: 'DELETE' });
    const q = encodeURIComponent;
    const pull = (ref: string) => post(`/v1.45/images/create?fromImage=${q(ref)}`);
    const actions = () => daemon.engine.events.history(0n).map((e) => `${e.Action} ${e.Actor.ID}`);

    before(async () => {
      registry = await startRegistry();
      busybox = await pushTestImage(registry.host, 'busybox');
      multilayer = await pushTestImage(registry.host, 'multilayer', { tag: 'v3' });
      daemon = await startDaemon({
        hosts: [`unix://${socket}`],
        dataRoot: join(tmp.path, 'data'),
        execRoot: join(tmp.path, 'run'),
        insecureRegistries: [],
        version: '0.1.0',
      });
    });
    after(async () => {
      await daemon?.close();
      await registry?.stop();
      tmp.remove();
    });

    it('pulls with a JSON progress stream; a missing tag is a 404 before any stream', async () => {
      const r = await pull(busybox.ref);
      assert.equal(r.status, 200, r.body);
      const msgs = jsonLines(r.body);
      assert.ok(
        msgs.some((m) => m.status === `Digest: ${busybox.digest}`),
        r.body,
      );
      assert.ok(!msgs.some((m) => 'error' in m), r.body);
      assert.ok(actions().includes(`pull ${busybox.ref}`), actions().join(', '));

      const missing = await post(
        `/images/create?fromImage=${q(`${registry.host}/busybox`)}&tag=nope`,
      );
      assert.equal(missing.status, 404, missing.body);
      assert.match(
        (JSON.parse(missing.body) as { message: string }).message,
        new RegExp(`^manifest for ${registry.host}/busybox:nope not found`),
      );
      const imported = await post('/images/create?fromSrc=-');
      assert.equal(imported.status, 501);
    });

    it('lists images with the ImageSummary shape, VirtualSize only for old API versions', async () => {
      assert.equal((await pull(`${multilayer.repository}:v3`)).status, 200);
      const r = await get('/v1.45/images/json');
      assert.equal(r.status, 200);
      const list = z.array(summarySchema).parse(JSON.parse(r.body));
      const bb = list.find((i) => i.RepoTags.includes(busybox.ref));
      assert.ok(bb, r.body);
      assert.deepEqual(bb.RepoDigests, [`${busybox.repository}@${busybox.digest}`]);
      assert.ok(bb.Size > 1_000_000);
      assert.equal(bb.Labels['org.berth.test'], 'busybox');

      const old = JSON.parse((await get('/v1.41/images/json')).body) as Record<string, unknown>[];
      assert.ok(old.every((i) => typeof i.VirtualSize === 'number'));

      const byRef = async (pattern: string) =>
        (
          JSON.parse(
            (await get(`/images/json?filters=${q(JSON.stringify({ reference: [pattern] }))}`)).body,
          ) as { RepoTags: string[] }[]
        ).flatMap((i) => i.RepoTags);
      assert.deepEqual(await byRef(`${registry.host}/multi*`), [`${multilayer.repository}:v3`]);
      assert.deepEqual(await byRef(`${registry.host}/*:latest`), [busybox.ref]);
      const labelled = JSON.parse(
        (
          await get(
            `/images/json?filters=${q(JSON.stringify({ label: ['org.berth.test=multilayer'] }))}`,
          )
        ).body,
      ) as unknown[];
      assert.equal(labelled.length, 1);
      const bad = await get(`/images/json?filters=${q(JSON.stringify({ nope: ['x'] }))}`);
      assert.equal(bad.status, 400);
      assert.equal((JSON.parse(bad.body) as { message: string }).message, "invalid filter 'nope'");
    });

    it('inspects by name with registry port and slashes, by ID prefix; 404 otherwise', async () => {
      const r = await get(`/images/${busybox.ref}/json`);
      assert.equal(r.status, 200, r.body);
      const img = inspectSchema.parse(JSON.parse(r.body));
      assert.deepEqual(img.RepoTags, [busybox.ref]);
      assert.ok(img.GraphDriver.Data.UpperDir);
      const byPrefix = inspectSchema.parse(
        JSON.parse((await get(`/images/${img.Id.slice(7, 19)}/json`)).body),
      );
      assert.equal(byPrefix.Id, img.Id);
      const missing = await get('/images/nosuch:1/json');
      assert.equal(missing.status, 404);
      assert.deepEqual(JSON.parse(missing.body), { message: 'No such image: nosuch:1' });

      const history = historySchema.parse(
        JSON.parse((await get(`/images/${busybox.ref}/history`)).body),
      );
      assert.equal(history[0]?.Id, img.Id);
      assert.deepEqual(history[0]?.Tags, [busybox.ref]);
      assert.equal(
        history.reduce((n, h) => n + h.Size, 0),
        img.Size,
      );
    });

    it("tags (201, events), refuses bad tags with 400, and deletes with Docker's records", async () => {
      const ok = await post(`/images/${busybox.ref}/tag?repo=${q('example.com/team/app')}&tag=v1`);
      assert.equal(ok.status, 201, ok.body);
      const bad = await post(`/images/${busybox.ref}/tag?repo=Upper&tag=v1`);
      assert.equal(bad.status, 400);
      assert.match(bad.body, /invalid reference format/);
      const badTag = await post(`/images/${busybox.ref}/tag?repo=app&tag=${q('-x')}`);
      assert.equal(badTag.status, 400);

      const id = (JSON.parse((await get(`/images/${busybox.ref}/json`)).body) as { Id: string }).Id;
      assert.ok(actions().includes(`tag ${id}`));
      const conflict = await del(`/images/${id.slice(7, 19)}`);
      assert.equal(conflict.status, 409);
      assert.match(conflict.body, /image is referenced in multiple repositories/);

      const untag = await del('/images/example.com/team/app:v1');
      assert.equal(untag.status, 200);
      assert.deepEqual(JSON.parse(untag.body), [{ Untagged: 'example.com/team/app:v1' }]);
    });

    it('saves and loads through the API; a hostile archive is refused in-band', async () => {
      const saved = await rawRequest(socket, 'GET', `/images/get?names=${q(busybox.ref)}`);
      assert.equal(saved.status, 200);
      const id = (JSON.parse((await get(`/images/${busybox.ref}/json`)).body) as { Id: string }).Id;
      const removed = await del(`/images/${busybox.ref}`);
      assert.equal(removed.status, 200, removed.body);
      const items = JSON.parse(removed.body) as Record<string, string>[];
      assert.deepEqual(items.slice(0, 3), [
        { Untagged: busybox.ref },
        { Untagged: `${busybox.repository}@${busybox.digest}` },
        { Deleted: id },
      ]);
      assert.equal((await get(`/images/${id}/json`)).status, 404);

      const loaded = await rawRequest(socket, 'POST', '/images/load?quiet=1', saved.body);
      assert.equal(loaded.status, 200);
      assert.deepEqual(jsonLines(loaded.body.toString()), [
        { stream: `Loaded image: ${busybox.ref}\n` },
      ]);
      assert.ok(actions().includes(`load ${id}`));
      assert.equal(
        (JSON.parse((await get(`/images/${busybox.ref}/json`)).body) as { Id: string }).Id,
        id,
      );

      // `docker load < image.tar.gz` works: the archive itself may be compressed.
      const gz = await rawRequest(socket, 'POST', '/images/load', gzipSync(saved.body));
      assert.deepEqual(jsonLines(gz.body.toString()), [
        { stream: `Loaded image: ${busybox.ref}\n` },
      ]);

      const before = (await daemon.engine.content.list()).length;
      const hostile = await tarOf([['../../escape', Buffer.from('x')]]);
      const refused = await rawRequest(socket, 'POST', '/images/load', hostile);
      const [msg] = jsonLines(refused.body.toString());
      assert.match(String(msg?.error), /invalid archive: unsafe path/);
      assert.equal((await daemon.engine.content.list()).length, before);
    });

    it('pushes with progress and the aux digest', async () => {
      const target = `${registry.host}/pushed-by-api:v9`;
      assert.equal(
        (
          await post(
            `/images/${busybox.ref}/tag?repo=${q(`${registry.host}/pushed-by-api`)}&tag=v9`,
          )
        ).status,
        201,
      );
      const r = await post(`/images/${q(`${registry.host}/pushed-by-api`)}/push?tag=v9`, {
        'X-Registry-Auth': Buffer.from('{}').toString('base64url'),
      });
      assert.equal(r.status, 200, r.body);
      const aux = jsonLines(r.body).find((m) => m.aux)?.aux as { Digest?: string } | undefined;
      assert.match(aux?.Digest ?? '', /^sha256:[a-f0-9]{64}$/, r.body);
      assert.ok(actions().includes(`push ${target}`));
    });

    it('prunes: dangling only by default, label filters, unused ones with dangling=false', async () => {
      const none = JSON.parse((await post('/images/prune')).body) as {
        ImagesDeleted: unknown;
        SpaceReclaimed: number;
      };
      assert.deepEqual(none, { ImagesDeleted: null, SpaceReclaimed: 0 });
      const filters = q(
        JSON.stringify({ dangling: ['false'], label: ['org.berth.test=multilayer'] }),
      );
      const r = JSON.parse((await post(`/images/prune?filters=${filters}`)).body) as {
        ImagesDeleted: Record<string, string>[];
        SpaceReclaimed: number;
      };
      assert.ok(
        r.ImagesDeleted.some((i) => i.Untagged === `${multilayer.repository}:v3`),
        JSON.stringify(r),
      );
      assert.ok(r.SpaceReclaimed > 0);
      assert.equal((await get(`/images/${multilayer.repository}:v3/json`)).status, 404);
      assert.equal((await get(`/images/${busybox.ref}/json`)).status, 200);
      const bad = await post(`/images/prune?filters=${q(JSON.stringify({ dangling: ['maybe'] }))}`);
      assert.equal(bad.status, 400);
    });
  },
);

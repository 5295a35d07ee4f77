/**
 * System endpoints against the real docker CLI and raw HTTP on berthd's socket: what
 * `docker version`, `docker info` and `docker system df` print, and the API's framing rules
 * (version prefix, negotiation errors, unknown routes, bad bodies) as moby answers them.
 */
import assert from 'node:assert/strict';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { socketRequest } from '../testing/socket-http.js';

/** `uname -m` for Node's process.arch, as Docker reports Architecture in `docker info`. */
const UNAME_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
/** GOARCH for Node's process.arch, as Docker reports Arch in `docker version`. */
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

function json<T>(s: string): T {
  return JSON.parse(s) as T;
}

describe('system: docker CLI and raw API against berthd', { skip: engineTestSkip() }, () => {
  let env: EngineEnv;
  let apiVersion: string;
  let minApiVersion: string;
  before(async () => {
    env = await startEngineEnv();
    const v = json<{ ApiVersion: string; MinAPIVersion: string }>(
      (await socketRequest(env.berthd.socket, '/version')).body,
    );
    apiVersion = v.ApiVersion;
    minApiVersion = v.MinAPIVersion;
  });
  after(() => env?.stop());

  describe('raw API', () => {
    it('answers /_ping and /v1.41/_ping with OK and the API headers', async () => {
      for (const path of ['/_ping', '/v1.41/_ping']) {
        const r = await socketRequest(env.berthd.socket, path);
        assert.equal(r.status, 200, path);
        assert.equal(r.body, 'OK', path);
        assert.equal(r.headers['api-version'], apiVersion, path);
        assert.equal(r.headers['ostype'], 'linux', path);
        assert.match(String(r.headers['server']), /\(linux\)$/, path);
      }
    });

    it('answers HEAD /_ping with headers and no body', async () => {
      const r = await socketRequest(env.berthd.socket, '/_ping', { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(r.body, '');
      assert.equal(r.headers['api-version'], apiVersion);
    });

    it('serves /version with and without a version prefix', async () => {
      assert.match(apiVersion, /^1\.\d+$/);
      assert.equal(minApiVersion, '1.24');
      const r = await socketRequest(env.berthd.socket, '/v1.41/version');
      assert.equal(r.status, 200);
      const v = json<{ ApiVersion: string; Os: string; Arch: string; KernelVersion: string }>(
        r.body,
      );
      assert.equal(v.ApiVersion, apiVersion);
      assert.equal(v.Os, 'linux');
      assert.equal(v.Arch, GO_ARCH[arch()]);
      assert.equal(v.KernelVersion, release());
    });

    it('refuses a too-new client version with 400 and moby message', async () => {
      const r = await socketRequest(env.berthd.socket, '/v9.99/version');
      assert.equal(r.status, 400);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.deepEqual(json(r.body), {
        message: `client version 9.99 is too new. Maximum supported API version is ${apiVersion}`,
      });
    });

    it('refuses a too-old client version with 400 and moby message', async () => {
      const r = await socketRequest(env.berthd.socket, '/v1.12/version');
      assert.equal(r.status, 400);
      assert.deepEqual(json(r.body), {
        message: `client version 1.12 is too old. Minimum supported API version is ${minApiVersion}, please upgrade your client to a newer version`,
      });
    });

    it('answers an unknown path with 404 {"message":"page not found"}', async () => {
      for (const path of ['/no/such/route', '/v1.41/no/such/route']) {
        const r = await socketRequest(env.berthd.socket, path);
        assert.equal(r.status, 404, path);
        assert.match(String(r.headers['content-type']), /^application\/json/, path);
        assert.deepEqual(json(r.body), { message: 'page not found' }, path);
      }
    });

    it('answers a malformed JSON body with 400 "invalid JSON…"', async () => {
      const r = await socketRequest(env.berthd.socket, '/v1.41/containers/create', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"Image": "busybox", ',
      });
      assert.equal(r.status, 400, r.body);
      const body = json<{ message: string }>(r.body);
      assert.match(body.message, /^invalid JSON/);
    });
  });

  describe('docker CLI', () => {
    it('docker version shows client and server', async () => {
      const plain = await env.dockerOk(['version']);
      assert.match(plain.stdout, /^Server:/m);
      assert.match(plain.stdout, /^ Engine:/m);
      assert.match(
        plain.stdout,
        new RegExp(
          `API version:\\s+${apiVersion.replace('.', '\\.')} \\(minimum version 1\\.24\\)`,
        ),
      );
      const args = ['version', '--format', '{{json .Server}}'];
      const r = await env.dockerOk(args);
      const server = json<{
        ApiVersion: string;
        MinAPIVersion: string;
        Os: string;
        Arch: string;
        Version: string;
        KernelVersion: string;
      }>(r.stdout);
      assert.equal(server.ApiVersion, apiVersion, describeResult(args, r));
      assert.equal(server.MinAPIVersion, '1.24');
      assert.equal(server.Os, 'linux');
      assert.equal(server.Arch, GO_ARCH[arch()]);
      assert.equal(server.KernelVersion, release());
      assert.ok(server.Version.length > 0);
    });

    it('docker info reports the host and the data root', async () => {
      const plain = await env.dockerOk(['info']);
      assert.match(plain.stdout, /^ Server Version: \S+/m);
      assert.match(plain.stdout, /^ Docker Root Dir: /m);
      const r = await env.dockerOk(['info', '--format', '{{json .}}']);
      const info = json<{
        ID: string;
        OSType: string;
        Architecture: string;
        NCPU: number;
        MemTotal: number;
        DockerRootDir: string;
        Name: string;
        Images: number;
        Containers: number;
        ServerVersion: string;
        KernelVersion: string;
      }>(r.stdout);
      assert.equal(info.OSType, 'linux');
      assert.equal(info.Architecture, UNAME_ARCH[arch()]);
      assert.equal(info.NCPU, cpus().length);
      assert.equal(info.MemTotal, totalmem());
      assert.equal(info.DockerRootDir, env.berthd.dataRoot);
      assert.equal(info.Name, hostname());
      assert.equal(info.KernelVersion, release());
      assert.equal(info.Containers, 0);
      assert.equal(typeof info.Images, 'number');
      assert.ok(info.ServerVersion.length > 0);
      assert.ok(info.ID.length > 0);
    });

    it('docker system df counts pulled images', async () => {
      await env.dockerOk(['pull', env.images.busybox.ref]);
      const plain = await env.dockerOk(['system', 'df']);
      assert.match(plain.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE/m);
      const r = await env.dockerOk(['system', 'df', '--format', '{{json .}}']);
      const rows = r.stdout
        .trim()
        .split('\n')
        .map((l) => json<{ Type: string; TotalCount: string; Active: string; Size: string }>(l));
      assert.deepEqual(
        rows.map((row) => row.Type),
        ['Images', 'Containers', 'Local Volumes', 'Build Cache'],
      );
      const images = rows.find((row) => row.Type === 'Images');
      assert.equal(images?.TotalCount, '1');
      assert.equal(images?.Active, '0');
      // busybox is ~1.98 MB unpacked; docker prints sizes in SI units.
      assert.match(images?.Size ?? '', /^1\.9\d*MB$/);
      const info = json<{ Images: number }>(
        (await env.dockerOk(['info', '--format', '{{json .}}'])).stdout,
      );
      assert.equal(info.Images, 1);
    });
  });
});

/**
 * Crash recovery: berthd is SIGKILLed in the middle of pulling the ~100 MB image, restarted
 * on the same data root, and must then start cleanly, finish the pull and serve the image.
 */
import assert from 'node:assert/strict';
import { readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { waitFor } from '../testing/process.js';
import { readRegistryImage } from '../testing/registry.js';
import { BIG_LAYER_BYTES, pushTestImage } from '../testing/test-images.js';

/** Bytes of regular files under `dir` (best effort: files may vanish while we walk). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile()) total += (await lstat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

describe(
  'engine restarts: SIGKILL mid-pull, graceful restart',
  { skip: engineTestSkip(), timeout: 300_000 },
  () => {
    let env: EngineEnv;
    before(async () => {
      env = await startEngineEnv();
    });
    after(() => env?.stop());

    it('restarts on the same data root and completes the pull', async () => {
      const big = await pushTestImage(env.registry.host, 'big');
      const expected = await readRegistryImage(env.registry.url, 'big', 'latest');
      const dataRoot = env.berthd.dataRoot;

      let settled = false;
      const interrupted = env.docker(['pull', big.ref]).finally(() => {
        settled = true;
      });
      // "Mid-pull" = some layer bytes have reached the data root but the pull has not ended.
      await waitFor(
        'the pull to write into the data root',
        async () => (await treeBytes(dataRoot)) > 4 * 1024 * 1024,
        {
          timeoutMs: 60_000,
          intervalMs: 10,
          giveUp: () => (settled ? 'the pull ended before it could be interrupted' : undefined),
        },
      );
      await env.restart({ kill: true });
      const first = await interrupted;
      assert.notEqual(first.code, 0, `the interrupted pull reported success:\n${first.stdout}`);

      const r = await env.docker(['pull', big.ref], { timeoutMs: 180_000 });
      assert.equal(
        r.code,
        0,
        `${describeResult(['pull', big.ref], r)}\n--- berthd ---\n${env.berthd.logs()}`,
      );
      assert.match(r.stdout, new RegExp(`^Digest: ${big.digest}$`, 'm'));
      assert.match(r.stdout, /^Status: (Downloaded newer image|Image is up to date) for /m);

      const inspect = await env.dockerOk(['image', 'inspect', big.ref]);
      const [img] = JSON.parse(inspect.stdout) as {
        Id: string;
        RootFS: { Layers: string[] };
        Size: number;
      }[];
      assert.equal(img?.Id, expected.configDigest);
      assert.deepEqual(img?.RootFS.Layers, expected.config.rootfs.diff_ids);
      const content = BIG_LAYER_BYTES.reduce((a, b) => a + b, 0);
      assert.ok((img?.Size ?? 0) >= content, `Size ${img?.Size} < ${content}`);
    });

    it('keeps images, tags and digests across a graceful restart', async () => {
      await env.dockerOk(['pull', env.images.busybox.ref]);
      await env.dockerOk(['tag', env.images.busybox.ref, 'kept:v1']);
      const list = async () =>
        (
          await env.dockerOk([
            'images',
            '--digests',
            '--no-trunc',
            '--format',
            '{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}',
          ])
        ).stdout
          .split('\n')
          .filter((l) => l !== '')
          .sort();
      const before = await list();
      assert.ok(
        before.some((l) => l.startsWith('kept:v1 ')),
        before.join('\n'),
      );
      await env.restart();
      assert.deepEqual(await list(), before);
      const again = await env.dockerOk(['pull', env.images.busybox.ref]);
      assert.match(again.stdout, /^Status: Image is up to date for /m);
    });
  },
);

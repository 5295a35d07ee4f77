import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startRegistry } from './registry.js';
import { skipUnless } from './tools.js';

describe('startRegistry', { skip: skipUnless(['docker-registry']) }, () => {
  it('serves /v2/ on loopback and cleans up its storage on stop', async () => {
    const reg = await startRegistry();
    try {
      assert.match(reg.host, /^127\.0\.0\.1:\d+$/);
      const res = await fetch(`${reg.url}/v2/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      const catalog = await fetch(`${reg.url}/v2/_catalog`);
      assert.deepEqual(await catalog.json(), { repositories: [] });
    } finally {
      await reg.stop();
    }
    assert.ok(!existsSync(reg.storageDir));
    await assert.rejects(fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(2000) }));
  });
});

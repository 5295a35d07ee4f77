import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type Registry } from '../testing/registry.js';
import { pushTestImage, type PushedImage } from '../testing/test-images.js';
import { skipUnless } from '../testing/tools.js';
import type { ProgressMessage } from './progress.js';
import { pullImage } from './pull.js';
import { pushImage } from './push.js';
import { tempStores, type TestStores } from './test-stores.js';

function statuses(messages: ProgressMessage[]): string[] {
  const seen: string[] = [];
  for (const m of messages) {
    const line = m.id ? `${m.id}: ${m.status ?? ''}` : (m.status ?? '');
    if (m.status !== undefined && seen.at(-1) !== line) seen.push(line);
  }
  return seen;
}

describe('pushImage', { skip: skipUnless(['docker-registry', 'skopeo', 'umoci']) }, () => {
  let reg: Registry;
  let other: Registry;
  let source: PushedImage;
  let stores: TestStores;
  const push = async (ref: string) => {
    const messages: ProgressMessage[] = [];
    const result = await pushImage({
      ref,
      content: stores.content,
      imageStore: stores.imageStore,
      onProgress: (m) => messages.push(m),
    });
    return { result, messages };
  };

  before(async () => {
    [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
    source = await pushTestImage(reg.host, 'multilayer');
    stores = await tempStores();
    await pullImage({
      ref: source.ref,
      content: stores.content,
      snapshotter: stores.snapshotter,
      imageStore: stores.imageStore,
      onProgress: () => undefined,
    });
  });
  after(async () => {
    await stores.remove();
    await Promise.all([reg.stop(), other.stop()]);
  });

  it('uploads to another registry with Docker progress, and the result pulls back', async () => {
    const target = `${other.host}/copy/multilayer:v1`;
    const record = await stores.imageStore.lookup(source.ref);
    assert.ok(record);
    await stores.imageStore.tag(record.id, target);
    const { result, messages } = await push(target);
    assert.deepEqual(messages[0], {
      status: `The push refers to repository [${other.host}/copy/multilayer]`,
    });
    const layerIds = [
      ...new Set(messages.filter((m) => m.status === 'Preparing').map((m) => m.id)),
    ];
    assert.equal(layerIds.length, 3);
    for (const id of layerIds) {
      const mine = statuses(messages.filter((m) => m.id === id));
      assert.equal(mine[0], `${id}: Preparing`);
      assert.equal(mine.at(-1), `${id}: Pushed`);
      assert.ok(mine.includes(`${id}: Pushing`), mine.join(', '));
    }
    const pushing = messages.filter((m) => m.status === 'Pushing').at(-1);
    assert.equal(pushing?.progressDetail?.current, pushing?.progressDetail?.total);
    assert.equal(result.digest, source.digest, 'the same manifest bytes, so the same digest');
    assert.deepEqual(messages.slice(-2), [
      { status: `v1: digest: ${result.digest} size: ${result.size}` },
      { progressDetail: {}, aux: { Tag: 'v1', Digest: result.digest, Size: result.size } },
    ]);
    assert.ok(
      (await stores.imageStore.get(record.id))?.repoDigests.includes(
        `${other.host}/copy/multilayer@${result.digest}`,
      ),
    );

    const fresh = await tempStores();
    try {
      const back = await pullImage({
        ref: target,
        content: fresh.content,
        snapshotter: fresh.snapshotter,
        imageStore: fresh.imageStore,
        onProgress: () => undefined,
      });
      assert.equal(back.record.id, record.id);
    } finally {
      await fresh.remove();
    }

    const again = await push(target);
    for (const id of layerIds) {
      assert.equal(
        statuses(again.messages.filter((m) => m.id === id)).at(-1),
        `${id}: Layer already exists`,
      );
    }
  });

  it('mounts layers from the repository the image came from', async () => {
    const target = `${reg.host}/mounted/multilayer:latest`;
    const record = await stores.imageStore.lookup(source.ref);
    assert.ok(record);
    await stores.imageStore.tag(record.id, target);
    const { messages } = await push(target);
    const mounted = messages.filter((m) => m.status === 'Mounted from multilayer');
    assert.equal(mounted.length, 3);
    assert.ok(!messages.some((m) => m.status === 'Pushing'));
  });

  it('refuses an image it does not have, in Docker words', async () => {
    await assert.rejects(push(`${reg.host}/absent:latest`), {
      name: 'NotFoundError',
      message: `An image does not exist locally with the tag: ${reg.host}/absent`,
    });
  });
});

/** For pull/push tests: real content, image and snapshot stores in one temp dir. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlaySnapshotter } from '../storage/snapshots.js';
import { FsContentStore } from './content-store.js';
import { FsImageStore } from './image-store.js';

export interface TestStores {
  content: FsContentStore;
  imageStore: FsImageStore;
  snapshotter: OverlaySnapshotter;
  remove(): Promise<void>;
}

export async function tempStores(): Promise<TestStores> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-pull-'));
  const content = new FsContentStore(join(dir, 'content'));
  await content.repair();
  const imageStore = new FsImageStore(join(dir, 'images'), content);
  await imageStore.repair();
  const snapshotter = new OverlaySnapshotter(dir);
  await snapshotter.repair();
  return {
    content,
    imageStore,
    snapshotter,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

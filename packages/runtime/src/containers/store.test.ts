import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { newContainerId } from './names.js';
import { initialState } from './state.js';
import { ContainerStore, type ContainerRecord } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'berth-cstore-'));
after(() => rmSync(root, { recursive: true, force: true }));

function record(id: string, name: string): ContainerRecord {
  return {
    ID: id,
    Created: new Date().toISOString(),
    Path: 'sh',
    Args: [],
    Config: { Image: 'busybox' },
    HostConfig: {},
    Image: `sha256:${'a'.repeat(64)}`,
    Name: name,
    RestartCount: 0,
    Driver: 'overlayfs',
    Platform: 'linux',
    State: initialState(),
    NetworkSettings: {},
    Mounts: [],
    LogPath: '',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    HasBeenStartedBefore: false,
    HasBeenManuallyStopped: false,
  };
}

describe('ContainerStore', () => {
  it('persists atomically and finds by ID, name and unique prefix', async () => {
    const store = new ContainerStore(join(root, 'a'));
    await store.load(() => assert.fail('nothing invalid yet'));
    const a = `abc${newContainerId().slice(3)}`;
    const b = `abd${newContainerId().slice(3)}`;
    await store.save(record(a, '/one'));
    await store.save(record(b, '/two'));
    assert.deepEqual(readdirSync(store.dir(a)), ['config.v2.json'], 'no temp file left');
    const again = new ContainerStore(join(root, 'a'));
    await again.load(() => assert.fail('valid records'));
    assert.equal(again.lookup('one').ID, a);
    assert.equal(again.lookup('/two').ID, b);
    assert.equal(again.lookup(a.slice(0, 4)).ID, a);
    assert.throws(() => again.find('ab'), /multiple IDs found with provided prefix: ab/);
    assert.throws(() => again.lookup('three'), /No such container: three/);
    assert.throws(
      () => again.reserveName('/one', b),
      /The container name "\/one" is already in use/,
    );
    await again.remove(a);
    assert.equal(again.find('one'), undefined);
    again.reserveName('/one', b);
  });

  it('leaves records that fail validation on disk and reports them', async () => {
    const dir = join(root, 'b');
    const id = newContainerId();
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'config.v2.json'), '{"ID": "not it"}');
    const bad: string[] = [];
    const store = new ContainerStore(dir);
    await store.load((i) => bad.push(i));
    assert.deepEqual(bad, [id]);
    assert.equal(store.all().length, 0);
    assert.equal(readFileSync(join(dir, id, 'config.v2.json'), 'utf8'), '{"ID": "not it"}');
  });
});

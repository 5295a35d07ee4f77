import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Settings } from '../shared/contract.js';
import { defaultSettings, SettingsStore } from './settings-store.js';

describe('SettingsStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-settings-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the defaults until something is saved, then what was saved', async () => {
    const changes: Settings[] = [];
    const store = new SettingsStore(join(dir, 'a', 'settings.json'), (s) => changes.push(s));
    assert.deepEqual(await store.get(), defaultSettings());
    const next = { ...defaultSettings(), cpus: 3, insecureRegistries: ['reg.local:5000'] };
    await store.set(next);
    assert.deepEqual(await store.get(), next);
    assert.deepEqual(changes, [next]);
    assert.equal((JSON.parse(readFileSync(store.file, 'utf8')) as Settings).cpus, 3);
    await store.reset();
    assert.deepEqual(await store.get(), defaultSettings());
  });

  it('refuses invalid settings with the reason, and reads a broken file as the defaults', async () => {
    const file = join(dir, 'broken.json');
    const store = new SettingsStore(file);
    await assert.rejects(
      store.set({ ...defaultSettings(), sharedFolders: ['relative'] }),
      /absolute path/,
    );
    writeFileSync(file, '{"cpus": "many"');
    assert.deepEqual(await store.get(), defaultSettings());
    writeFileSync(file, JSON.stringify({ ...defaultSettings(), cpus: 0 }));
    assert.deepEqual(await store.get(), defaultSettings());
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { generateMachineKeys, publicKeyBlob, readMachineKeys, writeMachineKeys } from './keys.js';
import { berthPaths } from './paths.js';

describe('machine keys', () => {
  it('makes distinct ed25519 host and client keys, private files 0600', () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-keys-'));
    try {
      const paths = berthPaths(root).machine('default');
      const keys = generateMachineKeys('default');
      assert.match(keys.hostPublic, /^ssh-ed25519 \S+ berth-default-host$/);
      assert.match(keys.clientPublic, /^ssh-ed25519 \S+ berth-default-client$/);
      assert.notEqual(keys.hostPublic, keys.clientPublic);
      writeMachineKeys(paths, keys);
      assert.equal(statSync(paths.hostKey).mode & 0o777, 0o600);
      assert.equal(statSync(paths.clientKey).mode & 0o777, 0o600);
      assert.equal(statSync(paths.keysDir).mode & 0o777, 0o700);
      const back = readMachineKeys(paths);
      assert.equal(back.hostPublic, keys.hostPublic);
      // The private key parses and matches its public half.
      const priv = ssh2.utils.parseKey(back.clientPrivate);
      assert.ok(!(priv instanceof Error));
      assert.ok(priv.getPublicSSH().equals(publicKeyBlob(back.clientPublic)));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

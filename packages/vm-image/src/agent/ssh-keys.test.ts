import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from './ssh-keys.js';

describe('ed25519 ssh keys', () => {
  it('parse in ssh2 every time, public halves matching (ssh2’s own generator fails ≈1 in 256)', () => {
    for (let i = 0; i < 1024; i++) {
      const pair = generateEd25519KeyPair(`key-${i}`);
      const priv = ssh2.utils.parseKey(pair.private);
      assert.ok(
        !(priv instanceof Error),
        priv instanceof Error ? `key ${i}: ${priv.message}\n${pair.private}` : '',
      );
      const pub = ssh2.utils.parseKey(pair.public);
      assert.ok(!(pub instanceof Error), pub instanceof Error ? `key ${i}: ${pub.message}` : '');
      assert.ok(priv.getPublicSSH().equals(pub.getPublicSSH()));
      assert.equal(pub.comment, `key-${i}`);
      const data = Buffer.from(`signed ${i}`);
      assert.ok(pub.verify(data, priv.sign(data)), `key ${i} signs what its public half verifies`);
    }
  });

  it('is read by OpenSSH’s ssh-keygen, which derives the same public key', (t) => {
    const probe = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' });
    if (probe.error) {
      t.skip('ssh-keygen is not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'berth-sshkeys-'));
    try {
      const pair = generateEd25519KeyPair('berth-test');
      const file = join(dir, 'id_ed25519');
      writeFileSync(file, pair.private, { mode: 0o600 });
      const derived = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
      assert.equal(derived.status, 0, derived.stderr);
      assert.equal(
        derived.stdout.trim().split(' ').slice(0, 2).join(' '),
        pair.public.split(' ').slice(0, 2).join(' '),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds the same key node:crypto would sign with', () => {
    const pair = generateEd25519KeyPair();
    const parsed = ssh2.utils.parseKey(pair.private);
    assert.ok(!(parsed instanceof Error));
    const pem = parsed.getPrivatePEM();
    const data = Buffer.from('x');
    const sig = sign(null, data, createPrivateKey(pem));
    assert.ok(verify(null, data, createPublicKey(parsed.getPublicPEM()), sig));
    assert.equal(pair.public.split(' ').length, 2, 'no trailing space without a comment');
  });
});

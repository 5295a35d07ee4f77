import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { deleteNetns } from './kernel.js';
import { createNetns } from './netns.js';

describe('createNetns', { skip: skipUnless(['root', 'nsenter', 'ip']) }, () => {
  it('makes a namespace with only lo, up, and leaves the daemon in its own', () => {
    const tmp = tempDir('netns');
    const path = join(tmp.path, 'ns');
    const home = readlinkSync('/proc/thread-self/ns/net');
    try {
      createNetns(path);
      assert.equal(readlinkSync('/proc/thread-self/ns/net'), home);
      const links = execFileSync('nsenter', [`--net=${path}`, 'ip', '-o', 'link'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n');
      assert.equal(links.length, 1, links.join('\n'));
      assert.match(links[0] ?? '', /: lo: <[^>]*\bUP\b/);
      const inode = execFileSync('nsenter', [`--net=${path}`, 'readlink', '/proc/self/ns/net'], {
        encoding: 'utf8',
      }).trim();
      assert.notEqual(inode, home);
    } finally {
      deleteNetns(path);
      tmp.remove();
    }
    assert.equal(existsSync(path), false);
  });

  it('fails cleanly, leaving no file, where the path cannot be mounted on', () => {
    const tmp = tempDir('netns');
    try {
      const path = join(tmp.path, 'missing-dir', 'ns');
      assert.throws(() => createNetns(path), /ENOENT/);
      assert.equal(existsSync(path), false);
      assert.equal(readlinkSync('/proc/thread-self/ns/net'), readlinkSync('/proc/self/ns/net'));
    } finally {
      tmp.remove();
    }
  });
});

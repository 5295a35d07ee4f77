import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataRootInUseError, lockDataRoot } from './data-root-lock.js';

describe('lockDataRoot', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('lets one holder in, names it to the next, and is free again once released', async () => {
    const root = join(tmp, 'a');
    mkdirSync(root);
    const pidFile = join(root, 'berthd.lock');
    const lock = await lockDataRoot(root, pidFile);
    assert.equal(readFileSync(pidFile, 'utf8'), `${process.pid}\n`);
    // The same directory by another path is the same data root.
    symlinkSync(root, join(tmp, 'a-link'));
    await assert.rejects(lockDataRoot(join(tmp, 'a-link'), pidFile), (err: unknown) => {
      assert.ok(err instanceof DataRootInUseError);
      assert.match(err.message, new RegExp(`is in use by another berthd \\(pid ${process.pid}\\)`));
      return true;
    });
    lock.release();
    assert.equal(existsSync(pidFile), false);
    (await lockDataRoot(root, pidFile)).release();
  });

  it('keeps different data roots apart', async () => {
    mkdirSync(join(tmp, 'b'));
    mkdirSync(join(tmp, 'c'));
    const b = await lockDataRoot(join(tmp, 'b'), join(tmp, 'b', 'berthd.lock'));
    const c = await lockDataRoot(join(tmp, 'c'), join(tmp, 'c', 'berthd.lock'));
    b.release();
    c.release();
  });

  it('is free as soon as a holder is killed, without any clean-up', async () => {
    const root = join(tmp, 'd');
    mkdirSync(root);
    const pidFile = join(root, 'berthd.lock');
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { lockDataRoot } = await import(${JSON.stringify(new URL('./data-root-lock.js', import.meta.url).href)});
         await lockDataRoot(${JSON.stringify(root)}, ${JSON.stringify(pidFile)});
         process.stdout.write('locked\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      await assert.rejects(lockDataRoot(root, pidFile), new RegExp(`\\(pid ${holder.pid}\\)`));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => (holder.exitCode === null ? holder.once('exit', r) : r(null)));
    }
    // The pid file is still there, naming a dead process: the lock is free all the same.
    assert.equal(readFileSync(pidFile, 'utf8'), `${holder.pid}\n`);
    (await lockDataRoot(root, pidFile)).release();
  });
});

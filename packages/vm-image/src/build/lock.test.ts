import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from './lock.js';

const LOCK_JS = new URL('./lock.js', import.meta.url).href;

/**
 * A process that wants the "image": it builds it (slowly) unless the cache has it, under the
 * lock, and logs what it did. The same shape as buildImage's use of the lock.
 */
const WANT_IMAGE = `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from ${JSON.stringify(LOCK_JS)};
const [dir] = process.argv.slice(1);
await withFileLock(dir + '/build.lock', async () => {
  appendFileSync(dir + '/log', 'enter ' + process.pid + '\\n');
  if (existsSync(dir + '/image')) appendFileSync(dir + '/log', 'reuse ' + process.pid + '\\n');
  else {
    await sleep(800);
    writeFileSync(dir + '/image', String(process.pid));
    appendFileSync(dir + '/log', 'build ' + process.pid + '\\n');
  }
  appendFileSync(dir + '/log', 'leave ' + process.pid + '\\n');
}, { timeoutMs: 30_000, pollMs: 50 });
`;

function wantImage(dir: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WANT_IMAGE, dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A pid that no process has any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return Number(r.stdout);
}

describe('the image build lock', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'berth-lock-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lets two concurrent processes build once: one builds, the other waits and reuses', async () => {
    const d = mkdtempSync(join(dir, 'procs-'));
    const codes = await Promise.all([wantImage(d), wantImage(d)]);
    assert.deepEqual(codes, [0, 0]);
    const log = readFileSync(join(d, 'log'), 'utf8').trim().split('\n');
    const [first, second] = [log[0]!.split(' ')[1], log[4]?.split(' ')[1]];
    assert.deepEqual(
      log.map((l) => l.split(' ')[0]),
      ['enter', 'build', 'leave', 'enter', 'reuse', 'leave'],
      log.join('\n'),
    );
    assert.notEqual(first, second);
    assert.equal(existsSync(join(d, 'build.lock')), false);
  });

  it('serialises two concurrent callers in one process and tells the waiter who holds it', async () => {
    const lock = join(dir, 'inproc.lock');
    const events: string[] = [];
    const waitedFor: number[] = [];
    const caller = (name: string) =>
      withFileLock(
        lock,
        async () => {
          events.push(`${name} in`);
          assert.equal(readFileSync(lock, 'utf8').trim(), String(process.pid));
          await sleep(200);
          events.push(`${name} out`);
          return name;
        },
        { pollMs: 20, timeoutMs: 10_000, onWait: (pid) => waitedFor.push(pid) },
      );
    assert.deepEqual(await Promise.all([caller('a'), caller('b')]), ['a', 'b']);
    assert.deepEqual(events, ['a in', 'a out', 'b in', 'b out']);
    assert.deepEqual(waitedFor, [process.pid]);
    assert.equal(existsSync(lock), false);
  });

  it('takes over a lock left by a dead process', async () => {
    const lock = join(dir, 'stale.lock');
    writeFileSync(lock, `${deadPid()}\n`);
    const started = Date.now();
    assert.equal(
      await withFileLock(lock, () => Promise.resolve('mine'), { timeoutMs: 5000 }),
      'mine',
    );
    assert.ok(Date.now() - started < 2000);
    assert.equal(existsSync(lock), false);
  });

  it('releases the lock when the holder throws', async () => {
    const lock = join(dir, 'throws.lock');
    await assert.rejects(
      withFileLock(lock, () => Promise.reject(new Error('build failed'))),
      /build failed/,
    );
    assert.equal(existsSync(lock), false);
  });

  it('gives up after a bounded wait on a live holder, naming it', async () => {
    const lock = join(dir, 'held.lock');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, `${holder.pid}\n`);
      await assert.rejects(
        withFileLock(lock, () => Promise.resolve(), { timeoutMs: 300, pollMs: 50 }),
        new RegExp(`waiting for pid ${holder.pid} to release`),
      );
      assert.equal(readFileSync(lock, 'utf8').trim(), String(holder.pid));
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

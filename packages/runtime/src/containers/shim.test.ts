import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { readExitFile, shimAlive, shimPaths, startShim } from './shim.js';

/** Stands in for runc: writes the pid file the way runc does (temp file, rename), prints, exits. */
const FAKE_RUNTIME = `#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in --pid-file) pidfile=$2; shift ;; esac
  shift
done
[ -n "$FAIL" ] && { echo "no such thing" >&2; exit 1; }
echo $$ >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
echo "out"; echo "err" >&2
echo "session $(cut -d' ' -f6 /proc/$PPID/stat) of $PPID"
grep '^SigIgn:' /proc/$$/status
exit 3
`;

function text(s: Readable | undefined): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s?.on('data', (b: Buffer) => chunks.push(b));
    s?.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function runFake(fail: boolean) {
  const tmp = tempDir('shim');
  const runtime = join(tmp.path, 'fake-runc');
  writeFileSync(runtime, FAKE_RUNTIME, { mode: 0o755 });
  const paths = shimPaths(tmp.path);
  const saved = process.env.FAIL;
  if (fail) process.env.FAIL = '1';
  try {
    const shim = startShim({
      id: 'c1',
      paths,
      runc: runtime,
      stateDir: join(tmp.path, 'state'),
      keep: false,
      tty: false,
      openStdin: false,
      stdinOnce: false,
    });
    const [out, err] = [text(shim.stdout), text(shim.stderr)];
    const pid = await within(shim.started, 20_000);
    await within(shim.ended, 20_000);
    return { tmp, paths, shim, pid, out: await out, err: await err };
  } finally {
    if (saved === undefined) delete process.env.FAIL;
    else process.env.FAIL = saved;
  }
}

describe('the container shim', () => {
  it('reports the pid once written, streams output, writes the exit status, is reaped', async () => {
    const r = await runFake(false);
    try {
      assert.ok(r.pid !== undefined && r.pid > 0);
      const [out, session, ignored] = r.out.split('\n');
      assert.equal(out, 'out');
      assert.equal(r.err, 'err\n');
      assert.equal(await readExitFile(r.paths), 3);
      // A session of its own (it outlives berthd), no signal ignored (Node ignores SIGPIPE).
      assert.equal(session, `session ${r.shim.pid} of ${r.shim.pid}`);
      assert.match(ignored ?? '', /^SigIgn:\s+0+$/);
      for (let i = 0; i < 100 && shimAlive(r.shim.pid, r.shim.startTime); i++) {
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(shimAlive(r.shim.pid, r.shim.startTime), false);
      let gone = false;
      for (let i = 0; i < 100 && !gone; i++) {
        try {
          readFileSync(`/proc/${r.shim.pid}/stat`);
          await new Promise((res) => setTimeout(res, 20));
        } catch {
          gone = true;
        }
      }
      assert.ok(gone, 'the shim was reaped');
    } finally {
      r.tmp.remove();
    }
  });

  it('resolves started with undefined when the runtime fails before writing a pid', async () => {
    const r = await runFake(true);
    try {
      assert.equal(r.pid, undefined);
      assert.equal(r.err, 'no such thing\n');
      assert.equal(await readExitFile(r.paths), 1);
    } finally {
      r.tmp.remove();
    }
  });
});

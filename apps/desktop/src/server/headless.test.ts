import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { DASHBOARD_WS_PATH, serverFrameSchema, type ServerFrame } from '../shared/contract.js';
import { Machine } from '@berth/machine';
import type { NativeEngine } from '../main/engine-controller.js';
import { startHeadless, type Headless } from './headless.js';

/** packages/runtime's built berthd (tsc -b builds it before any test runs). */
const BERTHD_JS = join(
  dirname(createRequire(import.meta.url).resolve('@berth/runtime/testing/berthd.js')),
  '../cli/berthd.js',
);

function skip(): string | false {
  if (process.getuid?.() !== 0) return 'berthd runs natively as root only';
  if (!existsSync(BERTHD_JS)) return `${BERTHD_JS} is not built`;
  return false;
}

const statusIs = (state: string) => (f: ServerFrame) =>
  f.type === 'event' &&
  f.event === 'engine.status' &&
  (f.payload as { state: string }).state === state;

/** One dashboard UI connection: calls, and every frame it received. */
async function connect(h: Headless) {
  const res = await fetch(h.dashboard.url, { redirect: 'manual' });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const ws = new WebSocket(`${h.dashboard.origin.replace('http', 'ws')}${DASHBOARD_WS_PATH}`, {
    headers: { origin: h.dashboard.origin, cookie },
  });
  const frames: ServerFrame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data: Buffer) => {
    frames.push(serverFrameSchema.parse(JSON.parse(data.toString('utf8'))));
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let id = 0;
  /** Resolves with the first frame `match` accepts, received since `from` (bounded). */
  const waitFrame = (match: (f: ServerFrame) => boolean, from = 0, timeoutMs = 60_000) =>
    new Promise<ServerFrame>((resolve, reject) => {
      const check = () => {
        const f = frames.slice(from).find(match);
        if (!f) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(f);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching frame in ${timeoutMs} ms: ${JSON.stringify(frames)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const call = async (method: string, params: unknown = {}) => {
    const callId = ++id;
    ws.send(JSON.stringify({ type: 'call', id: callId, method, params }));
    const reply = await waitFrame((f) => f.type !== 'event' && f.id === callId);
    if (reply.type === 'error') throw new Error(reply.error.message);
    return reply.type === 'result' ? reply.value : undefined;
  };
  /** The engine states the UI was told, from frame `from` on. */
  const states = (from = 0) =>
    frames
      .slice(from)
      .flatMap((f) =>
        f.type === 'event' && f.event === 'engine.status'
          ? [(f.payload as { state: string }).state]
          : [],
      );
  return { ws, frames, call, waitFrame, states };
}

describe('npm start without Electron: native berthd behind the dashboard', { skip: skip() }, () => {
  let dir: string;
  let h: Headless;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-headless-'));
    const ui = join(dir, 'ui');
    mkdirSync(ui);
    writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Berth</title>');
    const socket = join(dir, 'run', 'berth.sock');
    h = await startHeadless({
      plan: { kind: 'native', socket, host: `unix://${socket}`, reason: 'test' },
      native: {
        berthdJs: BERTHD_JS,
        args: ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec')],
      },
      rendererDir: ui,
      settingsFile: join(dir, 'settings.json'),
      pollMs: 500,
    });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the dashboard only once the engine answers', async () => {
    const engine = h.engine as NativeEngine;
    assert.equal(engine.controllable, true);
    assert.ok(engine.pid, 'berthd runs');
    const ui = await connect(h);
    try {
      const status = (await ui.call('engine.status')) as { state: string; mode: string };
      assert.equal(status.state, 'running');
      assert.equal(status.mode, 'native');
    } finally {
      ui.ws.close();
    }
  });

  it('Troubleshoot → Restart restarts that berthd: a new pid, the UI sees stopped → running', async () => {
    const engine = h.engine as NativeEngine;
    const before = engine.pid;
    const ui = await connect(h);
    try {
      await ui.waitFrame(statusIs('running'));
      const mark = ui.frames.length;
      const started = Date.now();
      assert.equal(await ui.call('engine.restart'), null);
      const took = Date.now() - started;
      const after = engine.pid;
      assert.ok(after && after !== before, `a new berthd (${before} → ${after})`);
      assert.throws(() => process.kill(before ?? -1, 0), 'the old berthd is gone');
      // The status events after the call: stopped (with why) first, then running again.
      await ui.waitFrame(statusIs('running'), mark);
      const seen = ui.states(mark);
      const stopped = seen.indexOf('unreachable');
      assert.ok(stopped >= 0, `stopped was shown: ${seen.join(' → ')}`);
      assert.ok(seen.indexOf('running', stopped) > stopped, `then running: ${seen.join(' → ')}`);
      const restarting = ui.frames.find(
        (f) =>
          f.type === 'event' &&
          f.event === 'engine.status' &&
          (f.payload as { message?: string }).message === 'Restarting the engine…',
      );
      assert.ok(restarting, 'the stopped status says why');
      const status = (await ui.call('engine.status')) as { state: string };
      assert.equal(status.state, 'running');
      console.log(`# restart through the dashboard: ${took} ms`);
    } finally {
      ui.ws.close();
    }
  });

  it('keeps serving when berthd dies on its own; Restart brings it back', async () => {
    const engine = h.engine as NativeEngine;
    const pid = engine.pid ?? -1;
    process.kill(pid, 'SIGKILL');
    const ui = await connect(h);
    try {
      await ui.waitFrame(statusIs('unreachable'));
      await ui.call('engine.restart');
      assert.ok(engine.pid && engine.pid !== pid);
      assert.equal(((await ui.call('engine.status')) as { state: string }).state, 'running');
    } finally {
      ui.ws.close();
    }
  });
});

describe('npm start without Electron: a Berth VM that cannot start', () => {
  let dir: string;
  let h: Headless | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-headless-vm-'));
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says why in the engine status the UI shows', async (t) => {
    const ui = join(dir, 'ui');
    const img = join(dir, 'img');
    mkdirSync(ui);
    mkdirSync(img);
    writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Berth</title>');
    const image = {
      kernel: join(img, 'vmlinuz'),
      initrd: join(img, 'initrd'),
      system: join(img, 'sys'),
    };
    for (const f of Object.values(image)) writeFileSync(f, '');
    const machine = new Machine({ root: join(dir, '.berth') });
    try {
      await machine.init({ image, accelerators: ['tcg'] });
    } catch (e) {
      return t.skip(`no QEMU machine here: ${e instanceof Error ? e.message : String(e)}`);
    }
    // A shared folder that is not there: the driver refuses to boot, before QEMU runs.
    const gone = join(dir, 'gone');
    const settingsFile = join(dir, 'settings.json');
    writeFileSync(
      settingsFile,
      JSON.stringify({
        cpus: 1,
        memoryMiB: 1024,
        diskGiB: 8,
        sharedFolders: [gone],
        startAtLogin: false,
        insecureRegistries: [],
      }),
    );
    h = await startHeadless({
      plan: { kind: 'vm', reason: 'test' },
      machine,
      settingsFile,
      rendererDir: ui,
      pollMs: 200,
    });
    await assert.rejects(h.ready, /shared folder missing/);
    const conn = await connect(h);
    try {
      const status = (await conn.call('engine.status')) as {
        state: string;
        message?: string;
        mode?: string;
      };
      assert.equal(status.state, 'unreachable');
      assert.equal(status.mode, 'vm');
      assert.match(
        status.message ?? '',
        new RegExp(`^The Berth VM did not start: .*shared folder missing: ${gone}`),
      );
    } finally {
      conn.ws.close();
    }
  });
});

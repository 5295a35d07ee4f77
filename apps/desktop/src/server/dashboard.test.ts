import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { DASHBOARD_WS_PATH, serverFrameSchema } from '../shared/contract.js';
import { startDashboard, type Dashboard } from './dashboard.js';

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

describe('dashboard server', () => {
  let dash: Dashboard;
  let dir: string;
  let cookie: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-dash-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Berth</title>');
    // No engine listens here: the API must still answer, with the engine unreachable.
    dash = await startDashboard({
      engineHost: `unix://${join(dir, 'none.sock')}`,
      rendererDir: dir,
    });
  });
  after(async () => {
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and prints a URL with the token', () => {
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
  });

  it('refuses HTTP without the token (401) and with a foreign Host (403)', async () => {
    assert.equal((await fetch(`${dash.origin}/`)).status, 401);
    assert.equal((await fetch(`${dash.origin}/?token=wrong`)).status, 401);
    // fetch() will not send a Host of our choosing; a DNS-rebinding page's browser would.
    const { port, pathname, search } = new URL(dash.url);
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: pathname + search, headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.once('error', reject);
      req.end();
    });
    assert.equal(rebound, 403);
  });

  it('trades the token for an HttpOnly SameSite=Strict cookie and serves the UI with a CSP', async () => {
    const res = await fetch(dash.url, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    cookie = setCookie.split(';')[0] ?? '';
    const page = await fetch(`${dash.origin}/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Berth/);
    const policy = page.headers.get('content-security-policy') ?? '';
    assert.match(policy, /default-src 'none'/);
    // Scripts only from the page's origin; inline styles only for xterm.js's screen.
    assert.match(policy, /script-src 'self';/);
    assert.doesNotMatch(policy.replace("style-src 'self' 'unsafe-inline'", ''), /unsafe/);
    assert.equal(
      (await fetch(`${dash.origin}/../../etc/passwd`, { headers: { cookie } })).status,
      404,
    );
  });

  it('refuses WebSockets without the cookie (401) or from a foreign Origin (403)', async () => {
    const ws = `${dash.origin.replace('http', 'ws')}${DASHBOARD_WS_PATH}`;
    assert.equal(await upgradeStatus(ws, { origin: dash.origin }), 401);
    assert.equal(await upgradeStatus(ws, { origin: 'http://evil.example', cookie }), 403);
    assert.equal(await upgradeStatus(ws, { cookie }), 403);
    assert.equal(await upgradeStatus(ws, { origin: dash.origin, cookie }), 101);
  });

  it('answers calls over the socket; an unreachable engine is a status, not a crash', async () => {
    const ws = new WebSocket(`${dash.origin.replace('http', 'ws')}${DASHBOARD_WS_PATH}`, {
      headers: { origin: dash.origin, cookie },
    });
    const reply = await new Promise<unknown>((resolve, reject) => {
      ws.once('open', () =>
        ws.send(JSON.stringify({ type: 'call', id: 1, method: 'engine.status', params: {} })),
      );
      ws.on('message', (data: Buffer) => {
        const frame = serverFrameSchema.parse(JSON.parse(data.toString('utf8')));
        if (frame.type !== 'event') resolve(frame);
      });
      ws.once('error', reject);
    });
    ws.close();
    assert.deepEqual(
      (reply as { value: { state: string } }).value.state,
      'unreachable',
      JSON.stringify(reply),
    );
  });
});

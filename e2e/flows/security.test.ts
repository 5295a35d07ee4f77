/**
 * The dashboard refuses what did not come through the printed URL: a browser without the
 * token gets 401, and a page of another origin cannot open the API WebSocket.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboard, type Dashboard } from '@berth/desktop/server';
import { e2eSkip, launchChromium } from '../support/stack.js';

describe('e2e: dashboard access', { skip: e2eSkip(), timeout: 120_000 }, () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let foreign: Server;
  let foreignOrigin: string;
  before(async () => {
    // No engine is needed to be refused.
    dashboard = await startDashboard({ engineHost: 'unix:///nonexistent/berth.sock' });
    browser = await launchChromium();
    foreign = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignOrigin = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
    foreign?.close();
  });

  it('a browser without the token is refused with 401', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${dashboard.origin}/`);
    assert.equal(res?.status(), 401);
    assert.doesNotMatch(await page.content(), /<div id="root">/);
    await page.close();
  });

  it('the token URL lets the browser in and leaves no token in the address bar', async () => {
    const page = await browser.newPage();
    await page.goto(dashboard.url);
    assert.equal(page.url(), `${dashboard.origin}/`);
    await page.getByText('Engine unreachable').waitFor();
    await page.close();
  });

  it('a page of another origin cannot open the API socket, even in a browser holding the cookie', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(dashboard.url);
    await page.goto(foreignOrigin);
    const wsUrl = `${dashboard.origin.replace('http', 'ws')}/api`;
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
          setTimeout(() => resolve('timeout'), 10_000);
        }),
      wsUrl,
    );
    assert.equal(outcome, 'refused');
    await context.close();
  });
});

/**
 * Everything one e2e flow clicks against, all on loopback: a registry with the standard test
 * images and a berthd (packages/runtime's `@berth/runtime/testing/*` helpers), the dashboard
 * server, and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RENDERER_DIR, startDashboard, type Dashboard } from '@berth/desktop/server';
import {
  ENGINE_TEST_TOOLS,
  startEngineEnv,
  type EngineEnv,
} from '@berth/runtime/testing/engine-env.js';
import { skipUnless } from '@berth/runtime/testing/tools.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));

/** A skip reason when a real part is missing (Chromium, the registry, root…), else false. */
export function e2eSkip(): string | false {
  const tools = skipUnless([...ENGINE_TEST_TOOLS, CHROMIUM]);
  if (tools) return tools;
  if (!existsSync(join(RENDERER_DIR, 'index.html')))
    return 'the UI is not built (npm run build -w apps/desktop)';
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60_000,
  });
}

export interface Stack {
  env: EngineEnv;
  dashboard: Dashboard;
  browser: Browser;
  page: Page;
  /** The dashboard's settings file (in a temp dir of this stack). */
  settingsFile: string;
  /** Saves a screenshot of the page as e2e/artifacts/<name>.png. */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<Stack> {
  const env = await startEngineEnv();
  const home = mkdtempSync(join(tmpdir(), 'berth-e2e-'));
  const settingsFile = join(home, 'desktop-settings.json');
  let dashboard: Dashboard | undefined;
  let browser: Browser | undefined;
  try {
    dashboard = await startDashboard({
      engineHost: env.berthd.dockerHost,
      pollMs: 1000,
      settingsFile,
    });
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: { width: 1180, height: 760 },
      colorScheme: opts.colorScheme ?? 'light',
    });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    await page.goto(dashboard.url);
    mkdirSync(ARTIFACTS, { recursive: true });
    const d = dashboard;
    const b = browser;
    return {
      env,
      dashboard: d,
      browser: b,
      page,
      settingsFile,
      screenshot: async (name) => {
        await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
      },
      close: async () => {
        await b.close().catch(() => undefined);
        await d.close();
        await env.stop();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await dashboard?.close();
    await env.stop();
    rmSync(home, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Why the engine cannot serve what a flow needs, from the docker CLI's own attempt (e.g. an
 * engine without exec answers "page not found"), or false when it works.
 */
export async function engineLacks(stack: Stack, args: readonly string[]): Promise<string | false> {
  const r = await stack.env.docker(args, { timeoutMs: 30_000 });
  return r.code === 0
    ? false
    : `the engine cannot \`docker ${args.join(' ')}\`: ${r.stderr.trim()}`;
}

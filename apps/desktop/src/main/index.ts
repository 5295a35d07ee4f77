/**
 * Electron's main process, kept thin: one instance, one window, the tray, and BerthApi over IPC
 * to the same services the dashboard server uses. The renderer is sandboxed, isolated, without
 * Node, and loaded from the `berth://app/` protocol with a strict CSP.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  nativeImage,
  protocol,
  shell,
  Tray,
  type MenuItemConstructorOptions,
  type WebContents,
} from 'electron';
import { dispatch, eventFrame, IPC, type ServerFrame } from '../shared/contract.js';
import type { ContainerSummary } from '../shared/contract.js';
import { createBerthServices } from '../services/index.js';
import type { Session } from '../services/session.js';
import { Machine, engineClientHost } from '@berth/machine';
import { externalEngine, NativeEngine, type EngineController } from './engine-controller.js';
import { berthdEntry, hostFacts, planEngine } from './launch-plan.js';
import { VmEngine } from './vm-engine.js';
import { dotBitmap } from './icons.js';
import { trayDot, trayMenu, type TrayAction, type TrayItem, type TrayState } from './tray-model.js';

const RENDERER = fileURLToPath(new URL('../renderer/', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../preload-bundle/preload.cjs', import.meta.url));
const BERTHD = fileURLToPath(
  new URL('../../../../packages/runtime/dist/cli/berthd.js', import.meta.url),
);
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
};

protocol.registerSchemesAsPrivileged([
  { scheme: 'berth', privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();

  // The same decision as `npm start` (launch-plan.ts): a native berthd as root on Linux — the
  // packaged app runs the berthd bundle from its resources with Electron as Node — else the
  // Berth VM, whose guest image a packaged app also finds among its resources.
  const plan = planEngine(hostFacts());
  const berthdJs = berthdEntry(
    app.isPackaged ? { resourcesPath: process.resourcesPath } : undefined,
    BERTHD,
  );
  if (plan.kind === 'vm' && app.isPackaged && !process.env['BERTH_IMAGE_DIR'])
    process.env['BERTH_IMAGE_DIR'] = join(process.resourcesPath, 'vm-image');
  let machine: Machine | undefined;
  let engineHost: string;
  if (plan.kind === 'vm') {
    machine = new Machine();
    engineHost = engineClientHost(machine.dockerSocket);
  } else engineHost = plan.host;
  let engine: EngineController = externalEngine;
  const services = createBerthServices({
    engineHost,
    mode: machine ? 'vm' : 'native',
    engine: { restart: () => engine.restart() },
    vmConsole: machine ? (tail) => machine.logs().split('\n').slice(-tail) : undefined,
    // The Build view's "Choose…": the native folder dialog, over the app's window.
    pickFolder: async () => {
      const options = { title: 'Folder to build', properties: ['openDirectory' as const] };
      const r = window
        ? await dialog.showOpenDialog(window, options)
        : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    onSettingsChanged: (s) => {
      app.setLoginItemSettings({ openAtLogin: s.startAtLogin });
      state.startAtLogin = s.startAtLogin;
      render();
    },
  });
  if (machine)
    engine = new VmEngine(
      () => services.settings.get(),
      (p, failure) => services.monitor.reportBoot(p, failure),
      machine,
    );
  else if (plan.kind === 'native' && existsSync(berthdJs))
    engine = new NativeEngine({ socket: plan.socket, berthdJs });
  // The VM boots in the background (its progress shows in the status bar); berthd is quick.
  if (machine)
    void engine.start().catch((e: unknown) => console.error('berth: VM start failed', e));
  else if (engine.controllable) await engine.start();

  protocol.handle('berth', async (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    const file = join(RENDERER, path === sep ? 'index.html' : path);
    if (!file.startsWith(RENDERER)) return new Response('not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, {
        headers: {
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
          'Content-Security-Policy': CSP,
        },
      });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });

  // One API session per window's web contents, ended with it.
  const sessions = new Map<number, Session>();
  const sessionFor = (sender: WebContents): Session => {
    let s = sessions.get(sender.id);
    if (!s) {
      const send = (frame: ServerFrame) => {
        if (!sender.isDestroyed()) sender.send(IPC.frame, frame);
      };
      s = services.openSession((event, payload) => send(eventFrame(event, payload)));
      sessions.set(sender.id, s);
      sender.once('destroyed', () => {
        sessions.get(sender.id)?.close();
        sessions.delete(sender.id);
      });
    }
    return s;
  };
  ipcMain.on(IPC.call, (event, frame: unknown) => {
    const s = sessionFor(event.sender);
    void dispatch(s.handlers, frame).then((reply) => {
      if (!event.sender.isDestroyed()) event.sender.send(IPC.frame, reply);
    });
  });

  let window: BrowserWindow | undefined;
  const showWindow = (hash = '#/containers') => {
    if (window && !window.isDestroyed()) {
      window.show();
      window.focus();
      void window.loadURL(`berth://app/index.html${hash}`);
      return;
    }
    window = new BrowserWindow({
      width: 1180,
      height: 760,
      title: 'Berth',
      show: false,
      webPreferences: {
        preload: PRELOAD,
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
        webSecurity: true,
      },
    });
    window.once('ready-to-show', () => window?.show());
    // Links (published ports) open in the user's browser, never inside the app.
    window.webContents.setWindowOpenHandler(({ url }) => {
      if (/^https?:\/\//.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    window.webContents.on('will-navigate', (e, url) => {
      if (!url.startsWith('berth://app/')) e.preventDefault();
    });
    void window.loadURL(`berth://app/index.html${hash}`);
  };
  app.on('second-instance', () => showWindow());

  // --- tray -------------------------------------------------------------------------------
  const state: TrayState = {
    engine: undefined,
    controllable: engine.controllable,
    containers: [],
    startAtLogin: app.getLoginItemSettings().openAtLogin,
  };
  const icon = (dot: TrayItem['dot'] = 'grey') =>
    nativeImage.createFromBitmap(dotBitmap(dot), { width: 16, height: 16 });
  const tray = new Tray(icon(trayDot(state)));
  tray.setToolTip('Berth');

  const perform = async (action: TrayAction): Promise<void> => {
    switch (action.kind) {
      case 'engine.start':
      case 'engine.stop':
      case 'engine.restart': {
        state.transition = action.kind === 'engine.stop' ? 'stopping' : 'starting';
        render();
        try {
          if (action.kind === 'engine.restart')
            // Through the monitor, so the window shows the restart as the tray does.
            await services.monitor.restarting(() => engine.restart());
          else await engine[action.kind === 'engine.start' ? 'start' : 'stop']();
        } finally {
          state.transition = undefined;
          render();
        }
        return;
      }
      case 'container.stop':
        await trayApi.handlers['containers.stop']({ id: action.id });
        return;
      case 'open-url':
        await shell.openExternal(action.url);
        return;
      case 'dashboard':
        showWindow();
        return;
      case 'settings':
        showWindow('#/settings');
        return;
      case 'toggle-start-at-login': {
        // Through the settings file, so Settings shows the same choice (onSettingsChanged).
        const current = await services.settings.get();
        await services.settings.set({ ...current, startAtLogin: !state.startAtLogin });
        return;
      }
      case 'quit':
        app.quit();
        return;
    }
  };

  const toTemplate = ({ action, ...item }: TrayItem): MenuItemConstructorOptions => ({
    label: item.label,
    type: item.submenu ? 'submenu' : (item.type ?? 'normal'),
    enabled: item.enabled ?? true,
    checked: item.checked,
    icon: item.dot ? icon(item.dot) : undefined,
    submenu: item.submenu?.map(toTemplate),
    click: action ? () => void perform(action).catch(() => undefined) : undefined,
  });
  const render = () => {
    tray.setImage(icon(trayDot(state)));
    tray.setContextMenu(Menu.buildFromTemplate(trayMenu(state).map(toTemplate)));
  };

  const refreshContainers = () => {
    if (state.engine?.state !== 'running') {
      state.containers = [];
      render();
      return;
    }
    trayApi.handlers['containers.list']({}).then(
      (list: ContainerSummary[]) => {
        state.containers = list;
        render();
      },
      () => undefined,
    );
  };
  const trayApi = services.openSession((event, payload) => {
    if (event === 'engine.status') {
      state.engine = payload as TrayState['engine'];
      refreshContainers();
    } else if (event === 'engine.event' && (payload as { type: string }).type === 'container') {
      refreshContainers();
    }
  });
  render();
  showWindow();

  app.on('window-all-closed', () => {
    // The tray keeps Berth running, as Docker Desktop does.
  });
  let stopped = false;
  app.on('before-quit', (e) => {
    if (stopped) return;
    // Hold the quit until the engine we started has stopped cleanly.
    e.preventDefault();
    stopped = true;
    trayApi.close();
    for (const s of sessions.values()) s.close();
    services.close();
    void (engine.controllable ? engine.stop() : Promise.resolve()).finally(() => app.quit());
  });
}

void main();

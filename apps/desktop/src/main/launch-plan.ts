/**
 * Which engine and which UI a launch uses, decided from plain facts about the host so it is
 * unit-tested for every platform (`npm start` and Electron's main process both follow it):
 *
 * - engine: an engine named by BERTH_ENGINE_HOST is used as it is; on Linux as root berthd runs
 *   natively; everywhere else (macOS, Windows, Linux without root, BERTH_VM=1) in the Berth VM
 *   through packages/machine, as Docker Desktop does.
 * - UI: Electron where its binary is installed and there is a display; otherwise the dashboard
 *   server (BERTH_DASHBOARD=1 asks for it anyway).
 *
 * Nothing here starts anything, reads the network, or downloads: finding Electron reads the
 * files its npm package would read.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface HostFacts {
  platform: NodeJS.Platform;
  isRoot: boolean;
  home: string;
  env: Readonly<Record<string, string | undefined>>;
}

export type EnginePlan =
  | { kind: 'external'; host: string; reason: string }
  | { kind: 'native'; socket: string; host: string; reason: string }
  | { kind: 'vm'; reason: string };

export type UiPlan =
  | { kind: 'electron'; binary: string; args: string[]; reason: string }
  | { kind: 'dashboard'; reason: string };

export interface LaunchPlan {
  engine: EnginePlan;
  ui: UiPlan;
}

export function hostFacts(): HostFacts {
  return {
    platform: process.platform,
    isRoot: process.getuid?.() === 0,
    home: process.env['HOME'] ?? process.env['USERPROFILE'] ?? '/',
    env: process.env,
  };
}

/** Where a native berthd listens: the system socket as root, else one under ~/.berth. */
export function nativeSocket(f: HostFacts): string {
  return f.isRoot ? '/run/berth/berth.sock' : join(f.home, '.berth', 'run', 'berth.sock');
}

export function planEngine(f: HostFacts): EnginePlan {
  const external = f.env['BERTH_ENGINE_HOST'];
  if (external) return { kind: 'external', host: external, reason: 'BERTH_ENGINE_HOST is set' };
  if (f.platform !== 'linux')
    return { kind: 'vm', reason: `${f.platform} has no Linux kernel: the engine runs in a VM` };
  if (f.env['BERTH_VM'] === '1') return { kind: 'vm', reason: 'BERTH_VM=1' };
  if (!f.isRoot)
    return {
      kind: 'vm',
      reason: 'the engine needs root to run natively (namespaces, mounts); it runs in a VM',
    };
  const socket = nativeSocket(f);
  return {
    kind: 'native',
    socket,
    host: `unix://${socket}`,
    reason: 'Linux as root: the engine runs natively',
  };
}

export function planUi(f: HostFacts, electron: string | undefined, appDir: string): UiPlan {
  if (f.env['BERTH_DASHBOARD'] === '1') return { kind: 'dashboard', reason: 'BERTH_DASHBOARD=1' };
  if (!electron)
    return {
      kind: 'dashboard',
      reason: 'the Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD)',
    };
  if (f.platform === 'linux' && !f.env['DISPLAY'] && !f.env['WAYLAND_DISPLAY'])
    return { kind: 'dashboard', reason: 'no display (DISPLAY/WAYLAND_DISPLAY unset)' };
  return {
    kind: 'electron',
    binary: electron,
    // Chromium refuses to run as root on Linux unless its own sandbox is off; the renderer
    // keeps contextIsolation, no Node and the CSP either way.
    args: [...(f.platform === 'linux' && f.isRoot ? ['--no-sandbox'] : []), appDir],
    reason: 'the Electron binary is installed',
  };
}

export function planLaunch(f: HostFacts, electron: string | undefined, appDir: string): LaunchPlan {
  return { engine: planEngine(f), ui: planUi(f, electron, appDir) };
}

/**
 * The Electron executable `require('electron')` would name, if it is really there: the npm
 * package records it in path.txt once its install script has downloaded it, and an install
 * with ELECTRON_SKIP_BINARY_DOWNLOAD=1 leaves both missing. Unlike require('electron'), this
 * never tries to download it.
 */
export function findElectron(
  appDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  let pkgDir: string;
  try {
    pkgDir = dirname(createRequire(join(appDir, 'package.json')).resolve('electron/package.json'));
  } catch {
    return undefined;
  }
  const pathFile = join(pkgDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = env['ELECTRON_OVERRIDE_DIST_PATH'];
  if (!relative && !override) return undefined;
  const binary = override ? join(override, relative || 'electron') : join(pkgDir, 'dist', relative);
  try {
    accessSync(binary, platform === 'win32' ? constants.F_OK : constants.X_OK);
  } catch {
    return undefined;
  }
  return binary;
}

/** The bundled berthd's entry inside its folder (src/packaging/berthd-bundle.ts makes it). */
export const BERTHD_BUNDLE_ENTRY = 'dist/cli/berthd.mjs';

/**
 * berthd's entry for a native engine: the bundle shipped in a packaged app's resources
 * (electron-builder.yml puts its folder at `berthd/`), else the workspace build.
 */
export function berthdEntry(packaged: { resourcesPath: string } | undefined, devPath: string) {
  return packaged
    ? join(packaged.resourcesPath, 'berthd', ...BERTHD_BUNDLE_ENTRY.split('/'))
    : devPath;
}

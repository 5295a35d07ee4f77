/**
 * The tray menu as data: a pure function from what the engine is doing to the menu items, each
 * with an action the main process carries out. Kept free of Electron so it is unit-tested.
 */
import type { ContainerSummary, EngineStatus } from '../shared/contract.js';

export type TrayAction =
  | { kind: 'engine.start' | 'engine.stop' | 'engine.restart' }
  | { kind: 'dashboard' | 'settings' | 'quit' | 'toggle-start-at-login' }
  | { kind: 'container.stop'; id: string }
  | { kind: 'open-url'; url: string };

export type Dot = 'green' | 'red' | 'amber' | 'grey';

export interface TrayItem {
  label?: string;
  type?: 'normal' | 'separator' | 'checkbox';
  checked?: boolean;
  enabled?: boolean;
  /** A coloured status dot drawn as the item's icon. */
  dot?: Dot;
  action?: TrayAction;
  submenu?: TrayItem[];
}

export interface TrayState {
  /** undefined until the first status arrives. */
  engine: EngineStatus | undefined;
  /** The engine is being started or stopped by us right now. */
  transition?: 'starting' | 'stopping';
  /** Whether this app can start and stop the engine (false when it only connects to one). */
  controllable: boolean;
  containers: ContainerSummary[];
  startAtLogin: boolean;
}

export function trayDot(state: TrayState): Dot {
  if (state.transition || (state.engine?.boot && state.engine.state !== 'running')) return 'amber';
  if (!state.engine) return 'grey';
  return state.engine.state === 'running' ? 'green' : 'red';
}

function engineLabel(state: TrayState): string {
  if (state.transition === 'starting') return 'Engine starting…';
  if (state.transition === 'stopping') return 'Engine stopping…';
  if (!state.engine) return 'Engine: checking…';
  const boot = state.engine.boot;
  if (boot && state.engine.state !== 'running')
    return `Starting: ${boot.message} (${boot.percent} %)`;
  return state.engine.state === 'running'
    ? `Engine running${state.engine.version ? ` (${state.engine.version})` : ''}`
    : 'Engine stopped';
}

function containerItem(c: ContainerSummary): TrayItem {
  const seen = new Set<number>();
  const open: TrayItem[] = [];
  for (const p of c.ports) {
    if (p.type !== 'tcp' || !p.publicPort || seen.has(p.publicPort)) continue;
    seen.add(p.publicPort);
    open.push({
      label: `Open in browser (port ${p.publicPort})`,
      action: { kind: 'open-url', url: `http://localhost:${p.publicPort}/` },
    });
  }
  return {
    label: `${c.name} — ${c.image}`,
    dot: 'green',
    submenu: [...open, { label: 'Stop', action: { kind: 'container.stop', id: c.id } }],
  };
}

const MAX_CONTAINERS = 15;

export function trayMenu(state: TrayState): TrayItem[] {
  const running = state.engine?.state === 'running';
  const busy = state.transition !== undefined;
  const items: TrayItem[] = [{ label: engineLabel(state), enabled: false, dot: trayDot(state) }];
  if (state.controllable) {
    items.push(
      { label: 'Start', enabled: !busy && !running, action: { kind: 'engine.start' } },
      { label: 'Stop', enabled: !busy && running, action: { kind: 'engine.stop' } },
      { label: 'Restart', enabled: !busy && running, action: { kind: 'engine.restart' } },
    );
  }
  items.push({ type: 'separator' });
  const live = running ? state.containers.filter((c) => c.state === 'running') : [];
  if (live.length === 0) {
    items.push({ label: running ? 'No running containers' : 'Containers', enabled: false });
  } else {
    items.push({ label: 'Running containers', enabled: false });
    items.push(...live.slice(0, MAX_CONTAINERS).map(containerItem));
    if (live.length > MAX_CONTAINERS) {
      items.push({
        label: `${live.length - MAX_CONTAINERS} more…`,
        action: { kind: 'dashboard' },
      });
    }
  }
  items.push(
    { type: 'separator' },
    { label: 'Dashboard', action: { kind: 'dashboard' } },
    { label: 'Settings…', action: { kind: 'settings' } },
    {
      label: 'Start at login',
      type: 'checkbox',
      checked: state.startAtLogin,
      action: { kind: 'toggle-start-at-login' },
    },
    { type: 'separator' },
    { label: 'Quit Berth', action: { kind: 'quit' } },
  );
  return items;
}

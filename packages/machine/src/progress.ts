/**
 * Boot progress as the user sees it: the guest's `berth-stage:` console lines (protocol.ts)
 * between the host's own steps, each mapped to a percentage so a bar moves monotonically.
 */
import { BOOT_STAGES, parseStageLine, type BootStage } from '@berth/vm-image/protocol';

/** The host's steps around the guest's boot stages. */
export type HostStage = 'launch' | 'bridge' | 'running';
export type Stage = HostStage | BootStage;

export interface Progress {
  stage: Stage;
  /** 0–100. */
  percent: number;
  message: string;
}

const GUEST_FROM = 5;
const GUEST_TO = 90;

// Guest stages come from protocol.ts; one without a message here is shown by its name.
const MESSAGES: Partial<Record<string, string>> = {
  launch: 'Starting the virtual machine',
  initramfs: 'Booting the Linux kernel',
  kernel: 'Booting the Linux kernel',
  modules: 'Loading kernel modules',
  'system-image': 'Mounting the system image',
  'data-disk': 'Mounting the data disk',
  root: 'Switching to the guest root',
  cgroups: 'Setting up cgroups',
  network: 'Configuring the network',
  config: 'Reading the machine configuration',
  shares: 'Mounting shared folders',
  engine: 'Starting the engine',
  agent: 'Starting the guest agent',
  ready: 'Engine ready in the guest',
  bridge: 'Connecting the host socket',
  running: 'Berth is running',
};

export function progressFor(stage: Stage, detail?: string): Progress {
  let percent: number;
  if (stage === 'launch') percent = 1;
  else if (stage === 'bridge') percent = 95;
  else if (stage === 'running') percent = 100;
  else {
    const i = BOOT_STAGES.indexOf(stage);
    percent = Math.round(GUEST_FROM + ((GUEST_TO - GUEST_FROM) * i) / (BOOT_STAGES.length - 1));
  }
  const text = MESSAGES[stage] ?? stage;
  return { stage, percent, message: detail ? `${text} (${detail})` : text };
}

/** A console line as progress, or a failure reason, or nothing. */
export function progressFromConsole(line: string): Progress | { failed: string } | undefined {
  const parsed = parseStageLine(line);
  if (!parsed) return undefined;
  if (parsed.stage === 'failed') return { failed: parsed.detail || 'the guest failed to boot' };
  return progressFor(parsed.stage, parsed.detail);
}

/**
 * The hypervisor seam, after lima's pkg/driver: one small interface, one folder per driver
 * (`drivers/qemu`, `drivers/vz`, `drivers/hyperv`), and one conformance suite
 * (`drivers/testsuite.ts`) that every driver runnable on the host passes.
 *
 * Terms: a *machine* is the persistent thing `berth machine init` makes (settings, keys, data
 * disk); the driver *boots* it into a running guest and tears that guest down. The driver knows
 * nothing of the engine, the bridge or ports: it only makes the guest run and says how to reach
 * its agent.
 */
import type { GuestConfig } from '@berth/vm-image/protocol';
import type { MachinePaths } from './paths.js';
import type { MachineSettings } from './settings.js';

export interface DriverContext {
  settings: MachineSettings;
  paths: MachinePaths;
  /** Host-wide state a driver may keep across machines (e.g. accelerator verdicts). */
  hostStateDir: string;
  /** Handed to the guest (fw_cfg, or a config disk where the hypervisor has no fw_cfg). */
  guestConfig: GuestConfig;
}

/** How the host reaches the guest agent's SSH server. */
export type AgentAddress =
  | { transport: 'tcp'; host: string; port: number }
  | { transport: 'vsock'; cid: number; port: number };

export interface DriverStatus {
  running: boolean;
  /** The hypervisor process, when there is one on the host. */
  pid?: number;
  accelerator?: string;
}

export interface StartedGuest {
  pid?: number;
  /** What actually runs the guest (`kvm`, `hvf`, `whpx`, `tcg`, `vz`, `hyperv`). */
  accelerator: string;
  agent: AgentAddress;
}

export interface DriverStartOptions {
  /** Cancels a boot in progress; the driver kills what it started. */
  signal?: AbortSignal;
  /** Progress the driver itself reports (e.g. "kvm did not come up; falling back to tcg"). */
  onNotice?: (message: string) => void;
}

/**
 * A hypervisor's own port forwarding from the host into the guest's network (QEMU user-net's
 * `hostfwd`): the host listens in the hypervisor and delivers to the guest's own address, with
 * no encryption or copy through the agent. Rules live as long as the running guest.
 */
export interface NativePortForwarder {
  /** Whether `hostIp` can be forwarded natively (else the ssh path is used). */
  supports(proto: 'tcp' | 'udp', hostIp: string): boolean;
  /**
   * Listens on hostIp:hostPort and forwards to the guest's guestPort. Idempotent for a rule this
   * guest already has; throws PortForwardError when the host port cannot be bound.
   */
  add(proto: 'tcp' | 'udp', hostIp: string, hostPort: number, guestPort: number): Promise<void>;
  /** MUST succeed when the rule does not exist. */
  remove(proto: 'tcp' | 'udp', hostIp: string, hostPort: number): Promise<void>;
  /**
   * Removes the rules an earlier host process added to this running guest (it may have died
   * before the containers behind them stopped); called before the first snapshot is applied.
   */
  reset(): Promise<void>;
}

export class PortForwardError extends Error {
  override readonly name = 'PortForwardError';
}

export interface Driver {
  readonly name: string;
  /** Present when the hypervisor forwards host ports itself (see NativePortForwarder). */
  readonly portForwarder?: NativePortForwarder;
  /** Throws DriverUnavailableError when this driver cannot run this machine on this host. */
  validate(): Promise<void>;
  /** Makes the driver's files (data disk…). MUST succeed when they already exist. */
  create(): Promise<void>;
  /**
   * Boots the guest; resolves once the hypervisor runs it and the guest shows signs of life on
   * its console (`<paths.serialLog>`), not when the engine is ready. The process outlives the
   * caller: a later `status()`/`stop()` from another process finds it through files in
   * `<paths.runDir>`.
   */
  start(opts?: DriverStartOptions): Promise<StartedGuest>;
  /**
   * Asks the guest to power off, then forces it after `timeoutMs`. MUST succeed when the guest
   * is not running.
   */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  status(): Promise<DriverStatus>;
  /** Where the agent listens while the guest runs; undefined when it is stopped. */
  guestAgent(): Promise<AgentAddress | undefined>;
  /** Stops the guest if it runs and removes every file the driver made. */
  delete(): Promise<void>;
}

export type DriverFactory = (ctx: DriverContext) => Driver;

export class DriverUnavailableError extends Error {
  override readonly name = 'DriverUnavailableError';
}

/**
 * Host-wide bookkeeping shared by every berthd on this machine (tests start many at once):
 * which bridge device and subnet each data root holds, under one lock, so two daemons never
 * pick the same subnet or device; bridges and NAT rules of data roots that no longer exist are
 * removed; ip_forward goes back to what it was once no Berth bridge needs it.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { SystemError } from '../api/errors.js';
import { deleteLink, readIpForward, removeNat, writeIpForward } from './kernel.js';

export const DEFAULT_HOST_STATE_DIR = '/run/berth';

const LOCK_WAIT_MS = 20_000;
/** A lock older than this was left by a process that died holding it. */
const LOCK_STALE_MS = 30_000;

export const reservationSchema = z.object({
  device: z.string(),
  subnet: z.string(),
  internal: z.boolean(),
  dataRoot: z.string(),
  /** True once NAT rules may exist for it. */
  nat: z.boolean().default(false),
});
export type Reservation = z.infer<typeof reservationSchema>;

export class HostRegistry {
  private readonly dir: string;
  private readonly lockDir: string;
  private readonly forwardFile: string;

  constructor(root = DEFAULT_HOST_STATE_DIR) {
    this.dir = join(root, 'bridges');
    this.lockDir = join(root, 'bridges.lock');
    this.forwardFile = join(root, 'ip_forward.orig');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Runs `fn` holding the host-wide lock (a directory; bounded wait, stale locks broken). */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        mkdirSync(this.lockDir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        try {
          if (Date.now() - statSync(this.lockDir).mtimeMs > LOCK_STALE_MS)
            rmSync(this.lockDir, { recursive: true, force: true });
        } catch {
          // released meanwhile
        }
        if (Date.now() > deadline)
          throw new SystemError(`timed out waiting for the network lock ${this.lockDir}`);
        await sleep(10 + Math.random() * 20);
      }
    }
    try {
      return await fn();
    } finally {
      rmSync(this.lockDir, { recursive: true, force: true });
    }
  }

  list(): Reservation[] {
    const out: Reservation[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(reservationSchema.parse(JSON.parse(readFileSync(join(this.dir, name), 'utf8'))));
      } catch {
        rmSync(join(this.dir, name), { force: true }); // torn or foreign: not a reservation
      }
    }
    return out;
  }

  put(r: Reservation): void {
    const file = join(this.dir, `${r.device}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(r));
    renameSync(`${file}.tmp`, file);
  }

  drop(device: string): void {
    rmSync(join(this.dir, `${device}.json`), { force: true });
  }

  /** Removes bridges, NAT and reservations of data roots that are gone (call under the lock). */
  async collectGarbage(): Promise<void> {
    for (const r of this.list()) {
      if (existsSync(r.dataRoot)) continue;
      await this.teardown(r);
    }
    this.restoreIpForwardIfUnused();
  }

  /** Kernel state of one reservation goes, then the reservation. */
  async teardown(r: Reservation): Promise<void> {
    if (r.nat) await removeNat(r.device, r.subnet, r.internal);
    await deleteLink(r.device);
    this.drop(r.device);
  }

  /** Turns ip_forward on, remembering the value it had before Berth touched it. */
  enableIpForward(): void {
    const current = readIpForward();
    if (current === '1') return;
    if (!existsSync(this.forwardFile)) writeFileSync(this.forwardFile, current);
    writeIpForward('1');
  }

  /** Puts ip_forward back once no reservation with NAT remains. */
  restoreIpForwardIfUnused(): void {
    if (!existsSync(this.forwardFile)) return;
    if (this.list().some((r) => r.nat && !r.internal)) return;
    writeIpForward(readFileSync(this.forwardFile, 'utf8').trim());
    rmSync(this.forwardFile, { force: true });
  }
}

/**
 * Removes bridges and NAT rules whose data root is gone (a stopped test daemon's, say) — what
 * the next berthd would do at its first network operation. For test teardown.
 */
export async function collectLeftovers(root = DEFAULT_HOST_STATE_DIR): Promise<void> {
  const registry = new HostRegistry(root);
  await registry.locked(() => registry.collectGarbage());
}

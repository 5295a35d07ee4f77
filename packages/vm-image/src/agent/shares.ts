/** Shared host folders, mounted at the same path as on the host. */
import { mkdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import type { SharedFolder } from './protocol.js';

function mount(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/bin/busybox', ['mount', ...args], { timeout: 15_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`mount ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

export function shareMountArgs(share: SharedFolder): string[] {
  const ro = share.readOnly ? ',ro' : '';
  return share.type === '9p'
    ? [
        '-t',
        '9p',
        '-o',
        `trans=virtio,version=9p2000.L,msize=524288,cache=mmap,access=client${ro}`,
        share.tag,
        share.guestPath,
      ]
    : ['-t', 'virtiofs', '-o', `defaults${ro}`, share.tag, share.guestPath];
}

/** Mounts every share; returns the error messages of those that failed (the rest still mount). */
export async function mountShares(shares: readonly SharedFolder[]): Promise<string[]> {
  const errors: string[] = [];
  for (const s of shares) {
    try {
      mkdirSync(s.guestPath, { recursive: true });
      await mount(shareMountArgs(s));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return errors;
}

/**
 * The host's GuestConfig: from QEMU's fw_cfg entry when there is one, otherwise from a config
 * disk recognised by its magic.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import {
  CONFIG_DISK_MAGIC,
  decodeConfigDisk,
  FW_CFG_GUEST_PATH,
  GuestConfigSchema,
  type ParsedGuestConfig,
} from './protocol.js';

const CONFIG_DISK_READ = 1024 * 1024;

function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function loadGuestConfig(
  fwCfgPath = FW_CFG_GUEST_PATH,
  blockDir = '/sys/block',
): ParsedGuestConfig {
  if (existsSync(fwCfgPath)) {
    return GuestConfigSchema.parse(JSON.parse(readFileSync(fwCfgPath, 'utf8')));
  }
  const disks = existsSync(blockDir)
    ? readdirSync(blockDir).filter((d) => /^(vd|sd|xvd|nvme)/.test(d))
    : [];
  for (const d of disks.sort()) {
    let head: Buffer;
    try {
      head = readHead(`/dev/${d}`, CONFIG_DISK_READ);
    } catch {
      continue;
    }
    if (head.subarray(0, CONFIG_DISK_MAGIC.length).toString() !== CONFIG_DISK_MAGIC) continue;
    const config = decodeConfigDisk(head);
    if (config) return config;
  }
  throw new Error(`no guest config: neither ${fwCfgPath} nor a config disk`);
}

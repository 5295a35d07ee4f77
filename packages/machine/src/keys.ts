/**
 * Per-machine SSH keys, made once at init: the guest agent's host key (the host pins it, so a
 * process that grabbed the forwarded port cannot impersonate the guest) and the client key the
 * agent accepts (nothing else is accepted).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '@berth/vm-image/ssh-keys';
import type { MachinePaths } from './paths.js';

export interface MachineKeys {
  /** OpenSSH private key of the guest agent. */
  hostPrivate: string;
  /** `ssh-ed25519 AAAA… berth-host` */
  hostPublic: string;
  clientPrivate: string;
  clientPublic: string;
}

export function generateMachineKeys(name: string): MachineKeys {
  const host = generateEd25519KeyPair(`berth-${name}-host`);
  const client = generateEd25519KeyPair(`berth-${name}-client`);
  return {
    hostPrivate: host.private,
    hostPublic: host.public,
    clientPrivate: client.private,
    clientPublic: client.public,
  };
}

export function writeMachineKeys(paths: MachinePaths, keys: MachineKeys): void {
  mkdirSync(paths.keysDir, { recursive: true, mode: 0o700 });
  chmodSync(paths.keysDir, 0o700);
  const files: [string, string, number][] = [
    [paths.hostKey, keys.hostPrivate, 0o600],
    [paths.hostKeyPub, keys.hostPublic, 0o644],
    [paths.clientKey, keys.clientPrivate, 0o600],
    [paths.clientKeyPub, keys.clientPublic, 0o644],
  ];
  for (const [file, content, mode] of files) {
    writeFileSync(file, content.endsWith('\n') ? content : `${content}\n`, { mode });
    chmodSync(file, mode);
  }
}

export function readMachineKeys(paths: MachinePaths): MachineKeys {
  return {
    hostPrivate: readFileSync(paths.hostKey, 'utf8'),
    hostPublic: readFileSync(paths.hostKeyPub, 'utf8').trim(),
    clientPrivate: readFileSync(paths.clientKey, 'utf8'),
    clientPublic: readFileSync(paths.clientKeyPub, 'utf8').trim(),
  };
}

/** The raw public key blob of an OpenSSH public key line, to compare with what a server offers. */
export function publicKeyBlob(openSshPublic: string): Buffer {
  const parsed = ssh2.utils.parseKey(openSshPublic);
  if (parsed instanceof Error) throw parsed;
  return parsed.getPublicSSH();
}

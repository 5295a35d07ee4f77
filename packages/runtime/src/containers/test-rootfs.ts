/**
 * For tests: a minimal container root filesystem made from the host's static busybox, with
 * /etc/passwd and /etc/group holding root, a user "app" (1000:1000) and nobody.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

const APPLETS = [
  'sh',
  'ls',
  'cat',
  'echo',
  'sleep',
  'id',
  'hostname',
  'ps',
  'grep',
  'head',
  'pwd',
  'env',
  'mount',
  'touch',
  'true',
  'false',
  'test',
];

/** Creates `<dir>/rootfs` and returns its path. */
export function makeBusyboxRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/app']) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\n' +
      'app:x:1000:1000:app:/home/app:/bin/sh\n' +
      'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(
    join(rootfs, 'etc/group'),
    'root:x:0:\nwheel:x:10:app\napp:x:1000:\naudio:x:29:app,nobody\nnogroup:x:65534:\n',
  );
  return rootfs;
}

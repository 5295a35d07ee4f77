/**
 * The init process of `docker run --init`: a static tini that berthd bind-mounts read-only at
 * /sbin/docker-init in the container, as dockerd does with its docker-init.
 */
import { accessSync, constants } from 'node:fs';
import { SystemError } from '../api/errors.js';

/** Where the init binary appears inside the container (moby's inContainerInitPath). */
export const CONTAINER_INIT_PATH = '/sbin/docker-init';

/**
 * Host paths tried in order when berthd has no `--init-path`: Debian's docker.io ships
 * docker-init (a link to tini-static); the `tini` package alone ships tini-static. Only static
 * builds work: the container's root has none of the host's libraries.
 */
export const INIT_CANDIDATES: readonly string[] = ['/usr/bin/docker-init', '/usr/bin/tini-static'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The host path of the init binary: `override` (berthd `--init-path`) if given, else the first
 * of INIT_CANDIDATES that exists. Throws a 500 naming what was looked for when there is none,
 * so `--init` never silently runs without an init.
 */
export function findInitBinary(override?: string): string {
  const tried = override ? [override] : INIT_CANDIDATES;
  const found = tried.find(executable);
  if (found) return found;
  throw new SystemError(
    `--init: no init binary found: ${tried.join(', ')} ` +
      `${tried.length > 1 ? 'do' : 'does'} not exist or is not executable ` +
      `(install Debian's tini or docker.io, or start berthd with --init-path)`,
  );
}

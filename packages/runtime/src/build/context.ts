/**
 * The build context: the request body of POST /build, a tar (plain or compressed) unpacked
 * into a private directory by the same hostile-archive-safe applier layers go through, then
 * its Dockerfile read and its `.dockerignore` applied (the docker CLI filters client-side,
 * other clients may not; the Dockerfile and .dockerignore themselves always arrive).
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameterError } from '../api/errors.js';
import { readFileInRoot } from '../containers/rootfs-path.js';
import { applyLayer } from '../storage/apply-layer.js';
import { decompressLayer } from '../storage/decompress.js';
import { IgnoreMatcher } from './patterns.js';

const MAX_DOCKERFILE = 4 * 1024 * 1024;

export interface BuildContext {
  /** Host directory of the unpacked context; sources are resolved inside it only. */
  dir: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  dockerfileName: string;
}

/** Unpacks `body` into the (existing, empty) directory `dir`. */
export async function unpackContext(body: Readable, dir: string): Promise<void> {
  let tar: Readable;
  try {
    tar = await decompressLayer(body);
  } catch (err) {
    throw new InvalidParameterError(
      `the build context must be a tar archive: ${(err as Error).message}`,
    );
  }
  try {
    await applyLayer(tar, dir, { sameOwner: false });
  } catch (err) {
    throw new InvalidParameterError(`invalid build context: ${(err as Error).message}`);
  }
}

/** Reads the Dockerfile named by `-f` (relative to the context root). */
export async function readDockerfile(dir: string, name: string): Promise<BuildContext> {
  const candidates = name === 'Dockerfile' ? ['Dockerfile', 'dockerfile'] : [name];
  for (const c of candidates) {
    const data = await readFileInRoot(dir, `/${c}`, MAX_DOCKERFILE);
    if (data?.length === 0) {
      throw new InvalidParameterError(`the Dockerfile (${c}) cannot be empty`);
    }
    if (data) return { dir, dockerfile: data.toString('utf8'), dockerfileName: c };
  }
  throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name}`);
}

/** Deletes what `.dockerignore` excludes; returns the matcher (empty when there is none). */
export async function applyDockerignore(dir: string): Promise<IgnoreMatcher> {
  const text = await readFileInRoot(dir, '/.dockerignore');
  const matcher = IgnoreMatcher.parse(text?.toString('utf8') ?? '');
  if (matcher.empty) return matcher;
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const path = join(dir, childRel);
      const st = await lstat(path);
      const ignored = matcher.matches(childRel);
      if (st.isDirectory()) {
        // An ignored directory may still hold `!` exceptions: look inside then.
        if (ignored && !matcher.hasExclusions) await rm(path, { recursive: true, force: true });
        else await walk(childRel);
      } else if (ignored) await rm(path, { force: true });
    }
  };
  await walk('');
  return matcher;
}

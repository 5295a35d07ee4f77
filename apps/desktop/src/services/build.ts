/**
 * `docker build` of a folder, as the docker CLI's classic builder client does it: the folder is
 * sent as a tar (`.dockerignore` applied here, with the engine's own matcher; the Dockerfile and
 * .dockerignore always sent; owners 0:0) to `POST /build`, and the engine's JSON lines come
 * back as `build.output` events.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { z } from 'zod';
import { jsonMessages, type EngineClient } from '@berth/engine-client';
import { IgnoreMatcher } from '@berth/runtime/build/patterns.js';
import type { Handlers, ParsedParams } from '../shared/contract.js';
import type { Emit } from './session.js';

interface Entry {
  /** Context-relative, `/`-separated. */
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  mtime: Date;
  linkname?: string;
}

export interface PackedContext {
  tar: Readable;
  /** The `dockerfile` parameter to send: its path inside the tar. */
  dockerfile: string;
  /** The context-relative names sent, in tar order. */
  names: string[];
}

/** Whether `name`, a symlink at context-relative `from`, stays inside the context. */
function linkStaysInside(from: string, target: string): boolean {
  if (isAbsolute(target)) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(from), target));
  return resolved !== '..' && !resolved.startsWith('../');
}

async function walk(
  root: string,
  matcher: IgnoreMatcher,
  keep: ReadonlySet<string>,
): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (rel: string): Promise<void> => {
    const names = (await readdir(rel ? join(root, rel) : root)).sort();
    for (const n of names) {
      const name = rel ? `${rel}/${n}` : n;
      const path = join(root, name);
      const st = await lstat(path);
      const ignored = !keep.has(name) && matcher.matches(name);
      const base = { name, path, mode: st.mode & 0o7777, mtime: st.mtime, size: 0 };
      if (st.isDirectory()) {
        if (!ignored) out.push({ ...base, type: 'directory' });
        // An ignored directory may still hold `!` exceptions: look inside then.
        if (!ignored || matcher.hasExclusions) await visit(name);
      } else if (ignored) continue;
      else if (st.isSymbolicLink()) {
        const linkname = await readlink(path);
        if (!linkStaysInside(name, linkname))
          throw new Error(
            `${name} is a symbolic link to ${linkname}, outside the build context: refused`,
          );
        out.push({ ...base, type: 'symlink', linkname });
      } else if (st.isFile()) out.push({ ...base, type: 'file', size: st.size });
      // Sockets, FIFOs and devices are not sent, as the docker CLI skips them.
    }
  };
  await visit('');
  return out;
}

/**
 * The build context of folder `dir` as a tar stream. `dockerfile` is relative to `dir` or
 * absolute; one outside the folder is added under a random name, as the docker CLI does.
 */
export async function packContext(dir: string, dockerfile = 'Dockerfile'): Promise<PackedContext> {
  const root = resolve(dir);
  if (!(await stat(root)).isDirectory()) throw new Error(`${root} is not a folder`);
  const file = resolve(root, dockerfile);
  const rel = relative(root, file);
  const inside = rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  const dockerfileName = inside
    ? rel.split(sep).join('/')
    : `.dockerfile.${randomBytes(10).toString('hex')}`;
  const ignoreText = await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '');
  const matcher = IgnoreMatcher.parse(ignoreText);
  const entries = await walk(root, matcher, new Set([dockerfileName, '.dockerignore']));
  if (!inside) {
    const st = await stat(file);
    entries.push({
      name: dockerfileName,
      path: file,
      type: 'file',
      mode: st.mode & 0o777,
      size: st.size,
      mtime: st.mtime,
    });
  } else if (!entries.some((e) => e.name === dockerfileName && e.type !== 'directory'))
    throw new Error(`Cannot locate specified Dockerfile: ${dockerfile}`);

  const pack = tar.pack();
  const write = async (): Promise<void> => {
    for (const e of entries) {
      const header = {
        name: e.name,
        mode: e.mode,
        mtime: e.mtime,
        uid: 0,
        gid: 0,
        type: e.type,
        size: e.size,
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      };
      await new Promise<void>((done, fail) => {
        const cb = (err?: Error | null) => (err ? fail(err) : done());
        if (e.type !== 'file') {
          pack.entry(header, cb);
          return;
        }
        const sink = pack.entry(header, cb);
        const src = createReadStream(e.path);
        src.once('error', fail);
        src.pipe(sink);
      });
    }
    pack.finalize();
  };
  // tar-stream's pack is a streamx stream; HTTP bodies and callers want Node's.
  const out = new PassThrough();
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  write().catch((err: unknown) =>
    pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return { tar: out, dockerfile: dockerfileName, names: entries.map((e) => e.name) };
}

const buildMessageSchema = z.object({
  stream: z.string().optional(),
  aux: z.object({ ID: z.string().optional() }).loose().optional(),
  error: z.string().optional(),
  errorDetail: z.object({ message: z.string().optional() }).loose().optional(),
});

/** The query of POST /build; `t` repeats, so it is spelled here rather than JSON-encoded. */
function buildQuery(p: ParsedParams<'build.run'>, dockerfile: string): string {
  const q = new URLSearchParams();
  for (const t of p.tags) q.append('t', t);
  q.set('dockerfile', dockerfile);
  if (Object.keys(p.buildArgs).length) q.set('buildargs', JSON.stringify(p.buildArgs));
  if (Object.keys(p.labels).length) q.set('labels', JSON.stringify(p.labels));
  if (p.target) q.set('target', p.target);
  if (p.noCache) q.set('nocache', '1');
  if (p.pull) q.set('pull', '1');
  q.set('rm', '1');
  return q.toString();
}

/** Builds as the request says, the output as `build.output` events; resolves with the image. */
export async function runBuild(
  client: EngineClient,
  emit: Emit,
  p: ParsedParams<'build.run'>,
  signal?: AbortSignal,
): Promise<{ imageId: string; tags: string[] }> {
  if (!isAbsolute(p.context)) throw new Error('The folder must be an absolute path');
  let imageId: string | undefined;
  try {
    const ctx = await packContext(p.context, p.dockerfile);
    const res = await client.raw({
      method: 'POST',
      path: `/build?${buildQuery(p, ctx.dockerfile)}`,
      headers: { 'Content-Type': 'application/x-tar' },
      body: ctx.tar,
      signal,
    });
    for await (const raw of jsonMessages(res)) {
      const m = buildMessageSchema.safeParse(raw);
      if (!m.success) continue;
      const error = m.data.errorDetail?.message ?? m.data.error;
      if (error !== undefined) {
        emit('build.output', { buildId: p.buildId, error });
        throw new Error(error);
      }
      if (m.data.aux?.ID) imageId = m.data.aux.ID;
      if (m.data.stream !== undefined || m.data.aux?.ID)
        emit('build.output', {
          buildId: p.buildId,
          stream: m.data.stream,
          imageId: m.data.aux?.ID,
        });
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
  // Cancelling destroys the request: the stream fails or just ends; say which it was.
  if (signal?.aborted) throw new Error('The build was cancelled');
  if (!imageId) throw new Error('The build ended without an image');
  return { imageId, tags: p.tags };
}

export interface BuildHooks {
  /** A signal that `stream.cancel` of `streamId` (or the session's end) aborts; release it after. */
  track(streamId: string): { signal: AbortSignal; release(): void };
  /** The native folder picker, where there is one (Electron). */
  pickFolder?: () => Promise<string | null>;
}

export function buildHandlers(
  client: EngineClient,
  emit: Emit,
  hooks: BuildHooks,
): Pick<Handlers, 'build.run' | 'dialog.pickFolder'> {
  return {
    'build.run': async (p) => {
      const tracked = hooks.track(p.buildId);
      try {
        return await runBuild(client, emit, p, tracked.signal);
      } finally {
        tracked.release();
      }
    },
    'dialog.pickFolder': () => hooks.pickFolder?.() ?? Promise.resolve(null),
  };
}

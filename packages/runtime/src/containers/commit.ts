/**
 * `docker commit`: a new image from a container's changes. The container's overlay upper dir
 * becomes one gzip layer (whiteouts written back as `.wh.` entries, the runtime's mount-point
 * stubs left out), stored in the content store and unpacked as the snapshot of the new chain
 * ID; the config is the container's Config (with the request's overrides and `--change`
 * instructions) over the parent's rootfs and history, as moby's image_commit.go builds it.
 * An empty diff adds no layer, only a history entry marked empty_layer.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { InvalidParameterError, SystemError } from '../api/errors.js';
import type { Engine } from '../engine.js';
import { normalizeRef } from '../images/image-store.js';
import { familiar, readImageConfig } from '../images/inspect.js';
import {
  chainIds,
  type ContainerConfig,
  type Descriptor,
  type Digest,
  type ImageConfig,
  MediaTypes,
  manifestSchema,
} from '../images/oci.js';
import { jsonArray } from '../build/dockerfile.js';
import { storeImage } from '../images/store-image.js';
import { packTree } from './archive.js';
import { mountPointsOf, mountStubs } from './changes.js';
import type { ContainerView } from './service.js';

/** What commit needs of the container service (ContainerService provides it). */
export interface CommitContainers {
  get(idOrName: string): ContainerView;
  pause(idOrName: string): Promise<void>;
  unpause(idOrName: string): Promise<void>;
  spec(id: string): Promise<unknown>;
}

export interface CommitRequest {
  container: string;
  repo?: string | undefined;
  tag?: string | undefined;
  comment?: string | undefined;
  author?: string | undefined;
  /** Freeze a running container while its layer is read (default true). */
  pause: boolean;
  /** Dockerfile instructions (`--change`). */
  changes: string[];
  /** The request body: Config fields that override the container's. */
  config?: Record<string, unknown> | null | undefined;
}

// ---- --change ----------------------------------------------------------------------------

const VALID_CHANGES = new Set([
  'cmd',
  'entrypoint',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);
const OTHER_INSTRUCTIONS = new Set([
  'from',
  'run',
  'copy',
  'add',
  'arg',
  'shell',
  'maintainer',
  'healthcheck',
]);

/** Splits Dockerfile words: quotes group, backslash escapes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length && quote !== "'") {
      cur += s[++i];
      any = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (quote)
    throw new InvalidParameterError(
      `unexpected end of statement while looking for matching ${quote}`,
    );
  if (any) out.push(cur);
  return out;
}

/** `k=v k2="v 2"`, or the legacy `k v with spaces` form (ENV, LABEL). */
function keyValues(rest: string, what: string): Array<[string, string]> {
  const parts = words(rest);
  if (parts.length === 0) throw new InvalidParameterError(`${what} requires at least one argument`);
  if (!(parts[0] ?? '').includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m) throw new InvalidParameterError(`${what} must have two arguments`);
    return [[m[1] ?? '', (m[2] ?? '').trim()]];
  }
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InvalidParameterError(`${what} names can not be blank`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

function commandForm(rest: string, shell: readonly string[]): string[] {
  return jsonArray(rest) ?? [...shell, rest.trim()];
}

/** Applies Dockerfile instructions to an image's container config (moby's BuildFromConfig). */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out: ContainerConfig = structuredClone(config);
  for (const raw of changes) {
    for (const line of raw.split('\n')) {
      const text = line.trim();
      if (text === '' || text.startsWith('#')) continue;
      const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
      const keyword = (m?.[1] ?? '').toLowerCase();
      const rest = m?.[2] ?? '';
      if (!VALID_CHANGES.has(keyword)) {
        if (OTHER_INSTRUCTIONS.has(keyword)) {
          throw new InvalidParameterError(`${keyword.toUpperCase()} is not a valid change command`);
        }
        throw new InvalidParameterError(
          `dockerfile parse error line 1: unknown instruction: ${(m?.[1] ?? '').toUpperCase()}`,
        );
      }
      const shell = out.Shell?.length ? out.Shell : ['/bin/sh', '-c'];
      switch (keyword) {
        case 'cmd':
          out.Cmd = commandForm(rest, shell);
          break;
        case 'entrypoint':
          out.Entrypoint = rest.trim() === '' ? null : commandForm(rest, shell);
          break;
        case 'env': {
          const env = [...(out.Env ?? [])];
          for (const [k, v] of keyValues(rest, 'ENV')) {
            const i = env.findIndex((e) => e.split('=')[0] === k);
            if (i >= 0) env[i] = `${k}=${v}`;
            else env.push(`${k}=${v}`);
          }
          out.Env = env;
          break;
        }
        case 'label':
          out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(rest, 'LABEL')) };
          break;
        case 'expose': {
          const ports = { ...(out.ExposedPorts ?? {}) };
          for (const p of words(rest)) {
            const pm = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(p);
            if (!pm) throw new InvalidParameterError(`Invalid containerPort: ${p}`);
            ports[`${pm[1]}/${(pm[2] ?? 'tcp').toLowerCase()}`] = {};
          }
          out.ExposedPorts = ports;
          break;
        }
        case 'volume': {
          const vols = { ...(out.Volumes ?? {}) };
          for (const v of jsonArray(rest) ?? words(rest)) {
            if (v.trim() === '')
              throw new InvalidParameterError('VOLUME specified can not be an empty string');
            vols[v] = {};
          }
          out.Volumes = vols;
          break;
        }
        case 'user':
          out.User = rest.trim();
          break;
        case 'workdir': {
          const wd = words(rest)[0] ?? '';
          out.WorkingDir = posix.isAbsolute(wd) ? wd : posix.join('/', out.WorkingDir ?? '/', wd);
          break;
        }
        case 'stopsignal':
          out.StopSignal = rest.trim();
          break;
        case 'onbuild':
          out.OnBuild = [...(out.OnBuild ?? []), rest.trim()];
          break;
      }
    }
  }
  return out;
}

/** moby's merge(userConf, containerConfig): the request's non-empty fields win. */
function mergeConfig(
  container: Record<string, unknown>,
  user: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const out = { ...container };
  for (const [k, v] of Object.entries(user ?? {})) {
    const empty =
      v === undefined ||
      v === null ||
      v === '' ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
    if (!empty) out[k] = v;
  }
  return out;
}

// ---- the layer ---------------------------------------------------------------------------

class Hashing extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
}

/** The tar of an empty layer: just the two end-of-archive blocks. */
const EMPTY_TAR_SIZE = 1024;

interface WrittenLayer {
  diffId: Digest;
  blob: { digest: Digest; size: number };
  empty: boolean;
}

async function writeLayer(
  upper: string,
  exclude: ReadonlySet<string>,
  file: string,
): Promise<WrittenLayer> {
  const tarHash = new Hashing();
  const gzHash = new Hashing();
  await pipeline(
    packTree(upper, { whiteouts: true, exclude: (rel) => exclude.has(rel) }),
    tarHash,
    createGzip(),
    gzHash,
    createWriteStream(file, { mode: 0o600 }),
  );
  return {
    diffId: `sha256:${tarHash.hash.digest('hex')}`,
    blob: { digest: `sha256:${gzHash.hash.digest('hex')}`, size: gzHash.size },
    empty: tarHash.size <= EMPTY_TAR_SIZE,
  };
}

// ---- commit ------------------------------------------------------------------------------

/** The Config fields an image keeps (moby stores the container's whole Config). */
function imageContainerConfig(config: Record<string, unknown>): ContainerConfig {
  const c = { ...config };
  delete c.Image;
  return c;
}

function parseTarget(repo: string | undefined, tag: string | undefined): string | undefined {
  if (!repo) {
    if (tag) throw new InvalidParameterError('invalid reference: tag without repository');
    return undefined;
  }
  if (repo.includes('@')) throw new InvalidParameterError('cannot commit to digest reference');
  // A repo "name:tag" given whole is split by the client; here the tag query wins.
  return normalizeRef(tag ? `${repo}:${tag}` : repo);
}

export async function commitContainer(
  engine: Engine,
  containers: CommitContainers,
  req: CommitRequest,
): Promise<{ Id: Digest }> {
  const view = containers.get(req.container);
  const ref = parseTarget(req.repo, req.tag);
  const changesConfig = applyChanges(
    imageContainerConfig(mergeConfig(view.record.Config, req.config)),
    req.changes,
  );

  const parentId = view.record.Image;
  const parent = await readImageConfig(engine.content, parentId);
  const parentRecord = await engine.images.get(parentId);
  let parentLayers: Descriptor[] = [];
  if (parentRecord?.manifest) {
    const manifest = manifestSchema.parse(
      JSON.parse((await engine.content.read(parentRecord.manifest.digest)).toString('utf8')),
    );
    parentLayers = manifest.layers;
  } else if (parent.rootfs.diff_ids.length > 0) {
    throw new SystemError(`the manifest of image ${parentId} is missing`);
  }

  const pause = req.pause && view.running && !view.paused;
  const spool = join(view.bundle, `.commit-${randomBytes(8).toString('hex')}.tar.gz`);
  try {
    if (pause) await containers.pause(view.id);
    let layer: WrittenLayer;
    try {
      const lowers = await view.lowerDirs();
      const stubs = await mountStubs(
        view.upperDir,
        lowers,
        await mountPointsOf(containers, view.id),
      );
      layer = await writeLayer(view.upperDir, stubs, spool);
    } finally {
      if (pause) await containers.unpause(view.id).catch(() => undefined);
    }

    const diffIds = layer.empty
      ? parent.rootfs.diff_ids
      : [...parent.rootfs.diff_ids, layer.diffId];
    const layers = layer.empty
      ? parentLayers
      : [
          ...parentLayers,
          { mediaType: MediaTypes.ociLayerGzip, digest: layer.blob.digest, size: layer.blob.size },
        ];
    if (!layer.empty) {
      await engine.content.ingest(layer.blob, () => Promise.resolve(createReadStream(spool)));
      const chain = chainIds(diffIds);
      const top = chain[chain.length - 1] as Digest;
      if (!(await engine.snapshots.stat(top))) {
        await engine.snapshots.unpack(top, chain[chain.length - 2], {
          stream: createReadStream(spool),
          diffId: layer.diffId,
        });
      }
    }

    const created = new Date().toISOString();
    const cfg = view.record.Config as { Cmd?: string[] | null };
    const config: ImageConfig = {
      architecture: parent.architecture,
      os: parent.os,
      ...(parent.variant ? { variant: parent.variant } : {}),
      created,
      ...(req.author ? { author: req.author } : {}),
      config: changesConfig,
      container: view.id,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [
        ...(parent.history ?? []),
        {
          created,
          ...(req.author ? { author: req.author } : {}),
          created_by: (cfg.Cmd ?? []).join(' '),
          ...(req.comment ? { comment: req.comment } : {}),
          ...(layer.empty ? { empty_layer: true } : {}),
        },
      ],
    };
    const id = await storeImage(engine, config, layers, created);
    if (ref) {
      await engine.images.tag(id, ref);
      engine.events.emit('image', 'tag', id, { name: familiar(ref) });
    }
    engine.events.emit('container', 'commit', view.id, {
      ...(view.record.Config.Labels ?? {}),
      comment: req.comment ?? '',
      imageID: id,
      imageRef: ref ? familiar(ref) : '',
      image: view.record.Config.Image ?? view.record.Image,
      name: view.name.replace(/^\//, ''),
    });
    return { Id: id };
  } finally {
    await rm(spool, { force: true });
  }
}

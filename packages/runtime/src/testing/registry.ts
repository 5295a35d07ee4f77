/**
 * A real OCI distribution registry (Debian's `docker-registry`, CNCF distribution 2.x) on
 * 127.0.0.1, with its storage in a temp dir. Tests push test images to it and berthd pulls
 * from it over plain HTTP (allowed for loopback).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MediaTypes,
  digestSchema,
  imageConfigSchema,
  indexSchema,
  isIndexMediaType,
  manifestSchema,
} from '../images/oci.js';
import type { Digest, ImageConfig, Manifest } from '../images/oci.js';
import { freePort, spawnDaemon, stopChild, tempDir, waitFor } from './process.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  storageDir: string;
  /** Registry output so far (warnings and errors only). */
  logs(): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';

function config(storageDir: string, port: number): string {
  // JSON is valid YAML, so no YAML writer is needed.
  return JSON.stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
  });
}

async function startOnce(port: number): Promise<Registry> {
  const dir = tempDir('registry');
  const storageDir = join(dir.path, 'storage');
  const configPath = join(dir.path, 'config.yml');
  writeFileSync(configPath, config(storageDir, port));
  const { child, output } = spawnDaemon(REGISTRY_BIN, ['serve', configPath]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    dir.remove();
  };
  try {
    await waitFor(
      `docker-registry on ${url}`,
      async () => {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      {
        timeoutMs: 10_000,
        giveUp: () => (child.exitCode === null ? undefined : `exited: ${output().trim()}`),
      },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { host: `127.0.0.1:${port}`, url, storageDir, logs: output, stop };
}

/** Starts a registry on a free loopback port; retries once if another process took the port. */
export async function startRegistry(): Promise<Registry> {
  try {
    return await startOnce(await freePort());
  } catch {
    return await startOnce(await freePort());
  }
}

const ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifest,
].join(', ');

async function getJson(
  url: string,
): Promise<{ body: unknown; digest: string | null; type: string | null }> {
  const res = await fetch(url, {
    headers: { accept: ACCEPT },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return {
    body: await res.json(),
    digest: res.headers.get('docker-content-digest'),
    type: res.headers.get('content-type'),
  };
}

/** What a registry says about one image: the expected outcome of pulling it. */
export interface RegistryImage {
  /** Digest of the manifest the tag (or digest) names; for an index, the index's digest. */
  digest: Digest;
  /** Digest of the platform manifest actually chosen. */
  manifestDigest: Digest;
  manifest: Manifest;
  /** = the image ID an engine must report. */
  configDigest: Digest;
  config: ImageConfig;
}

/**
 * Reads `repo:reference` from the registry at `url` the way a puller would, choosing
 * `linux/<architecture>` from an index (default amd64).
 */
export async function readRegistryImage(
  url: string,
  repo: string,
  reference: string,
  architecture = 'amd64',
): Promise<RegistryImage> {
  const top = await getJson(`${url}/v2/${repo}/manifests/${reference}`);
  const digest = digestSchema.parse(top.digest);
  let manifestDigest = digest;
  let manifestBody = top.body;
  if (isIndexMediaType(top.type ?? undefined)) {
    const index = indexSchema.parse(top.body);
    const chosen = index.manifests.find(
      (m) => m.platform?.os === 'linux' && m.platform.architecture === architecture,
    );
    if (chosen === undefined) throw new Error(`${repo}:${reference} has no linux/${architecture}`);
    manifestDigest = chosen.digest;
    manifestBody = (await getJson(`${url}/v2/${repo}/manifests/${chosen.digest}`)).body;
  }
  const manifest = manifestSchema.parse(manifestBody);
  const configRes = await fetch(`${url}/v2/${repo}/blobs/${manifest.config.digest}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const config = imageConfigSchema.parse(await configRes.json());
  return { digest, manifestDigest, manifest, configDigest: manifest.config.digest, config };
}

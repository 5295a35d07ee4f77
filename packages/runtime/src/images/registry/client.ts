/**
 * A client of one registry's OCI distribution API (`/v2/`): manifests, blobs, uploads. It
 * authenticates on demand: the first request pings `/v2/`, learns the challenge, and every
 * request then carries Basic credentials or a Bearer token for the scopes it needs; a 401
 * later (new challenge, expired token) is retried once with fresh authorization.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { SystemError } from '../../api/errors.js';
import type { BlobInfo } from '../content-store.js';
import { type Digest, isDigest, MediaTypes, sha256Digest } from '../oci.js';
import { registryApiHost } from '../reference.js';
import { countBytes } from '../transfer.js';
import {
  Authorizer,
  type Challenge,
  parseChallenges,
  type RegistryAuth,
  repositoryScope,
} from './auth.js';
import { registryErrorFrom } from './errors.js';
import { discardBody, readBody, registryScheme, send } from './transport.js';

export interface RegistryClientOptions {
  auth?: RegistryAuth | undefined;
  /** Registries (host or host:port) reachable over plain HTTP besides loopback ones. */
  insecureRegistries?: readonly string[] | undefined;
}

export interface FetchedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

/** What `GET/HEAD manifests` accepts: indexes and manifests, OCI and Docker. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifest,
].join(', ');

/** containerd's limit: a manifest or index larger than this is refused. */
export const MANIFEST_SIZE_LIMIT = 4 << 20;
const MAX_REDIRECTS = 5;

interface RequestSpec {
  method: string;
  /** Path below the registry root ("/v2/…"), or an absolute URL the registry handed out. */
  target: string;
  scopes: readonly string[];
  headers?: OutgoingHttpHeaders;
  /** Opens the body anew for each attempt (a retry after 401 needs a fresh stream). */
  body?: () => Promise<Buffer | Readable>;
  signal?: AbortSignal | undefined;
}

type PullOrPush = 'pull' | 'pull,push';

export class RegistryClient {
  /** e.g. "https://registry-1.docker.io" */
  readonly baseUrl: string;
  private readonly authorizer: Authorizer;
  private challenge: Challenge | undefined;
  private pinged: Promise<void> | undefined;

  constructor(
    /** The registry as named in references ("docker.io", "localhost:5000"). */
    readonly domain: string,
    opts: RegistryClientOptions = {},
  ) {
    const host = registryApiHost(domain);
    this.baseUrl = `${registryScheme(host, opts.insecureRegistries)}://${host}`;
    this.authorizer = new Authorizer(opts.auth);
  }

  /** Fetches a manifest or index by tag or digest, verifying its bytes against the digest. */
  async getManifest(
    path: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest> {
    const req = this.manifestRequest('GET', path, reference, signal);
    const res = await this.request(req);
    if (res.statusCode !== 200) throw await this.failure(res, req, 'MANIFEST_UNKNOWN');
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MANIFEST_SIZE_LIMIT) {
      res.destroy();
      throw new SystemError(`manifest ${reference} is too large (${length} bytes)`);
    }
    const bytes = await readBody(res, MANIFEST_SIZE_LIMIT);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new SystemError(`manifest verification failed for digest ${reference}`);
    }
    const announced = res.headers['docker-content-digest'];
    if (typeof announced === 'string' && announced.startsWith('sha256:') && announced !== digest) {
      throw new SystemError(
        `manifest verification failed: registry sent digest ${announced} for content ${digest}`,
      );
    }
    return { digest, mediaType: manifestMediaType(bytes, res), bytes };
  }

  /** The descriptor of a manifest (HEAD), or undefined when the registry does not have it. */
  async headManifest(
    path: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    const req = this.manifestRequest('HEAD', path, reference, signal);
    const res = await this.request(req);
    await discardBody(res);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await this.failure(res, req, 'MANIFEST_UNKNOWN');
    const digest = res.headers['docker-content-digest'];
    if (typeof digest !== 'string' || !isDigest(digest)) return undefined;
    const mediaType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    return { digest, mediaType, size: Number(res.headers['content-length'] ?? 0) };
  }

  /** A blob's bytes as a stream, following (a bounded number of) redirects to storage. */
  async getBlob(path: string, digest: Digest, signal?: AbortSignal): Promise<Readable> {
    assertDigest(digest);
    const req: RequestSpec = {
      method: 'GET',
      target: `/v2/${path}/blobs/${digest}`,
      scopes: [this.scope(path, 'pull')],
      signal,
    };
    let res = await this.request(req);
    let current = this.url(req.target);
    for (let hops = 0; isRedirect(res.statusCode); hops++) {
      const location = res.headers.location;
      await discardBody(res);
      if (hops >= MAX_REDIRECTS || !location) {
        throw new SystemError(`Get "${this.url(req.target).href}": too many redirects`);
      }
      // Redirects point at storage (S3, a CDN): our registry credentials must not go there.
      current = new URL(location, current);
      if (current.protocol !== 'https:' && current.protocol !== 'http:') {
        throw new SystemError(`refusing redirect to ${current.protocol} URL`);
      }
      res = await send({ method: 'GET', url: current, signal });
    }
    if (res.statusCode !== 200) throw await this.failure(res, req, 'BLOB_UNKNOWN');
    return res;
  }

  /** True when the repository already has the blob. */
  async blobExists(path: string, digest: Digest, signal?: AbortSignal): Promise<boolean> {
    assertDigest(digest);
    const req: RequestSpec = {
      method: 'HEAD',
      target: `/v2/${path}/blobs/${digest}`,
      scopes: [this.scope(path, 'pull,push')],
      signal,
    };
    const res = await this.request(req);
    await discardBody(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await this.failure(res, req);
  }

  /**
   * Starts an upload of `digest` into `path`, asking the registry to mount it from
   * repository `from` when given. Returns "mounted" (201: nothing to upload) or the upload
   * location (202: the registry wants the bytes).
   */
  async startUpload(
    path: string,
    digest: Digest,
    from: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    assertDigest(digest);
    let target = `/v2/${path}/blobs/uploads/`;
    const scopes = [this.scope(path, 'pull,push')];
    if (from !== undefined && from !== path) {
      target += `?${new URLSearchParams({ mount: digest, from }).toString()}`;
      scopes.push(this.scope(from, 'pull'));
    }
    const req: RequestSpec = {
      method: 'POST',
      target,
      scopes,
      headers: { 'content-length': '0' },
      signal,
    };
    const res = await this.request(req);
    if (res.statusCode === 201 && from !== undefined) {
      await discardBody(res);
      return { mounted: true };
    }
    const location = res.headers.location;
    if (res.statusCode !== 202 || !location) throw await this.failure(res, req);
    await discardBody(res);
    return { mounted: false, location };
  }

  /**
   * Uploads a blob: POST (or a mount attempt when `from` is given), then the bytes in one
   * PATCH and the closing PUT with the digest. Returns "mounted" when the mount worked.
   */
  async pushBlob(
    path: string,
    blob: BlobInfo,
    open: () => Promise<Readable>,
    opts: {
      from?: string | undefined;
      onProgress?: (sent: number, total: number) => void;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<'mounted' | 'uploaded'> {
    const started = await this.startUpload(path, blob.digest, opts.from, opts.signal);
    if (started.mounted) return 'mounted';
    const scopes = [this.scope(path, 'pull,push')];
    const patch: RequestSpec = {
      method: 'PATCH',
      target: started.location,
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: async () => {
        const source = await open();
        return opts.onProgress ? countBytes(source, blob.size, opts.onProgress) : source;
      },
      signal: opts.signal,
    };
    const patched = await this.request(patch);
    const next = patched.headers.location;
    if (patched.statusCode !== 202 || !next) throw await this.failure(patched, patch);
    await discardBody(patched);
    const putUrl = new URL(next, this.baseUrl);
    putUrl.searchParams.set('digest', blob.digest);
    const put: RequestSpec = {
      method: 'PUT',
      target: putUrl.href,
      scopes,
      headers: { 'content-length': '0' },
      signal: opts.signal,
    };
    const res = await this.request(put);
    if (res.statusCode !== 201) throw await this.failure(res, put);
    await discardBody(res);
    return 'uploaded';
  }

  /** Stores a manifest under a tag (or its digest); returns its digest. */
  async putManifest(
    path: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<Digest> {
    const req: RequestSpec = {
      method: 'PUT',
      target: `/v2/${path}/manifests/${encodeURIComponent(reference)}`,
      scopes: [this.scope(path, 'pull,push')],
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => Promise.resolve(bytes),
      signal,
    };
    const res = await this.request(req);
    if (res.statusCode !== 201) throw await this.failure(res, req);
    await discardBody(res);
    return sha256Digest(bytes);
  }

  private manifestRequest(
    method: 'GET' | 'HEAD',
    path: string,
    reference: string,
    signal?: AbortSignal,
  ): RequestSpec {
    return {
      method,
      target: `/v2/${path}/manifests/${encodeURIComponent(reference)}`,
      scopes: [this.scope(path, 'pull')],
      headers: { accept: MANIFEST_ACCEPT },
      signal,
    };
  }

  private scope(path: string, actions: PullOrPush): string {
    return repositoryScope(path, actions);
  }

  private url(target: string): URL {
    return new URL(target, this.baseUrl);
  }

  private failure(res: IncomingMessage, req: RequestSpec, notFoundCode?: string): Promise<Error> {
    return registryErrorFrom(res, { method: req.method, url: this.url(req.target) }, notFoundCode);
  }

  /** Learns how the registry wants us to authenticate (once per client). */
  private ping(signal?: AbortSignal): Promise<void> {
    this.pinged ??= (async () => {
      const url = this.url('/v2/');
      const res = await send({ method: 'GET', url, signal });
      await discardBody(res);
      if (res.statusCode === 401) this.challenge = pickChallenge(res);
      else if (res.statusCode !== 200) {
        throw new SystemError(`Get "${url.href}": unexpected status code ${res.statusCode ?? 0}`);
      }
    })().catch((err: unknown) => {
      this.pinged = undefined;
      throw err;
    });
    return this.pinged;
  }

  /** One authenticated request; a 401 is retried once with the challenge it carried. */
  private async request(req: RequestSpec): Promise<IncomingMessage> {
    await this.ping(req.signal);
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorizer.authorization(
        this.challenge,
        req.scopes,
        req.signal,
      );
      const headers: OutgoingHttpHeaders = { ...req.headers };
      if (authorization) headers['authorization'] = authorization;
      const res = await send({
        method: req.method,
        url: this.url(req.target),
        headers,
        body: req.body ? await req.body() : undefined,
        signal: req.signal,
      });
      if (res.statusCode !== 401 || attempt > 0) return res;
      const challenge = pickChallenge(res);
      if (!challenge) return res;
      await discardBody(res);
      this.challenge = challenge;
      this.authorizer.invalidate();
    }
  }
}

function pickChallenge(res: IncomingMessage): Challenge | undefined {
  const all = parseChallenges(res.headers['www-authenticate']);
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function assertDigest(digest: string): void {
  if (!isDigest(digest)) throw new SystemError(`invalid digest: ${String(digest)}`);
}

/** The document's own mediaType, else the Content-Type, else guessed from its fields. */
function manifestMediaType(bytes: Buffer, res: IncomingMessage): string {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SystemError('invalid manifest: not JSON');
  }
  if (typeof doc === 'object' && doc !== null) {
    const mt = (doc as { mediaType?: unknown }).mediaType;
    if (typeof mt === 'string' && mt !== '') return mt;
    const header = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (header !== '' && header !== 'application/json' && header !== 'text/plain') return header;
    if ('manifests' in doc) return MediaTypes.ociIndex;
    if ('config' in doc) return MediaTypes.ociManifest;
  }
  throw new SystemError('invalid manifest: unknown media type');
}

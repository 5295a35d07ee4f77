/**
 * Docker image references, parsed and normalised as docker/distribution's
 * `reference.ParseNormalizedNamed` does: `busybox` → `docker.io/library/busybox`, a first
 * component is a registry domain only when it contains `.` or `:`, is `localhost`, or has
 * upper-case letters (which a repository path cannot).
 *
 * Terms: *domain* is the registry as users write it (`docker.io`, `localhost:5000`); *path* is
 * the repository inside it (`library/busybox`); the *API host* is where requests go
 * (`registry-1.docker.io` for Docker Hub).
 */
import { InvalidParameterError } from '../api/errors.js';
import { type Digest, isDigest } from './oci.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_MAX = 255;

// The grammar of distribution/reference/regexp.go.
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})(?::[0-9]+)?`;
const alphanumeric = '[a-z0-9]+';
const pathComponent = `${alphanumeric}(?:(?:[._]|__|[-]+)${alphanumeric})*`;
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE_RE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const TAG_RE = new RegExp(`^${tagPattern}$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;

export interface Reference {
  /** Registry as named by users, e.g. "docker.io", "localhost:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: Digest;
}

const invalid = (detail?: string): InvalidParameterError =>
  new InvalidParameterError(
    detail ? `invalid reference format: ${detail}` : 'invalid reference format',
  );

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain = DEFAULT_DOMAIN;
  let remainder = name;
  if (i !== -1) {
    const first = name.slice(0, i);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      remainder = name.slice(i + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return { domain, remainder };
}

function parseDigest(s: string): Digest {
  const [algorithm, hex = ''] = s.split(':', 2);
  if (algorithm !== 'sha256') throw new InvalidParameterError('unsupported digest algorithm');
  if (hex.length !== 64) throw new InvalidParameterError('invalid checksum digest length');
  const digest = `sha256:${hex}`;
  if (!isDigest(digest)) throw new InvalidParameterError('invalid checksum digest format');
  return digest;
}

/**
 * Parses what a user typed into a fully qualified reference. No default tag is added (see
 * `withDefaultTag`). Throws InvalidParameterError with distribution's texts.
 */
export function parseReference(s: string): Reference {
  if (ANCHORED_ID_RE.test(s)) {
    throw new InvalidParameterError(
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  if (s === '') throw invalid();
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remoteName.toLowerCase() !== remoteName) throw invalid('repository name must be lowercase');

  const full = `${domain}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (!m) {
    if (REFERENCE_RE.test(full.toLowerCase())) throw invalid('repository name must be lowercase');
    throw invalid();
  }
  const name = m[1] ?? '';
  if (name.length > NAME_TOTAL_MAX) {
    throw new InvalidParameterError(
      `repository name must not be more than ${NAME_TOTAL_MAX} characters`,
    );
  }
  const ref: Reference = { domain, path: name.slice(domain.length + 1) };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = parseDigest(m[3]);
  return ref;
}

/** Adds tag "latest" when the reference has neither tag nor digest (Docker's TagNameOnly). */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/** Parses and adds the default tag: what `docker pull busybox` means. */
export function parseNormalizedTagged(s: string): Reference {
  return withDefaultTag(parseReference(s));
}

/** Checks a tag on its own (the `tag` query parameter of the API). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** "docker.io/library/busybox": the repository without tag or digest. */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The fully qualified string: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:…". */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The repository as Docker displays it: docker.io/library/busybox → "busybox", docker.io/u/app → "u/app". */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) &&
    !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
}

/** The reference as Docker displays it: "busybox:latest", "localhost:5000/x@sha256:…". */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Where the registry API of `domain` is served: Docker Hub's differs from its name. */
export function registryApiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
}

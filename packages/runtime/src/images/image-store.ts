/**
 * The engine's image metadata (moby's "image store" + "reference store"): which images exist
 * and which names point at them. Image bytes live in the ContentStore and unpacked layers in
 * the Snapshotter; this store only records, per image ID (the config digest), the manifest it
 * came from and its names.
 *
 * Terms: a *tag reference* is a normalised `registry/repo:tag` ("docker.io/library/busybox:latest");
 * a *digest reference* is `registry/repo@sha256:…` (Docker's RepoDigests). Contract: `put` and
 * name changes are written atomically (temp file + rename) so a crash never leaves a record
 * half-written; records whose config blob is missing are dropped by `repair()`.
 */
import type { Descriptor, Digest } from './oci.js';

export interface ImageRecord {
  /** The image ID: digest of the config blob. */
  id: Digest;
  /** The manifest this image was pulled or loaded as, when there is one (needed to push). */
  manifest?: Descriptor;
  /** For an image that came from an index: the index's digest, for RepoDigests. */
  indexDigest?: Digest;
  /** Normalised tag references, e.g. "docker.io/library/busybox:latest". */
  repoTags: string[];
  /** Normalised digest references, e.g. "docker.io/library/busybox@sha256:…". */
  repoDigests: string[];
  /** When the image was stored here (RFC 3339). */
  stored: string;
  /** When a tag was last added (RFC 3339), Docker's Metadata.LastTagTime. */
  lastTagTime?: string;
}

export interface ImageStore {
  repair(): Promise<void>;
  get(id: Digest): Promise<ImageRecord | undefined>;
  list(): Promise<ImageRecord[]>;
  /**
   * Finds an image by what a user types: a name with or without tag (normalised here), a
   * digest reference, a full image ID (`sha256:…`) or an unambiguous ID prefix (≥ 1 hex char,
   * as Docker allows). Undefined when nothing matches.
   */
  lookup(nameOrId: string): Promise<ImageRecord | undefined>;
  /** Records an image (or merges names into an existing record with the same ID). */
  put(record: ImageRecord): Promise<ImageRecord>;
  /** Points tag reference `ref` at image `id`, moving it from any other image. */
  tag(id: Digest, ref: string): Promise<void>;
  /** Removes one tag or digest reference; returns the image it pointed at. */
  untag(ref: string): Promise<ImageRecord | undefined>;
  delete(id: Digest): Promise<void>;
}

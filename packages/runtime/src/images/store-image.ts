/**
 * Stores an image the engine made itself (commit, build): its config and an OCI manifest over
 * `layers` go into the content store, and an untagged image record names them. The layers
 * must already be in the content store; the image ID is the config's digest.
 */
import type { Engine } from '../engine.js';
import { type Descriptor, type Digest, type ImageConfig, MediaTypes } from './oci.js';

export async function storeImage(
  engine: Engine,
  config: ImageConfig,
  layers: Descriptor[],
  stored: string = new Date().toISOString(),
): Promise<Digest> {
  const configBlob = await engine.content.put(Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers,
  };
  const manifestBlob = await engine.content.put(Buffer.from(JSON.stringify(manifest)));
  await engine.images.put({
    id: configBlob.digest,
    manifest: {
      mediaType: MediaTypes.ociManifest,
      digest: manifestBlob.digest,
      size: manifestBlob.size,
    },
    repoTags: [],
    repoDigests: [],
    stored,
  });
  return configBlob.digest;
}

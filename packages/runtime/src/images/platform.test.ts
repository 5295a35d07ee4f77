import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Descriptor } from './oci.js';
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  platformMatches,
  selectManifest,
} from './platform.js';

const desc = (platform: string, n: number): Descriptor => {
  const [os = '', architecture = '', variant] = platform.split('/');
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  };
};

describe('platforms', () => {
  it('maps node arches to OCI names', () => {
    assert.equal(formatPlatform(hostPlatform('x64')), 'linux/amd64');
    assert.equal(formatPlatform(hostPlatform('arm64')), 'linux/arm64/v8');
    assert.equal(formatPlatform(hostPlatform('ia32')), 'linux/386');
    assert.equal(formatPlatform(hostPlatform('ppc64')), 'linux/ppc64le');
  });

  it('parses --platform values like containerd', () => {
    assert.equal(formatPlatform(parsePlatform('linux/amd64')), 'linux/amd64');
    assert.equal(formatPlatform(parsePlatform('linux/x86_64')), 'linux/amd64');
    assert.equal(formatPlatform(parsePlatform('linux/aarch64')), 'linux/arm64/v8');
    assert.equal(formatPlatform(parsePlatform('arm64')), 'linux/arm64/v8');
    assert.equal(formatPlatform(parsePlatform('linux/arm')), 'linux/arm/v7');
    assert.equal(formatPlatform(parsePlatform('Linux/ARM/v6')), 'linux/arm/v6');
    assert.throws(() => parsePlatform('linux/amd64/v2/x'), /invalid argument/);
    assert.throws(() => parsePlatform('linux/am d64'), { name: 'InvalidParameterError' });
  });

  it('treats arm64 and arm64/v8 as one and accepts older arm variants', () => {
    assert.ok(
      platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' }),
    );
    assert.ok(
      platformMatches(parsePlatform('linux/arm64'), {
        os: 'linux',
        architecture: 'arm64',
        variant: 'v8',
      }),
    );
    assert.ok(
      platformMatches(parsePlatform('linux/arm/v7'), {
        os: 'linux',
        architecture: 'arm',
        variant: 'v6',
      }),
    );
    assert.ok(
      !platformMatches(parsePlatform('linux/arm/v6'), {
        os: 'linux',
        architecture: 'arm',
        variant: 'v7',
      }),
    );
    assert.ok(
      !platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' }),
    );
  });

  it('selects the exact platform first, then the closest compatible one', () => {
    const index = [
      desc('linux/arm/v6', 1),
      desc('linux/amd64', 2),
      desc('linux/arm/v7', 3),
      desc('linux/arm64/v8', 4),
    ];
    assert.equal(selectManifest(index, parsePlatform('linux/amd64')).digest, index[1]?.digest);
    assert.equal(selectManifest(index, parsePlatform('linux/arm/v7')).digest, index[2]?.digest);
    assert.equal(selectManifest(index, parsePlatform('linux/arm64')).digest, index[3]?.digest);
    assert.equal(
      selectManifest([desc('linux/arm/v6', 1)], parsePlatform('linux/arm/v7')).digest,
      index[0]?.digest,
    );
  });

  it('fails with Docker text when nothing matches', () => {
    assert.throws(
      () =>
        selectManifest(
          [desc('linux/amd64', 1), desc('unknown/unknown', 2)],
          parsePlatform('linux/ppc64le'),
        ),
      {
        name: 'NotFoundError',
        message: 'no matching manifest for linux/ppc64le in the manifest list entries',
      },
    );
  });
});

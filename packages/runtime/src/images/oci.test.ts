import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainIds, indexSchema, isDigest, manifestSchema, sha256Digest } from './oci.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('oci documents', () => {
  it('accepts only well-formed sha256 digests', () => {
    assert.ok(isDigest(d('a')));
    assert.ok(!isDigest('sha256:../../etc/passwd'));
    assert.ok(!isDigest('sha256:ABC'));
    assert.ok(!isDigest(`sha512:${'a'.repeat(128)}`));
  });

  it('refuses a manifest that carries manifests and an index that carries layers (CVE-2021-41190)', () => {
    const desc = { mediaType: 'x', digest: d('b'), size: 1 };
    const manifest = { schemaVersion: 2, config: desc, layers: [desc] };
    assert.ok(manifestSchema.safeParse(manifest).success);
    assert.ok(!manifestSchema.safeParse({ ...manifest, manifests: [desc] }).success);
    assert.ok(indexSchema.safeParse({ schemaVersion: 2, manifests: [desc] }).success);
    assert.ok(
      !indexSchema.safeParse({ schemaVersion: 2, manifests: [desc], layers: [desc] }).success,
    );
  });

  it('derives chain IDs as the spec defines them', () => {
    const [a, b] = [d('1'), d('2')];
    assert.deepEqual(chainIds([a, b]), [a, sha256Digest(`${a} ${b}`)]);
  });
});

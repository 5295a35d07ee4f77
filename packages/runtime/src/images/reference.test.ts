import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  familiarName,
  familiarString,
  formatReference,
  isValidTag,
  parseNormalizedTagged,
  parseReference,
  registryApiHost,
} from './reference.js';

const HEX = 'a'.repeat(64);

describe('parseReference (ParseNormalizedNamed)', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app'],
    ['index.docker.io/user/app', 'docker.io/user/app'],
    ['docker.io/busybox', 'docker.io/library/busybox'],
    ['localhost/x', 'localhost/x'],
    ['localhost:5000/x', 'localhost:5000/x'],
    ['127.0.0.1:5000/a/b:tag', '127.0.0.1:5000/a/b:tag'],
    ['example.com/a/b/c', 'example.com/a/b/c'],
    ['[::1]:5000/x:y', '[::1]:5000/x:y'],
    [`busybox@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    [`busybox:1@sha256:${HEX}`, `docker.io/library/busybox:1@sha256:${HEX}`],
    ['a_b__c-d--e.f', 'docker.io/library/a_b__c-d--e.f'],
    ['Upper.io/x', 'Upper.io/x'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(formatReference(parseReference(input)), want));
  }

  it('splits domain and path', () => {
    assert.deepEqual(parseReference('localhost:5000/a/b:t'), {
      domain: 'localhost:5000',
      path: 'a/b',
      tag: 't',
    });
  });

  it('adds latest only without tag and digest', () => {
    assert.equal(
      formatReference(parseNormalizedTagged('busybox')),
      'docker.io/library/busybox:latest',
    );
    assert.equal(parseNormalizedTagged(`busybox@sha256:${HEX}`).tag, undefined);
  });

  const invalid: [string, RegExp][] = [
    ['', /^invalid reference format$/],
    ['Busybox', /^invalid reference format: repository name must be lowercase$/],
    ['user/App', /^invalid reference format: repository name must be lowercase$/],
    ['busybox:', /^invalid reference format$/],
    ['busybox:-x', /^invalid reference format$/],
    [`busybox:${'t'.repeat(129)}`, /^invalid reference format$/],
    ['a//b', /^invalid reference format$/],
    ['-a', /^invalid reference format$/],
    ['a b', /^invalid reference format$/],
    ['busybox@sha256:abc', /^invalid reference format$/],
    [HEX, /cannot specify 64-byte hexadecimal strings/],
    [`x/${'a'.repeat(260)}`, /must not be more than 255 characters/],
  ];
  for (const [input, re] of invalid) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(
        () => parseReference(input),
        (e: unknown) =>
          e instanceof Error && e.name === 'InvalidParameterError' && re.test(e.message),
      );
    });
  }

  it('checks tags alone', () => {
    assert.ok(isValidTag('v1.0_rc-2'));
    assert.ok(!isValidTag('.x'));
    assert.ok(!isValidTag('a'.repeat(129)));
  });
});

describe('familiar names', () => {
  it('shortens Docker Hub names as the docker CLI shows them', () => {
    assert.equal(familiarName(parseReference('busybox')), 'busybox');
    assert.equal(familiarName(parseReference('user/app')), 'user/app');
    assert.equal(familiarName(parseReference('library/a/b')), 'library/a/b');
    assert.equal(familiarString(parseNormalizedTagged('busybox')), 'busybox:latest');
    assert.equal(familiarString(parseReference('localhost:5000/x:nope')), 'localhost:5000/x:nope');
  });

  it('maps docker.io to its API host', () => {
    assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryApiHost('localhost:5000'), 'localhost:5000');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidParameterError } from '../api/errors.js';
import { parseBind, parseMount, type PlannedMount, validMountMode } from './mount-spec.js';
import type { DockerMount } from './service.js';

function throwsInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidParameterError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

describe('parseBind (HostConfig.Binds, moby ParseMountRaw)', () => {
  const ok: Array<[string, PlannedMount]> = [
    [
      '/host:/ctr',
      {
        type: 'bind',
        source: '/host',
        destination: '/ctr',
        rw: true,
        mode: '',
        propagation: 'rprivate',
        nonRecursive: false,
        createSource: true,
      },
    ],
    [
      '/host/:/ctr/:ro',
      {
        type: 'bind',
        source: '/host',
        destination: '/ctr',
        rw: false,
        mode: 'ro',
        propagation: 'rprivate',
        nonRecursive: false,
        createSource: true,
      },
    ],
    [
      '/host:/ctr:rw,rslave,Z',
      {
        type: 'bind',
        source: '/host',
        destination: '/ctr',
        rw: true,
        mode: 'rw,rslave,Z',
        propagation: 'rslave',
        nonRecursive: false,
        createSource: true,
      },
    ],
    [
      'data:/var/lib/data',
      {
        type: 'volume',
        name: 'data',
        destination: '/var/lib/data',
        rw: true,
        mode: 'z',
        copyData: true,
      },
    ],
    [
      'data:/d:ro,nocopy',
      {
        type: 'volume',
        name: 'data',
        destination: '/d',
        rw: false,
        mode: 'ro,nocopy',
        copyData: false,
      },
    ],
    ['/anon', { type: 'volume', destination: '/anon', rw: true, mode: 'z', copyData: true }],
    ['/a/b/../c/', { type: 'volume', destination: '/a/c', rw: true, mode: 'z', copyData: true }],
  ];
  for (const [raw, want] of ok) {
    it(`parses ${raw}`, () => assert.deepEqual(parseBind(raw), want));
  }

  const bad: Array<[string, string]> = [
    ['', "invalid volume specification: ''"],
    [':/ctr', "invalid volume specification: ':/ctr'"],
    ['/ctr:rw', "invalid volume specification: '/ctr:rw'"],
    ['/a:/b:ro:extra', "invalid volume specification: '/a:/b:ro:extra'"],
    ['/a:/b:bogus', 'invalid mode: bogus'],
    ['/a:/b:ro,rw', 'invalid mode: ro,rw'],
    ['/a:/b:z,Z', 'invalid mode: z,Z'],
    [
      '/a:b',
      `invalid volume specification: '/a:b': invalid mount config for type "bind": invalid mount path: 'b' mount path must be absolute`,
    ],
    [
      'rel',
      `invalid volume specification: 'rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`,
    ],
    [
      '/a:/',
      `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
    ],
    [
      'vol:/d:shared',
      `invalid volume specification: 'vol:/d:shared': invalid mount config for type "volume": field BindOptions must not be specified`,
    ],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)}`, () => throwsInvalid(() => parseBind(raw), message));
  }
});

describe('parseMount (HostConfig.Mounts, moby validateMountConfigImpl)', () => {
  it('plans a bind with propagation and read-only', () => {
    assert.deepEqual(
      parseMount({
        Type: 'bind',
        Source: '/tmp',
        Target: '/t',
        ReadOnly: true,
        BindOptions: { Propagation: 'rshared' },
      }),
      {
        type: 'bind',
        source: '/tmp',
        destination: '/t',
        rw: false,
        mode: '',
        propagation: 'rshared',
        nonRecursive: false,
        createSource: false,
      },
    );
  });

  it('plans a named volume with NoCopy, labels and driver options', () => {
    assert.deepEqual(
      parseMount({
        Type: 'volume',
        Source: 'v1',
        Target: '/data',
        VolumeOptions: {
          NoCopy: true,
          Labels: { a: 'b' },
          DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } },
        },
      }),
      {
        type: 'volume',
        name: 'v1',
        destination: '/data',
        rw: true,
        mode: '',
        copyData: false,
        driver: 'local',
        driverOpts: { type: 'tmpfs', device: 'tmpfs' },
        labels: { a: 'b' },
      },
    );
  });

  it('plans a tmpfs with size and mode', () => {
    assert.deepEqual(
      parseMount({
        Type: 'tmpfs',
        Target: '/run',
        TmpfsOptions: { SizeBytes: 65536, Mode: 0o1777 },
      }),
      { type: 'tmpfs', destination: '/run', rw: true, sizeBytes: 65536, mode: 0o1777 },
    );
  });

  const bad: Array<[string, DockerMount, string]> = [
    [
      'a missing bind source',
      { Type: 'bind', Source: '/definitely/not/here', Target: '/x' },
      'invalid mount config for type "bind": bind source path does not exist: /definitely/not/here',
    ],
    [
      'an empty bind source',
      { Type: 'bind', Target: '/x' },
      'invalid mount config for type "bind": field Source must not be empty',
    ],
    [
      'a relative bind source',
      { Type: 'bind', Source: 'tmp', Target: '/x' },
      `invalid mount config for type "bind": invalid mount path: 'tmp' mount path must be absolute`,
    ],
    [
      'a relative target',
      { Type: 'volume', Source: 'v', Target: 'x' },
      `invalid mount config for type "volume": invalid mount path: 'x' mount path must be absolute`,
    ],
    [
      'no target',
      { Type: 'tmpfs' },
      'invalid mount config for type "tmpfs": field Target must not be empty',
    ],
    [
      'the root as target',
      { Type: 'bind', Source: '/tmp', Target: '/' },
      `invalid mount config for type "bind": invalid specification: destination can't be '/'`,
    ],
    [
      'a bad propagation',
      { Type: 'bind', Source: '/tmp', Target: '/x', BindOptions: { Propagation: 'weird' } },
      'invalid mount config for type "bind": invalid propagation mode: weird',
    ],
    [
      'VolumeOptions on a bind',
      { Type: 'bind', Source: '/tmp', Target: '/x', VolumeOptions: {} },
      'invalid mount config for type "bind": field VolumeOptions must not be specified',
    ],
    [
      'BindOptions on a volume',
      { Type: 'volume', Source: 'v', Target: '/x', BindOptions: {} },
      'invalid mount config for type "volume": field BindOptions must not be specified',
    ],
    [
      'a read-only anonymous volume',
      { Type: 'volume', Target: '/x', ReadOnly: true },
      'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes',
    ],
    [
      'a source on tmpfs',
      { Type: 'tmpfs', Source: '/tmp', Target: '/x' },
      'invalid mount config for type "tmpfs": field Source must not be specified',
    ],
    [
      'an unknown type',
      { Type: 'npipe', Source: '/tmp', Target: '/x' },
      'invalid mount config for type "npipe": mount type unknown',
    ],
  ];
  for (const [what, m, message] of bad) {
    it(`refuses ${what}`, () => throwsInvalid(() => parseMount(m), message));
  }

  it('creates a missing bind source only when asked (CreateMountpoint)', () => {
    const m = parseMount({
      Type: 'bind',
      Source: '/not/here/yet',
      Target: '/x',
      BindOptions: { CreateMountpoint: true },
    });
    assert.equal(m.type === 'bind' && m.createSource, true);
  });
});

describe('validMountMode', () => {
  it('accepts one word of each kind and refuses repeats', () => {
    assert.equal(validMountMode('ro,z,rshared,nocopy,cached'), true);
    assert.equal(validMountMode('ro,ro'), false);
    assert.equal(validMountMode('shared,slave'), false);
    assert.equal(validMountMode('exec'), false);
  });
});

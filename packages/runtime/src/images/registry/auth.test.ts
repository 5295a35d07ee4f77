import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRegistryAuth, encodeRegistryAuth, parseChallenges } from './auth.js';
import { registryScheme } from './transport.js';

describe('X-Registry-Auth', () => {
  it('decodes what the docker CLI sends (base64url JSON)', () => {
    const header = encodeRegistryAuth({
      username: 'u',
      password: 'p?>~',
      serveraddress: 'localhost:5000',
    });
    assert.deepEqual(decodeRegistryAuth(header), {
      username: 'u',
      password: 'p?>~',
      serveraddress: 'localhost:5000',
    });
    // Standard base64 with padding is accepted too.
    const std = Buffer.from(JSON.stringify({ identitytoken: 'tok' })).toString('base64');
    assert.equal(decodeRegistryAuth(std)?.identitytoken, 'tok');
  });

  it('splits the config-file "auth" field', () => {
    const auth = Buffer.from('alice:s3cr:et').toString('base64');
    assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth({ auth }))?.password, 's3cr:et');
  });

  it('treats empty values as anonymous and refuses garbage', () => {
    assert.equal(decodeRegistryAuth(undefined), undefined);
    assert.equal(decodeRegistryAuth(''), undefined);
    assert.equal(decodeRegistryAuth(encodeRegistryAuth({})), undefined);
    assert.throws(() => decodeRegistryAuth('%%%'), { name: 'InvalidParameterError' });
    assert.throws(() => decodeRegistryAuth(Buffer.from('{"username":1}').toString('base64url')), {
      name: 'InvalidParameterError',
    });
  });
});

describe('WWW-Authenticate', () => {
  it('parses Bearer and Basic challenges', () => {
    assert.deepEqual(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/busybox:pull,push',
          },
        },
      ],
    );
    assert.deepEqual(parseChallenges(['Basic realm="Registry Realm"']), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
    assert.deepEqual(parseChallenges('Bearer realm=http://x/t, service = "a \\"b\\""'), [
      { scheme: 'bearer', params: { realm: 'http://x/t', service: 'a "b"' } },
    ]);
    assert.deepEqual(parseChallenges(undefined), []);
  });
});

describe('registry scheme', () => {
  it('uses plain HTTP only for loopback and listed insecure registries', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) {
      assert.equal(registryScheme(h), 'http', h);
    }
    for (const h of [
      'registry-1.docker.io',
      'example.com:5000',
      '10.0.0.1:5000',
      'localhost.example.com',
      '128.0.0.1',
    ]) {
      assert.equal(registryScheme(h), 'https', h);
    }
    assert.equal(registryScheme('10.0.0.1:5000', ['10.0.0.1:5000']), 'http');
    assert.equal(registryScheme('myreg:5000', ['myreg']), 'http');
    assert.equal(registryScheme('myreg:5000', ['other:5000']), 'https');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  extraHostEntries,
  hostsFile,
  parseResolvConf,
  resolvConf,
  upstreamNameservers,
} from './files.js';

describe('generated hosts and resolv.conf', () => {
  it("writes Docker's hosts header, then the entries", () => {
    const text = hostsFile([
      { ip: '172.18.0.3', names: ['web', 'web-alias'] },
      { ip: '10.0.0.1', names: [] },
    ]);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], '127.0.0.1\tlocalhost');
    assert.equal(lines[1], '::1\tlocalhost ip6-localhost ip6-loopback');
    assert.equal(lines.at(-1), '172.18.0.3\tweb web-alias');
    assert.equal(lines.length, 7);
  });

  it('reads --add-host entries, host-gateway included', () => {
    assert.deepEqual(
      extraHostEntries(['db:10.1.2.3', 'gw:host-gateway', 'eq=1.1.1.1', 'bad'], '172.17.0.1'),
      [
        { ip: '10.1.2.3', names: ['db'] },
        { ip: '172.17.0.1', names: ['gw'] },
        { ip: '1.1.1.1', names: ['eq'] },
      ],
    );
  });

  it('points host.docker.internal at --host-gateway-ip unless --add-host names it', () => {
    assert.deepEqual(extraHostEntries(['gw:host-gateway'], '10.0.2.2', '10.0.2.2'), [
      { ip: '10.0.2.2', names: ['gw'] },
      { ip: '10.0.2.2', names: ['host.docker.internal'] },
    ]);
    assert.deepEqual(
      extraHostEntries(['host.docker.internal:host-gateway'], '10.0.2.2', '10.0.2.2'),
      [{ ip: '10.0.2.2', names: ['host.docker.internal'] }],
    );
    assert.deepEqual(extraHostEntries(['host.docker.internal=1.2.3.4'], '10.0.2.2', '10.0.2.2'), [
      { ip: '1.2.3.4', names: ['host.docker.internal'] },
    ]);
    assert.deepEqual(extraHostEntries([], '172.17.0.1'), []);
  });

  it("uses the host's nameservers minus loopback ones, or the network's DNS server", () => {
    const host = parseResolvConf(
      '# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch corp.example\noptions edns0\n',
    );
    assert.deepEqual(upstreamNameservers(host), ['10.255.255.53']);
    assert.equal(
      resolvConf(host, {}),
      'nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n',
    );
    assert.equal(
      resolvConf(host, { networkDns: '172.20.0.1' }),
      'nameserver 172.20.0.1\nsearch corp.example\noptions edns0\n',
    );
    assert.equal(
      resolvConf(host, { dns: ['9.9.9.9'], dnsSearch: ['a.example'], dnsOptions: ['ndots:2'] }),
      'nameserver 9.9.9.9\nsearch a.example\noptions ndots:2\n',
    );
    // Only loopback resolvers on the host (systemd-resolved): Docker falls back to public ones.
    assert.deepEqual(upstreamNameservers(parseResolvConf('nameserver 127.0.0.53\n')), [
      '8.8.8.8',
      '8.8.4.4',
    ]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listPorts, parseHostPort, parsePortKey, planBindings, portMap } from './ports.js';

describe('published port specs', () => {
  it('parses port keys', () => {
    assert.deepEqual(parsePortKey('80/tcp'), { port: 80, proto: 'tcp' });
    assert.deepEqual(parsePortKey('53/udp'), { port: 53, proto: 'udp' });
    assert.deepEqual(parsePortKey('8080'), { port: 8080, proto: 'tcp' });
    assert.throws(() => parsePortKey('80/icmp'), /invalid port specification: "80\/icmp"/);
    assert.throws(() => parsePortKey('0/tcp'), /invalid port: 0/);
    assert.throws(() => parsePortKey('70000'), /invalid port: 70000/);
  });

  it('parses host ports and ranges', () => {
    assert.equal(parseHostPort(''), undefined);
    assert.equal(parseHostPort(undefined), undefined);
    assert.equal(parseHostPort('0'), undefined);
    assert.deepEqual(parseHostPort('8080'), { start: 8080, end: 8080 });
    assert.deepEqual(parseHostPort('8000-8010'), { start: 8000, end: 8010 });
    assert.throws(() => parseHostPort('8010-8000'), /invalid hostPort: 8010-8000/);
    assert.throws(() => parseHostPort('abc'), /invalid hostPort: abc/);
  });

  it('binds 127.0.0.1 unless an address is given; -P adds every exposed port', () => {
    const plan = planBindings({
      exposedPorts: ['80/tcp', '443/tcp', '53/udp'],
      portBindings: {
        '80/tcp': [{ HostIp: '', HostPort: '8080' }],
        '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
      },
      publishAllPorts: true,
    });
    assert.deepEqual(plan, [
      {
        container: { port: 80, proto: 'tcp' },
        hostIp: '127.0.0.1',
        hostPorts: { start: 8080, end: 8080 },
      },
      {
        container: { port: 53, proto: 'udp' },
        hostIp: '0.0.0.0',
        hostPorts: { start: 5353, end: 5353 },
      },
      { container: { port: 443, proto: 'tcp' }, hostIp: '127.0.0.1', hostPorts: undefined },
    ]);
    assert.throws(
      () =>
        planBindings({
          exposedPorts: [],
          portBindings: { '80/tcp': [{ HostIp: 'nope' }] },
          publishAllPorts: false,
        }),
      /invalid IP address: nope/,
    );
  });

  it('binds --ip (the default binding address) when no address is given', () => {
    const plan = planBindings(
      {
        exposedPorts: ['443/tcp'],
        portBindings: {
          '80/tcp': [{ HostPort: '8080' }],
          '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
        },
        publishAllPorts: true,
      },
      '0.0.0.0',
    );
    assert.deepEqual(
      plan.map((p) => `${p.container.port} ${p.hostIp}`),
      ['80 0.0.0.0', '53 127.0.0.1', '443 0.0.0.0'],
    );
  });

  it('shows bindings as inspect and ps do', () => {
    const map = portMap(
      ['80/tcp', '443/tcp'],
      [{ container: { port: 80, proto: 'tcp' }, hostIp: '127.0.0.1', hostPort: 8080 }],
    );
    assert.deepEqual(map, {
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '443/tcp': null,
    });
    assert.deepEqual(listPorts(map), [
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
    ]);
  });
});

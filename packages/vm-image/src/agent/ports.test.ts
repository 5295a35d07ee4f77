import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { portTargets, publishedPorts } from './ports.js';

describe('published ports from the container list', () => {
  it('keeps one binding per protocol and port, preferring the IPv4 address', () => {
    const ports = publishedPorts([
      {
        Id: 'abc',
        Names: ['/web'],
        Ports: [
          { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { PrivatePort: 443, Type: 'tcp' },
          { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' },
        ],
      },
      { Id: 'def', Names: ['/quiet'], Ports: null },
    ]);
    assert.deepEqual(ports, [
      {
        containerId: 'abc',
        containerName: 'web',
        protocol: 'udp',
        hostIp: '127.0.0.1',
        hostPort: 5353,
        guestPort: 5353,
        containerPort: 53,
      },
      {
        containerId: 'abc',
        containerName: 'web',
        protocol: 'tcp',
        hostIp: '0.0.0.0',
        hostPort: 8080,
        guestPort: 8080,
        containerPort: 80,
      },
    ]);
  });

  it('sends forwarded TCP connections to the container address, not the proxy', () => {
    const targets = portTargets([
      {
        Id: 'abc',
        Names: ['/web'],
        Ports: [
          { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' },
          { PrivatePort: 443, Type: 'tcp' },
        ],
        NetworkSettings: { Networks: { none: null, bridge: { IPAddress: '172.17.0.3' } } },
      },
      {
        Id: 'host',
        Names: ['/on-host'],
        Ports: [{ IP: '0.0.0.0', PrivatePort: 9000, PublicPort: 9000, Type: 'tcp' }],
        NetworkSettings: { Networks: { host: { IPAddress: '' } } },
      },
      { Id: 'def', Names: ['/quiet'], Ports: null },
    ]);
    assert.deepEqual([...targets], [[8080, { host: '172.17.0.3', port: 80 }]]);
  });
});

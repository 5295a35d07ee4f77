import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allocateAddress,
  cidrsOverlap,
  defaultPools,
  formatCidr,
  formatIPv4,
  macFromIp,
  makePlan,
  parseCidr,
  parseIPv4,
  pickSubnet,
} from './ipam.js';

const ip = (s: string) => parseIPv4(s) ?? assert.fail(`bad ip ${s}`);

describe('ipam', () => {
  it('parses and formats addresses and CIDRs', () => {
    assert.equal(formatIPv4(ip('172.17.0.2')), '172.17.0.2');
    assert.equal(parseIPv4('256.0.0.1'), undefined);
    assert.equal(parseIPv4('1.2.3'), undefined);
    assert.equal(formatCidr(parseCidr('10.1.2.3/8')), '10.0.0.0/8');
    assert.throws(() => parseCidr('10.1.2.3/8', true), /invalid subnet 10\.1\.2\.3\/8/);
    assert.throws(() => parseCidr('10.0.0.0/33'), /invalid CIDR address: 10\.0\.0\.0\/33/);
    assert.throws(() => parseCidr('nope'), /invalid CIDR address/);
  });

  it('knows when blocks overlap', () => {
    assert.ok(cidrsOverlap(parseCidr('172.17.0.0/16'), parseCidr('172.17.5.0/24')));
    assert.ok(cidrsOverlap(parseCidr('0.0.0.0/0'), parseCidr('192.168.1.0/24')));
    assert.ok(!cidrsOverlap(parseCidr('172.17.0.0/16'), parseCidr('172.18.0.0/16')));
  });

  it("has Docker's default pools in order and skips taken ones", () => {
    const pools = defaultPools().map(formatCidr);
    assert.equal(pools[0], '172.17.0.0/16');
    assert.equal(pools[14], '172.31.0.0/16');
    assert.equal(pools[15], '192.168.0.0/20');
    assert.equal(pools[16], '192.168.16.0/20');
    assert.equal(pools.length, 31);
    assert.equal(formatCidr(pickSubnet([])), '172.17.0.0/16');
    // A host route inside 172.17/16 (e.g. a VPN) takes the whole pool entry.
    assert.equal(formatCidr(pickSubnet([parseCidr('172.17.3.0/24')])), '172.18.0.0/16');
    const all172 = defaultPools().slice(0, 15);
    assert.equal(
      formatCidr(pickSubnet([...all172, parseCidr('192.168.0.0/24')])),
      '192.168.16.0/20',
    );
    assert.throws(
      () => pickSubnet(defaultPools()),
      /could not find an available, non-overlapping IPv4 address pool/,
    );
  });

  it('derives the MAC from the address as Docker does', () => {
    assert.equal(macFromIp(ip('172.17.0.2')), '02:42:ac:11:00:02');
  });

  it('allocates the lowest free address, never the gateway, network or broadcast', () => {
    const plan = makePlan(parseCidr('10.9.0.0/29'));
    assert.equal(formatIPv4(plan.gateway), '10.9.0.1');
    const used = new Set<number>();
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const a = allocateAddress(plan, used, undefined, 'n', 'id');
      used.add(a);
      got.push(formatIPv4(a));
    }
    assert.deepEqual(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    assert.throws(
      () => allocateAddress(plan, used, undefined, 'n', 'id'),
      /no available IPv4 addresses on this network's address pools: n \(id\)/,
    );
    used.delete(ip('10.9.0.4'));
    assert.equal(formatIPv4(allocateAddress(plan, used, undefined, 'n', 'id')), '10.9.0.4');
  });

  it('honours a gateway, an IP range and a requested address', () => {
    const plan = makePlan(parseCidr('10.10.0.0/16'), '10.10.0.254', '10.10.5.0/24');
    assert.equal(formatIPv4(allocateAddress(plan, new Set(), undefined, 'n', 'id')), '10.10.5.1');
    const req = ip('10.10.0.9');
    assert.equal(allocateAddress(plan, new Set(), req, 'n', 'id'), req);
    assert.throws(
      () => allocateAddress(plan, new Set([req]), req, 'n', 'id'),
      /Address already in use/,
    );
    assert.throws(
      () => allocateAddress(plan, new Set(), ip('10.11.0.1'), 'n', 'id'),
      /no configured subnet or ip-range contain the IP address 10\.11\.0\.1/,
    );
    assert.throws(
      () => allocateAddress(plan, new Set(), ip('10.10.0.254'), 'n', 'id'),
      /Address already in use/,
    );
    assert.throws(
      () => makePlan(parseCidr('10.10.0.0/16'), '10.11.0.1'),
      /no matching subnet for gateway/,
    );
    assert.throws(
      () => makePlan(parseCidr('10.10.0.0/16'), undefined, '10.0.0.0/8'),
      /no matching subnet for range/,
    );
  });
});

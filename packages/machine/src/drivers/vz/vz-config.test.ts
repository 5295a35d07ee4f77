import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DriverContext } from '../../driver.js';
import { berthPaths } from '../../paths.js';
import { MachineSettingsSchema } from '../../settings.js';
import { leaseAddress, machineMac, vzConfiguration, vzGuestConfig } from './vz-config.js';

const paths = berthPaths('/Users/u/.berth').machine('default');
const ctx: DriverContext = {
  settings: MachineSettingsSchema.parse({
    name: 'default',
    driver: 'vz',
    arch: 'aarch64',
    cpus: 4,
    memoryMiB: 2048,
    diskGiB: 64,
    sharedFolders: [{ hostPath: '/Users/u', guestPath: '/Users/u', tag: 'berth0' }],
    image: {
      kernel: '/img/vmlinuz',
      initrd: '/img/initramfs.img',
      system: '/img/system.img',
      cmdline: 'console=ttyAMA0 quiet panic=-1',
    },
    createdAt: '2026-01-01T00:00:00Z',
  }),
  paths,
  hostStateDir: '/Users/u/.berth',
  guestConfig: {
    version: 1,
    hostKey: 'k',
    authorizedKeys: ['ssh-ed25519 AAAA'],
    shares: [{ tag: 'berth0', guestPath: '/Users/u', type: '9p' }],
  },
};

describe('VZ configuration', () => {
  const config = vzConfiguration(ctx);

  it('boots the image’s kernel with the console on hvc0', () => {
    assert.deepEqual(config.bootLoader, {
      kind: 'linux',
      kernelPath: '/img/vmlinuz',
      initialRamdiskPath: '/img/initramfs.img',
      commandLine: 'console=hvc0 quiet panic=-1',
    });
    assert.equal(config.cpuCount, 4);
    assert.equal(config.memorySize, 2048 * 1024 * 1024);
  });

  it('attaches system (ro), data, config (ro) disks in the protocol’s order', () => {
    assert.deepEqual(
      config.storageDevices.map((d) => [d.attachment.path, d.attachment.readOnly]),
      [
        ['/img/system.img', true],
        [paths.dataDisk, false],
        [`${paths.runDir}/config.img`, true],
      ],
    );
  });

  it('shares folders over virtiofs and tells the guest so', () => {
    assert.deepEqual(config.directorySharingDevices, [
      { kind: 'virtio-fs', tag: 'berth0', path: '/Users/u', readOnly: false },
    ]);
    assert.deepEqual(
      vzGuestConfig(ctx.guestConfig).shares?.map((s) => s.type),
      ['virtiofs'],
    );
  });

  it('uses NAT with a stable locally administered MAC, and a console file', () => {
    const mac = machineMac('default');
    assert.match(mac, /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(machineMac('default'), mac);
    assert.notEqual(machineMac('other'), mac);
    assert.deepEqual(config.networkDevices, [
      { kind: 'virtio-net', macAddress: mac, attachment: { kind: 'nat' } },
    ]);
    assert.deepEqual(config.serialPorts[0]?.attachment, {
      kind: 'file',
      path: paths.serialLog,
      append: false,
    });
  });

  it('finds the guest address in the DHCP leases', () => {
    const leases = `{
	name=other
	ip_address=192.168.64.2
	hw_address=1,2:aa:bb:cc:dd:ee
}
{
	name=berth
	ip_address=192.168.64.7
	hw_address=1,2:5:c:0:a:ff
	lease=0x65f0a1b2
}`;
    assert.equal(leaseAddress(leases, '02:05:0c:00:0a:ff'), '192.168.64.7');
    assert.equal(leaseAddress(leases, '02:00:00:00:00:01'), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { berthPaths } from '../../paths.js';
import { MachineSettingsSchema } from '../../settings.js';
import {
  addressScript,
  createScript,
  deleteScript,
  powershellArgs,
  psQuote,
  startScript,
  statusScript,
  stopScript,
} from './hyperv-commands.js';
import { hypervMachine } from './hyperv.win32.js';
import { fixedVhdFooter, rawToFixedVhd, vhdGeometry } from './vhd.js';

const paths = berthPaths("C:\\Users\\o'brien\\.berth").machine('default');
const machine = hypervMachine({
  settings: MachineSettingsSchema.parse({
    name: 'default',
    driver: 'hyperv',
    arch: 'x86_64',
    cpus: 2,
    memoryMiB: 2048,
    diskGiB: 64,
    image: { kernel: 'k', initrd: 'i', system: 's', efiBootDisk: 'C:\\img\\boot.vhdx' },
    createdAt: '2026-01-01T00:00:00Z',
  }),
  paths,
  hostStateDir: "C:\\Users\\o'brien\\.berth",
  guestConfig: { version: 1, hostKey: 'k', authorizedKeys: ['a'] },
});

describe('Hyper-V commands', () => {
  it('quotes values as PowerShell single-quoted literals', () => {
    assert.equal(psQuote("it's"), "'it''s'");
    assert.ok(
      createScript(machine).includes("-Path 'C:\\Users\\o''brien\\.berth/machines/default'"),
    );
  });

  it('creates a Generation 2 VM with its disks in the protocol’s order, idempotently', () => {
    const lines = createScript(machine).split('\n');
    assert.match(lines[0] ?? '', /ErrorActionPreference = 'Stop'/);
    assert.ok(
      lines.some(
        (l) => l === "if (Get-VM -Name 'berth-default' -ErrorAction SilentlyContinue) { exit 0 }",
      ),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          "New-VM -Name 'berth-default' -Generation 2 -MemoryStartupBytes 2048MB -NoVHD -SwitchName 'Default Switch'",
        ),
      ),
    );
    assert.ok(lines.includes("Set-VMProcessor -VMName 'berth-default' -Count 2"));
    assert.ok(lines.includes("Set-VMFirmware -VMName 'berth-default' -EnableSecureBoot Off"));
    const disks = lines
      .filter((l) => l.startsWith('Add-VMHardDiskDrive'))
      .map((l) => /-Path '(.*)'$/.exec(l)?.[1]);
    assert.deepEqual(disks, [
      'C:\\img\\boot.vhdx',
      machine.systemDisk.replace(/'/g, "''"),
      machine.dataDisk.replace(/'/g, "''"),
      machine.configDisk.replace(/'/g, "''"),
    ]);
    assert.ok(lines.some((l) => l.includes('New-VHD') && l.includes('-SizeBytes 64GB -Dynamic')));
    assert.ok(
      lines.includes(
        "Set-VMComPort -VMName 'berth-default' -Number 1 -Path '\\\\.\\pipe\\berth-default-com1'",
      ),
    );
  });

  it('starts, stops (gracefully or not), reports state and address, deletes', () => {
    assert.match(startScript('berth-default'), /\nStart-VM -Name 'berth-default'$/);
    assert.match(stopScript('berth-default', false), /\nStop-VM -Name 'berth-default' -Force$/);
    assert.match(stopScript('berth-default', true), /-TurnOff -Force$/);
    assert.match(statusScript('berth-default'), /\$vm.State.ToString\(\)/);
    assert.match(addressScript('berth-default'), /Get-VMNetworkAdapter -VMName 'berth-default'/);
    assert.match(deleteScript('berth-default'), /Remove-VM -Name 'berth-default' -Force/);
    assert.deepEqual(powershellArgs('x').slice(-2), ['-Command', 'x']);
  });
});

describe('fixed VHD', () => {
  it('appends a valid footer to the raw bytes', () => {
    const raw = Buffer.from('BERTH-CONFIG-1\n{}\n');
    const id = Buffer.alloc(16, 7);
    const vhd = rawToFixedVhd(raw, id);
    assert.equal(vhd.length, 512 + 512);
    assert.ok(vhd.subarray(0, raw.length).equals(raw));
    const footer = vhd.subarray(512);
    assert.equal(footer.subarray(0, 8).toString('ascii'), 'conectix');
    assert.equal(footer.readBigUInt64BE(48), 512n);
    assert.equal(footer.readUInt32BE(60), 2);
    // The checksum is the one's complement of the byte sum with the checksum field zeroed.
    const copy = Buffer.from(footer);
    copy.writeUInt32BE(0, 64);
    let sum = 0;
    for (const b of copy) sum += b;
    assert.equal(footer.readUInt32BE(64), ~sum >>> 0);
    assert.throws(() => fixedVhdFooter(100, { uniqueId: id }), /multiple of 512/);
  });

  it('computes the specification’s CHS geometry', () => {
    assert.deepEqual(vhdGeometry(64 * 1024 ** 3), { cylinders: 32896, heads: 16, sectors: 255 });
    assert.deepEqual(vhdGeometry(512 * 1024), { cylinders: 15, heads: 4, sectors: 17 });
  });
});

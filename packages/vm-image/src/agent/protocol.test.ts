import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DatagramDecoder,
  decodeConfigDisk,
  encodeConfigDisk,
  encodeDatagram,
  parseStageLine,
  parseUdpExecCommand,
  udpExecCommand,
  type GuestConfig,
} from './protocol.js';

describe('agent protocol', () => {
  it('parses stage lines from a noisy serial console', () => {
    assert.deepEqual(parseStageLine('\x1b[2Jberth-stage: initramfs\r'), { stage: 'initramfs' });
    assert.deepEqual(parseStageLine('berth-stage: data-disk formatted /dev/vdb'), {
      stage: 'data-disk',
      detail: 'formatted /dev/vdb',
    });
    assert.deepEqual(parseStageLine('berth-stage: failed mke2fs /dev/vdb'), {
      stage: 'failed',
      detail: 'mke2fs /dev/vdb',
    });
    assert.equal(parseStageLine('berth-stage: nonsense'), undefined);
    assert.equal(parseStageLine('[    1.0] random kernel line'), undefined);
  });

  it('round-trips the guest config through a config disk', () => {
    const config: GuestConfig = {
      version: 1,
      hostKey: 'KEY',
      authorizedKeys: ['ssh-ed25519 AAAA x'],
    };
    const disk = encodeConfigDisk(config);
    assert.equal(disk.length % 4096, 0);
    const back = decodeConfigDisk(disk);
    assert.equal(back?.hostKey, 'KEY');
    assert.deepEqual(back?.shares, []);
    assert.equal(back?.hostAddress, '10.0.2.2');
    assert.equal(decodeConfigDisk(Buffer.alloc(4096)), undefined);
  });

  it('frames datagrams across arbitrary chunk boundaries', () => {
    const wire = Buffer.concat([
      encodeDatagram(Buffer.from('hello')),
      encodeDatagram(Buffer.alloc(0)),
      encodeDatagram(Buffer.from('x')),
    ]);
    const d = new DatagramDecoder();
    const got = [...wire].flatMap((b) => d.push(Buffer.from([b])).map((p) => p.toString()));
    assert.deepEqual(got, ['hello', '', 'x']);
  });

  it('names UDP forwards by exec command', () => {
    assert.equal(parseUdpExecCommand(udpExecCommand(5353)), 5353);
    assert.equal(parseUdpExecCommand('@berth/udp 0'), undefined);
    assert.equal(parseUdpExecCommand('ls'), undefined);
  });
});

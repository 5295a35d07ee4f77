import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findVirtiofsd, virtiofsdArgs } from './virtiofsd.js';

describe('virtiofsd', () => {
  const installed =
    (...paths: string[]) =>
    (p: string) =>
      paths.includes(p);

  it('prefers the Rust virtiofsd, then QEMU’s own, and needs root', () => {
    const both = installed('/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd');
    assert.equal(findVirtiofsd({}, true, both), '/usr/libexec/virtiofsd');
    assert.equal(
      findVirtiofsd({}, true, installed('/usr/lib/qemu/virtiofsd')),
      '/usr/lib/qemu/virtiofsd',
    );
    assert.equal(findVirtiofsd({}, true, installed()), undefined);
    assert.equal(findVirtiofsd({}, false, both), undefined);
  });

  it('follows $BERTH_VIRTIOFSD, empty meaning 9p', () => {
    const any = installed('/opt/vfsd', '/usr/libexec/virtiofsd');
    assert.equal(findVirtiofsd({ BERTH_VIRTIOFSD: '/opt/vfsd' }, true, any), '/opt/vfsd');
    assert.equal(findVirtiofsd({ BERTH_VIRTIOFSD: '' }, true, any), undefined);
    assert.equal(findVirtiofsd({ BERTH_VIRTIOFSD: '/nope' }, true, any), undefined);
  });

  it('serves one folder on one socket', () => {
    assert.deepEqual(virtiofsdArgs('/run/fs.sock', '/home/u'), [
      '--socket-path=/run/fs.sock',
      '-o',
      'source=/home/u',
      '-o',
      'cache=auto',
    ]);
  });
});

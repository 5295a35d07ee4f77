import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureTestGuestImage, qemuSkip, testGuestImage } from '../../testing/guest-image.js';
import { runDriverSuite } from '../testsuite.js';
import { hostFacts, readKnownBad } from './accel.js';
import { qemuDriver } from './qemu.js';

// No accelerator is requested: on a host whose /dev/kvm exists but whose KVM guests hang (these
// CI machines), the first boot must probe KVM, give up in time, boot with TCG and remember it.
// Shares are pinned to 9p here (the fallback where no virtiofsd runs, as on macOS); the `berth`
// end-to-end test boots with the default, virtiofs where virtiofsd is installed.
const buildProblem = await ensureTestGuestImage();

runDriverSuite('qemu', qemuDriver({ probeTimeoutMs: 15_000, virtiofsd: false }), {
  image: testGuestImage(),
  skip: buildProblem ?? qemuSkip(),
  onFirstStart: (guest, notices, hostStateDir) => {
    const facts = hostFacts();
    if (guest.accelerator === 'tcg' && facts.platform === 'linux' && facts.kvmUsable) {
      assert.ok(
        notices.some((n) => n.startsWith('kvm:')),
        `no notice about the KVM fallback: ${notices.join('; ')}`,
      );
      assert.deepEqual(readKnownBad(join(hostStateDir, 'accelerators.json')), ['kvm']);
    }
  },
  onShareMounted: (fsType) => assert.equal(fsType, '9p'),
});

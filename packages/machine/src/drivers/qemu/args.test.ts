import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { qemuArgs, qemuBinary, type QemuBootSpec } from './args.js';

const base: QemuBootSpec = {
  arch: 'x86_64',
  accelerator: 'tcg',
  cpus: 2,
  memoryMiB: 1024,
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.img',
  cmdline: 'quiet',
  disks: [
    { path: '/img/system.squashfs', readOnly: true },
    { path: '/m/data.img', readOnly: false },
  ],
  shares: [{ hostPath: '/home/u', tag: 'berth0', readOnly: false }],
  agentHostPort: 40022,
  agentGuestPort: 22,
  fwCfgFile: '/m/run/guest-config.json',
  fwCfgName: 'opt/berth/config',
  serialLog: '/m/serial.log',
  pidFile: '/m/run/qemu.pid',
  qmpSocket: '/m/run/qmp.sock',
  hostIsRoot: true,
};

function after(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
}

describe('qemuArgs', () => {
  it('boots the kernel with the console on ttyS0 and the image words', () => {
    const args = qemuArgs(base);
    assert.deepEqual(after(args, '-kernel'), ['/img/vmlinuz']);
    assert.deepEqual(after(args, '-initrd'), ['/img/initrd.img']);
    assert.deepEqual(after(args, '-append'), ['console=ttyS0 quiet panic=-1']);
    const own = qemuArgs({ ...base, cmdline: 'console=ttyS0 quiet panic=5' });
    assert.deepEqual(after(own, '-append'), ['console=ttyS0 quiet panic=5']);
    assert.deepEqual(after(args, '-machine'), ['q35']);
    assert.deepEqual(after(args, '-smp'), ['2']);
    assert.deepEqual(after(args, '-m'), ['1024']);
    assert.ok(args.includes('-daemonize'));
    assert.ok(args.includes('-no-reboot'));
  });

  it('forwards the agent only on 127.0.0.1', () => {
    const [netdev] = after(qemuArgs(base), '-netdev');
    assert.equal(netdev, 'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22');
  });

  it('attaches the system image read-only before the data disk', () => {
    const drives = after(qemuArgs(base), '-drive');
    assert.equal(drives.length, 2);
    assert.match(drives[0] ?? '', /file=\/img\/system\.squashfs,readonly=on$/);
    assert.match(drives[1] ?? '', /id=disk1,format=raw,file=\/m\/data\.img,discard=unmap$/);
  });

  it('hands the guest config over as fw_cfg', () => {
    assert.deepEqual(after(qemuArgs(base), '-fw_cfg'), [
      'name=opt/berth/config,file=/m/run/guest-config.json',
    ]);
  });

  it('shares folders over 9p: passthrough as root, mapped-xattr otherwise', () => {
    assert.deepEqual(after(qemuArgs(base), '-virtfs'), [
      'local,path=/home/u,mount_tag=berth0,security_model=passthrough,id=berth0',
    ]);
    const user = qemuArgs({
      ...base,
      hostIsRoot: false,
      shares: [{ hostPath: '/a,b', tag: 't', readOnly: true }],
    });
    assert.deepEqual(after(user, '-virtfs'), [
      'local,path=/a,,b,mount_tag=t,security_model=mapped-xattr,id=t,readonly=on',
    ]);
  });

  it('shares over virtiofs through vhost-user sockets, with guest RAM a shared memfd', () => {
    const args = qemuArgs({
      ...base,
      shares: [
        { hostPath: '/home/u', tag: 'berth0', readOnly: false, virtiofsSocket: '/m/run/fs0.sock' },
        { hostPath: '/srv', tag: 'berth1', readOnly: true },
      ],
    });
    assert.deepEqual(after(args, '-machine'), ['q35,memory-backend=mem']);
    assert.deepEqual(after(args, '-object'), ['memory-backend-memfd,id=mem,size=1024M,share=on']);
    assert.deepEqual(after(args, '-chardev').slice(1), ['socket,id=fs0,path=/m/run/fs0.sock']);
    assert.ok(args.includes('vhost-user-fs-pci,chardev=fs0,tag=berth0'));
    // A share without a daemon stays 9p.
    assert.deepEqual(after(args, '-virtfs'), [
      'local,path=/srv,mount_tag=berth1,security_model=passthrough,id=berth1,readonly=on',
    ]);
    assert.deepEqual(after(qemuArgs(base), '-object'), []);
  });

  it('picks cpu and accelerator options per accelerator', () => {
    assert.deepEqual(after(qemuArgs(base), '-accel'), ['tcg,thread=multi']);
    assert.deepEqual(after(qemuArgs(base), '-cpu'), ['max']);
    const kvm = qemuArgs({ ...base, accelerator: 'kvm' });
    assert.deepEqual([after(kvm, '-accel'), after(kvm, '-cpu')], [['kvm'], ['host']]);
    const whpx = qemuArgs({ ...base, accelerator: 'whpx' });
    assert.deepEqual(
      [after(whpx, '-accel'), after(whpx, '-cpu')],
      [['whpx,kernel-irqchip=off'], ['max']],
    );
  });

  it('uses the virt machine and ttyAMA0 for aarch64 guests', () => {
    const args = qemuArgs({ ...base, arch: 'aarch64', accelerator: 'hvf' });
    assert.equal(qemuBinary('aarch64'), 'qemu-system-aarch64');
    assert.deepEqual(after(args, '-machine'), ['virt']);
    assert.match(after(args, '-append')[0] ?? '', /^console=ttyAMA0 /);
    assert.deepEqual(after(args, '-cpu'), ['host']);
    const tcg = qemuArgs({ ...base, arch: 'aarch64', accelerator: 'tcg' });
    assert.deepEqual(after(tcg, '-cpu'), ['max,pauth-impdef=on']);
  });
});

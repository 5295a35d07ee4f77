import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statsSchema } from './engine-schemas.js';
import { cpuPercent, memoryUsage, toSample } from './stats.js';

// Shapes as berthd and moby send them (cgroup v1 `total_inactive_file`, v2 `inactive_file`).
const sample = statsSchema.parse({
  read: '2026-01-01T00:00:02Z',
  cpu_stats: {
    cpu_usage: { total_usage: 3_000_000_000 },
    system_cpu_usage: 40_000_000_000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 2_000_000_000 },
    system_cpu_usage: 36_000_000_000,
  },
  memory_stats: { usage: 50_000_000, limit: 1_000_000_000, stats: { inactive_file: 10_000_000 } },
  networks: {
    eth0: { rx_bytes: 1000, tx_bytes: 200 },
    eth1: { rx_bytes: 24, tx_bytes: 6 },
  },
});

describe('container stats', () => {
  it('computes CPU % as docker stats does (100 = one CPU)', () => {
    // 1 s of CPU over 4 s of system time on 2 CPUs → 50 %.
    assert.equal(cpuPercent(sample), 50);
    const first = statsSchema.parse({ ...sample, precpu_stats: {} });
    assert.equal(cpuPercent(first), 0, 'no previous sample: nothing to compare');
  });

  it('leaves the page cache out of memory, for cgroup v1 and v2', () => {
    assert.equal(memoryUsage(sample), 40_000_000);
    const v1 = statsSchema.parse({
      ...sample,
      memory_stats: { usage: 30, stats: { total_inactive_file: 10 } },
    });
    assert.equal(memoryUsage(v1), 20);
  });

  it('sums the network interfaces and keeps the engine time', () => {
    assert.deepEqual(toSample('s1', sample), {
      streamId: 's1',
      time: Date.parse('2026-01-01T00:00:02Z'),
      cpuPercent: 50,
      memUsage: 40_000_000,
      memLimit: 1_000_000_000,
      netRx: 1024,
      netTx: 206,
    });
  });
});

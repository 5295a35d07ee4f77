import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiPhase, parseVmRssKiB, phasesFromLog, summarize } from './containers.js';

describe('containers bench helpers', () => {
  it('summarizes runs with their median and spread', () => {
    const s = summarize([10, 30, 20]);
    assert.deepEqual([s.median, s.min, s.max, s.spread], [20, 10, 30, 1]);
    assert.equal(summarize([]).spread, 0);
  });

  it('reads VmRSS from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   83488 kB\nRssAnon:\t 1 kB\n';
    assert.equal(parseVmRssKiB(status), 83488);
    assert.equal(parseVmRssKiB('Name:\tx\n'), undefined);
  });

  it('classifies lifecycle requests with and without a version prefix', () => {
    assert.equal(apiPhase('HEAD', '/_ping'), 'ping');
    assert.equal(apiPhase('POST', '/v1.41/containers/create?name=x'), 'create');
    assert.equal(apiPhase('POST', '/v1.41/containers/abc/attach?stream=1'), 'attach');
    assert.equal(apiPhase('POST', '/containers/abc/start'), 'start');
    assert.equal(apiPhase('POST', '/v1.41/containers/abc/wait?condition=removed'), 'wait');
    assert.equal(apiPhase('DELETE', '/v1.41/containers/abc?force=1'), 'delete');
    assert.equal(apiPhase('GET', '/v1.41/containers/abc/json'), undefined);
    assert.equal(apiPhase('GET', '/v1.41/containers/json'), undefined);
  });

  it('sums request times per phase from berthd.log lines and skips the rest', () => {
    const line = (method: string, path: string, ms: number) =>
      JSON.stringify({ time: 't', level: 'info', msg: 'request', method, path, status: 200, ms });
    const text = [
      line('HEAD', '/_ping', 1),
      line('POST', '/v1.41/containers/create', 40),
      '{"msg":"request","method":"POST"',
      JSON.stringify({ msg: 'other', method: 'POST', path: '/containers/create', ms: 9 }),
      line('POST', '/v1.41/containers/x/start', 120),
      line('HEAD', '/_ping', 2),
      '',
    ].join('\n');
    assert.deepEqual(phasesFromLog(text), { ping: 3, create: 40, start: 120 });
  });
});

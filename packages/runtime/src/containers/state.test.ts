import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateName, newContainerId, normalizeName } from './names.js';
import { RestartManager, restartOnDaemonStart, validateRestartPolicy } from './restart.js';
import {
  humanDuration,
  initialState,
  setPaused,
  setRestarting,
  setRunning,
  setStopped,
  statusText,
} from './state.js';

describe('container state', () => {
  it('prints durations as go-units HumanDuration does', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1_000), '1 second');
    assert.equal(humanDuration(42_000), '42 seconds');
    assert.equal(humanDuration(90_000), 'About a minute');
    assert.equal(humanDuration(5 * 60_000), '5 minutes');
    assert.equal(humanDuration(65 * 60_000), 'About an hour');
    assert.equal(humanDuration(5 * 3_600_000), '5 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
    assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
    assert.equal(humanDuration(90 * 86_400_000), '3 months');
    assert.equal(humanDuration(800 * 86_400_000), '2 years');
  });

  it('derives the ps status text from the state', () => {
    const s = initialState();
    assert.equal(statusText(s), 'Created');
    setRunning(s, 42);
    const started = Date.parse(s.StartedAt);
    assert.equal(statusText(s, started + 3_000), 'Up 3 seconds');
    setPaused(s, true);
    assert.equal(s.Status, 'paused');
    assert.equal(statusText(s, started + 3_000), 'Up 3 seconds (Paused)');
    setPaused(s, false);
    setStopped(s, { exitCode: 3 }, started + 10_000);
    assert.equal(s.Running, false);
    assert.equal(s.Pid, 0);
    assert.equal(statusText(s, started + 130_000), 'Exited (3) 2 minutes ago');
    setRestarting(s);
    assert.equal(s.Running, true);
    assert.match(statusText(s, started + 11_000), /^Restarting \(3\) 1 second ago$/);
  });
});

describe('container names and IDs', () => {
  it('validates names with moby rule and message', () => {
    assert.equal(normalizeName('web'), '/web');
    assert.equal(normalizeName('/a.b_c-1'), '/a.b_c-1');
    for (const bad of ['a', '-x', 'a/b', 'a b', '']) {
      assert.throws(() => normalizeName(bad), /Invalid container name/);
    }
  });

  it('generates adjective_surname names and 64-hex IDs', () => {
    assert.match(generateName(), /^\/[a-z]+_[a-z]+$/);
    assert.match(generateName(1), /^\/[a-z]+_[a-z]+\d$/);
    const id = newContainerId();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.doesNotMatch(id.slice(0, 12), /^\d+$/);
  });
});

describe('restart policies', () => {
  it('backs off from 100 ms doubling up to a minute, reset by a 10 s run', () => {
    const m = new RestartManager({ Name: 'always' });
    const delays = Array.from({ length: 12 }, () => m.shouldRestart(0, false, 10));
    assert.deepEqual(delays.slice(0, 4), [100, 200, 400, 800]);
    assert.equal(delays.at(-1), 60_000);
    assert.equal(m.shouldRestart(0, false, 10_000), 100);
  });

  it('on-failure counts retries and ignores success; unless-stopped honours a manual stop', () => {
    const f = new RestartManager({ Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal(f.shouldRestart(0, false, 10), undefined);
    assert.notEqual(f.shouldRestart(1, false, 10), undefined);
    assert.notEqual(f.shouldRestart(1, false, 10), undefined);
    assert.equal(f.shouldRestart(1, false, 10), undefined);
    assert.equal(f.count, 2);
    const u = new RestartManager({ Name: 'unless-stopped' });
    assert.equal(u.shouldRestart(0, true, 10), undefined);
    const a = new RestartManager({ Name: 'always' });
    a.cancel();
    assert.equal(a.shouldRestart(1, false, 10), undefined);
    assert.equal(new RestartManager({ Name: 'no' }).shouldRestart(1, false, 10), undefined);
  });

  it('decides daemon-start restarts and validates policies as moby does', () => {
    assert.equal(
      restartOnDaemonStart({ Name: 'always' }, { manuallyStopped: true, exitCode: 0 }),
      true,
    );
    assert.equal(
      restartOnDaemonStart({ Name: 'unless-stopped' }, { manuallyStopped: true, exitCode: 0 }),
      false,
    );
    assert.equal(
      restartOnDaemonStart({ Name: 'on-failure' }, { manuallyStopped: false, exitCode: 0 }),
      false,
    );
    assert.equal(
      restartOnDaemonStart({ Name: 'on-failure' }, { manuallyStopped: false, exitCode: 2 }),
      true,
    );
    assert.throws(
      () => validateRestartPolicy({ Name: 'sometimes' }, false),
      /unknown policy 'sometimes'/,
    );
    assert.throws(
      () => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 3 }, false),
      /only be used with 'on-failure'/,
    );
    assert.throws(() => validateRestartPolicy({ Name: 'always' }, true), /AutoRemove/);
    validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 }, false);
  });
});

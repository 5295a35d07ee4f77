import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeFrame } from '@berth/engine-client';
import { detachFilter, parseDetachKeys } from './attach.js';
import { JsonFileLog, parseLogConfig, parseSize, readLogEntries, timeNanos } from './logs.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('json-file logs', () => {
  it('writes one JSON line per output line, keeping partial lines until they end', () => {
    const path = join(dir, 'a-json.log');
    const log = new JsonFileLog(path, { driver: 'json-file', maxSize: 0, maxFile: 1 });
    assert.equal(log.write('stdout', 'one\ntw').length, 1);
    assert.equal(log.write('stderr', 'err\n').length, 1);
    assert.equal(log.write('stdout', 'o\nthree').length, 1);
    assert.equal(log.flush().length, 1);
    log.close();
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(
      lines.map((l) => [l.stream, l.log]),
      [
        ['stdout', 'one\n'],
        ['stderr', 'err\n'],
        ['stdout', 'two\n'],
        ['stdout', 'three'],
      ],
    );
    assert.match(lines[0]?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.deepEqual(
      readLogEntries(path, 1).map((e) => e.log),
      ['one\n', 'err\n', 'two\n', 'three'],
    );
  });

  it('splits lines longer than 16 KiB', () => {
    const path = join(dir, 'long-json.log');
    const log = new JsonFileLog(path, { driver: 'json-file', maxSize: 0, maxFile: 1 });
    log.write('stdout', `${'x'.repeat(40_000)}\n`);
    log.close();
    assert.deepEqual(
      readLogEntries(path, 1).map((e) => e.log.length),
      [16384, 16384, 40_000 - 32768 + 1],
    );
  });

  it('rotates at max-size and keeps max-file files, reading them oldest first', () => {
    const path = join(dir, 'rot-json.log');
    const log = new JsonFileLog(path, { driver: 'json-file', maxSize: 300, maxFile: 3 });
    for (let i = 0; i < 40; i++) log.write('stdout', `line ${i}\n`);
    log.close();
    for (const f of [path, `${path}.1`, `${path}.2`]) assert.ok(statSync(f).size <= 300, f);
    assert.ok(!existsSync(`${path}.3`));
    const logs = readLogEntries(path, 3).map((e) => e.log);
    assert.equal(logs.at(-1), 'line 39\n');
    assert.ok(!logs.includes('line 0\n'));
    const nums = logs.map((l) => Number(l.split(' ')[1]));
    assert.deepEqual(
      nums,
      [...nums].sort((a, b) => a - b),
      'in order across files',
    );
  });

  it('parses sizes and log options as moby does', () => {
    assert.equal(parseSize('10m'), 10 * 1024 * 1024);
    assert.equal(parseSize('1k'), 1024);
    assert.equal(parseSize('100'), 100);
    assert.equal(parseSize('1.5KB'), 1536);
    assert.throws(() => parseSize('ten'), /invalid size/);
    assert.deepEqual(
      parseLogConfig({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '2' } }),
      {
        driver: 'json-file',
        maxSize: 1024,
        maxFile: 2,
      },
    );
    assert.throws(() => parseLogConfig({ Type: 'syslog' }), /no log driver named 'syslog'/);
    assert.throws(() => parseLogConfig({ Config: { 'max-file': '0' } }), /max-file/);
    assert.throws(() => parseLogConfig({ Config: { bogus: '1' } }), /unknown log opt 'bogus'/);
  });

  it('turns RFC 3339 nano times into unix nanoseconds', () => {
    assert.equal(timeNanos('2024-01-02T03:04:05.123456789Z'), 1704164645123456789n);
  });
});

describe('attach helpers', () => {
  it('parses detach keys and filters them out of the input', () => {
    assert.deepEqual(parseDetachKeys(undefined), [0x10, 0x11]);
    assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 0x78]);
    assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys/);
    let detached = 0;
    const f = detachFilter([0x10, 0x11], () => detached++);
    assert.deepEqual([...f(Buffer.from('ab\x10'))], [0x61, 0x62]);
    assert.deepEqual([...f(Buffer.from('c'))], [0x10, 0x63], 'a broken sequence passes through');
    assert.deepEqual([...f(Buffer.from('\x10\x11rest'))], []);
    assert.equal(detached, 1);
  });

  it('frames output with the 8-byte multiplexing header', () => {
    assert.deepEqual(
      [...encodeFrame('stderr', Buffer.from('hi'))],
      [2, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69],
    );
  });
});

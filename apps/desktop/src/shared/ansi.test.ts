import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAnsi, stripAnsi } from './ansi.js';

describe('ANSI colours', () => {
  it('turns SGR colours and bold into segments, resetting on 0 and 39', () => {
    assert.deepEqual(parseAnsi('plain \x1b[31mred\x1b[0m \x1b[1;92mbright\x1b[39m bold\x1b[m.'), [
      { text: 'plain ' },
      { text: 'red', fg: 1 },
      { text: ' ' },
      { text: 'bright', fg: 10, bold: true },
      { text: ' bold', bold: true },
      { text: '.' },
    ]);
  });

  it('drops cursor and erase sequences, and merges what looks the same', () => {
    assert.deepEqual(parseAnsi('a\x1b[2Kb\x1b[1Ac'), [{ text: 'abc' }]);
    assert.equal(stripAnsi('\x1b[33mwarn\x1b[0m: x\x1b[K'), 'warn: x');
  });
});

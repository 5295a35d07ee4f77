import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envMap, processWord } from './words.js';

describe('processWord', () => {
  const env = new Map([
    ['A', 'alpha'],
    ['EMPTY', ''],
    ['SP', 'two words'],
  ]);
  const cases: Array<[string, string]> = [
    ['$A', 'alpha'],
    ['${A}', 'alpha'],
    ['x${A}y', 'xalphay'],
    ['$A-$B.', 'alpha-.'],
    ['${B:-dflt}', 'dflt'],
    ['${EMPTY:-dflt}', 'dflt'],
    ['${EMPTY-dflt}', ''],
    ['${B-dflt}', 'dflt'],
    ['${A:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${B:-${A}}', 'alpha'],
    ["'$A'", '$A'],
    ['"$A"', 'alpha'],
    ['"a b"', 'a b'],
    ['\\$A', '$A'],
    ['"\\$A"', '$A'],
    ['"\\x"', '\\x'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['$1', ''],
    ['${SP}', 'two words'],
  ];
  for (const [word, want] of cases) {
    it(`${word} → ${JSON.stringify(want)}`, () => {
      assert.equal(processWord(word, env), want);
    });
  }

  it('uses the escape directive token', () => {
    assert.equal(processWord('`$A', env, '`'), '$A');
    assert.equal(processWord('C:\\dir', env, '`'), 'C:\\dir');
  });

  it('refuses what Docker refuses', () => {
    assert.throws(() => processWord('${B:?must be set}', env), /B: must be set/);
    assert.throws(() => processWord('${A', env), /missing '}'/);
    assert.throws(() => processWord('"open', env), /matching "/);
    assert.throws(() => processWord('${A%x}', env), /unsupported modifier/);
  });
});

describe('envMap', () => {
  it('splits at the first =, later keys win', () => {
    assert.deepEqual(
      [...envMap(['A=1', 'B=x=y', 'A=2', 'C'])],
      [
        ['A', '2'],
        ['B', 'x=y'],
        ['C', ''],
      ],
    );
  });
});

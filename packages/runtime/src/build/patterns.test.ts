import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globMatch, IgnoreMatcher } from './patterns.js';

describe('globMatch (filepath.Match)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*.txt', 'a.txt', true],
    ['*.txt', 'dir/a.txt', false],
    ['dir/*.txt', 'dir/a.txt', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', false],
    ['[ab]*', 'bx', true],
    ['[!ab]*', 'bx', false],
    ['[!ab]*', 'cx', true],
    ['a.b', 'axb', false],
    ['\\*', '*', true],
  ];
  for (const [p, name, want] of cases) {
    it(`${p} ${want ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(globMatch(p, name), want);
    });
  }
});

describe('IgnoreMatcher (.dockerignore)', () => {
  const m = IgnoreMatcher.parse(
    ['# comment', '*.log', 'secret/', '**/tmp', 'docs', '!docs/keep.md', '/abs.txt', ''].join('\n'),
  );
  const cases: Array<[string, boolean]> = [
    ['a.log', true],
    ['sub/a.log', false],
    ['secret', true],
    ['secret/key', true],
    ['tmp', true],
    ['x/y/tmp', true],
    ['x/y/tmp/file', true],
    ['docs/a.md', true],
    ['docs/keep.md', false],
    ['abs.txt', true],
    ['src/main.c', false],
  ];
  for (const [path, want] of cases) {
    it(`${path} is ${want ? '' : 'not '}ignored`, () => {
      assert.equal(m.matches(path), want);
    });
  }

  it('knows when it has exceptions', () => {
    assert.equal(m.hasExclusions, true);
    assert.equal(IgnoreMatcher.parse('a\nb').hasExclusions, false);
    assert.equal(IgnoreMatcher.parse('# only a comment').empty, true);
  });
});

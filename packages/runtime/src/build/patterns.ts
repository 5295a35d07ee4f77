/**
 * Path patterns of the build context: `.dockerignore` as moby's patternmatcher reads it (`**`
 * spans directories, a pattern matching a parent directory matches what is below it, later
 * `!` exceptions re-include) and COPY/ADD wildcards as Go's filepath.Match (`*`, `?`, `[…]`,
 * never across `/`).
 */
import { posix } from 'node:path';

function classEnd(p: string, i: number): number {
  let j = i + 1;
  if (p[j] === '!' || p[j] === '^') j++;
  if (p[j] === ']') j++;
  while (j < p.length && p[j] !== ']') j++;
  return j < p.length ? j : -1;
}

/** Pattern → regex source; `doubleStar` enables the `**` of .dockerignore. */
function toRegex(pattern: string, doubleStar: boolean): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (doubleStar && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(?:.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = classEnd(pattern, i);
      if (end === -1) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\(?!\])/g, '\\\\')}]`;
        i = end;
      }
    } else if (ch === '\\' && i + 1 < pattern.length) {
      re += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/** Go's filepath.Match over `/`-separated paths. */
export function globMatch(pattern: string, name: string): boolean {
  return toRegex(pattern, false).test(name);
}

export function hasWildcards(path: string): boolean {
  return /[*?[]/.test(path);
}

interface IgnorePattern {
  regex: RegExp;
  exclusion: boolean;
}

/** Cleans like Go's filepath.Clean and drops a leading `/` (patterns are context-relative). */
function cleanPattern(p: string): string {
  const cleaned = posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
  return cleaned === '' ? '.' : cleaned;
}

export class IgnoreMatcher {
  private readonly patterns: IgnorePattern[];

  constructor(lines: readonly string[]) {
    this.patterns = [];
    for (const raw of lines) {
      let p = raw.trim();
      if (p === '' || p.startsWith('#')) continue;
      const exclusion = p.startsWith('!');
      if (exclusion) p = p.slice(1).trim();
      if (p === '') continue;
      this.patterns.push({ regex: toRegex(cleanPattern(p), true), exclusion });
    }
  }

  /** Parses the text of a `.dockerignore` file. */
  static parse(text: string): IgnoreMatcher {
    return new IgnoreMatcher(text.split(/\r?\n/));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  get hasExclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** Whether context-relative `path` (`a/b.txt`) is ignored. */
  matches(path: string): boolean {
    const parents = posix.dirname(path).split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let hit = p.regex.test(path);
      if (!hit && parents[0] !== '.') {
        for (let i = 1; i <= parents.length && !hit; i++) {
          hit = p.regex.test(parents.slice(0, i).join('/'));
        }
      }
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }
}

/**
 * Variable substitution as the Dockerfile's shell lexer does it (buildkit frontend/dockerfile/
 * shell/lex.go, ProcessWord): `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?msg}`, `${VAR?msg}`; single quotes are literal, double
 * quotes expand; the escape token makes the next character literal. Quotes are removed.
 */
import { InvalidParameterError } from '../api/errors.js';

export type Env = ReadonlyMap<string, string>;

const NAME_RE = /[A-Za-z0-9_]/;

class Lexer {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly env: Env,
    private readonly escape: string,
  ) {}

  private peek(): string | undefined {
    return this.s[this.pos];
  }

  private next(): string | undefined {
    return this.s[this.pos++];
  }

  /** Reads until `stop` (consumed) or the end; `stop` undefined reads to the end. */
  word(stop?: string): string {
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        if (stop !== undefined) throw new InvalidParameterError(`missing '${stop}' in '${this.s}'`);
        return out;
      }
      if (stop !== undefined && ch === stop) {
        this.pos++;
        return out;
      }
      if (ch === "'") out += this.singleQuoted();
      else if (ch === '"') out += this.doubleQuoted();
      else if (ch === '$') out += this.dollar();
      else if (ch === this.escape) {
        this.pos++;
        const n = this.next();
        if (n !== undefined) out += n;
      } else {
        out += ch;
        this.pos++;
      }
    }
  }

  private singleQuoted(): string {
    this.pos++;
    const end = this.s.indexOf("'", this.pos);
    if (end === -1)
      throw new InvalidParameterError(`unexpected end of statement while looking for matching '`);
    const out = this.s.slice(this.pos, end);
    this.pos = end + 1;
    return out;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        throw new InvalidParameterError('unexpected end of statement while looking for matching "');
      }
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === '$') out += this.dollar();
      else if (ch === this.escape) {
        this.pos++;
        const n = this.next();
        if (n === undefined) continue;
        // Inside double quotes only ", $ and the escape itself are escapable.
        out += n === '"' || n === '$' || n === this.escape ? n : this.escape + n;
      } else {
        out += ch;
        this.pos++;
      }
    }
  }

  private name(): string {
    let out = '';
    while (this.peek() !== undefined && NAME_RE.test(this.peek() as string)) out += this.next();
    return out;
  }

  private dollar(): string {
    this.pos++; // $
    const ch = this.peek();
    if (ch !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.env.get(name) ?? '';
    }
    this.pos++; // {
    const name = this.name();
    if (name === '') throw new InvalidParameterError(`bad substitution in '${this.s}'`);
    const value = this.env.get(name);
    let modifier = this.next();
    if (modifier === '}') return value ?? '';
    let colon = false;
    if (modifier === ':') {
      colon = true;
      modifier = this.next();
    }
    const word = this.word('}');
    const set = colon ? value !== undefined && value !== '' : value !== undefined;
    switch (modifier) {
      case '-':
        return set ? (value ?? '') : word;
      case '+':
        return set ? word : '';
      case '?':
        if (!set)
          throw new InvalidParameterError(`${name}: ${word || 'is not allowed to be unset'}`);
        return value ?? '';
      default:
        throw new InvalidParameterError(
          `unsupported modifier (${colon ? ':' : ''}${modifier ?? ''}) in substitution`,
        );
    }
  }
}

/** One word with its variables expanded and quotes removed. */
export function processWord(word: string, env: Env, escape = '\\'): string {
  return new Lexer(word, env, escape).word();
}

/** KEY=value strings → Map (the later of two equal keys wins, as in a process env). */
export function envMap(list: readonly string[] | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of list ?? []) {
    const eq = e.indexOf('=');
    if (eq === -1) out.set(e, '');
    else out.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return out;
}

/**
 * The Dockerfile parser of the classic builder (buildkit's frontend/dockerfile/parser plus the
 * argument shapes of its instructions package): parser directives (`# escape=`, `# syntax=`),
 * comments, line continuations, JSON (exec) vs shell forms, `--flag=value` options. Arguments
 * come back raw — quotes and `$VAR` untouched — because only some instructions expand them,
 * with the build's environment at that step (see words.ts). Errors name the line as moby does:
 * `dockerfile parse error line 3: unknown instruction: FORM`.
 */
import { InvalidParameterError } from '../api/errors.js';

export type Keyword =
  | 'from'
  | 'run'
  | 'cmd'
  | 'entrypoint'
  | 'copy'
  | 'add'
  | 'env'
  | 'arg'
  | 'label'
  | 'expose'
  | 'volume'
  | 'user'
  | 'workdir'
  | 'shell'
  | 'stopsignal'
  | 'healthcheck'
  | 'onbuild'
  | 'maintainer';

const KEYWORDS: ReadonlySet<string> = new Set<Keyword>([
  'from',
  'run',
  'cmd',
  'entrypoint',
  'copy',
  'add',
  'env',
  'arg',
  'label',
  'expose',
  'volume',
  'user',
  'workdir',
  'shell',
  'stopsignal',
  'healthcheck',
  'onbuild',
  'maintainer',
]);

/** The flags each instruction accepts (moby's BFlags); others are refused. */
const FLAGS: Partial<Record<Keyword, readonly string[]>> = {
  from: ['platform'],
  copy: ['from', 'chown', 'chmod', 'link'],
  add: ['chown', 'chmod', 'link', 'checksum'],
  run: ['network', 'security', 'mount'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

export interface Instruction {
  keyword: Keyword;
  /** The instruction as written, continuations joined (for `Step n/m : …`). */
  original: string;
  /** `--name=value` options, raw. */
  flags: Record<string, string>;
  /**
   * The arguments in the shape the instruction takes: exec form → the JSON array; RUN/CMD/
   * ENTRYPOINT shell form → [the command]; ENV/LABEL → [k1, v1, k2, v2…] (quotes kept);
   * ARG → [`name` or `name=value`…]; others → whitespace-separated words.
   */
  args: string[];
  /** The exec (JSON array) form was used. */
  json: boolean;
  /** 1-based line where the instruction starts. */
  line: number;
  /** ONBUILD's instruction. */
  trigger?: Instruction;
  /** HEALTHCHECK: the CMD/NONE part. */
  healthcheck?: { kind: 'none' } | { kind: 'cmd'; args: string[]; json: boolean };
}

export interface Dockerfile {
  escape: string;
  syntax?: string;
  instructions: Instruction[];
}

export class DockerfileParseError extends InvalidParameterError {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`dockerfile parse error line ${line}: ${detail}`);
  }
}

const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

interface LogicalLine {
  text: string;
  line: number;
}

/** Joins continuation lines and drops comments, after the parser directives. */
function logicalLines(text: string): { escape: string; syntax?: string; lines: LogicalLine[] } {
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let syntax: string | undefined;
  let i = 0;
  const seen = new Set<string>();
  for (; i < raw.length; i++) {
    const m = DIRECTIVE_RE.exec(raw[i] ?? '');
    if (!m) break;
    const name = (m[1] ?? '').toLowerCase();
    const value = m[2] ?? '';
    if (name !== 'escape' && name !== 'syntax') break; // an ordinary comment ends directives
    if (seen.has(name))
      throw new DockerfileParseError(i + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new DockerfileParseError(
          i + 1,
          `invalid escape token '${value}' does not match ` + '` or \\',
        );
      }
      escape = value;
    } else syntax = value;
  }

  const lines: LogicalLine[] = [];
  let current: LogicalLine | undefined;
  for (; i < raw.length; i++) {
    const line = raw[i] ?? '';
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue; // comments vanish, inside continuations too
    if (current && trimmed === '') continue; // blank lines inside a continuation
    if (!current && trimmed === '') continue;
    const body = line.replace(/\s+$/, '');
    const continues = body.endsWith(escape);
    const part = continues ? body.slice(0, -1) : body;
    if (current) current.text += part;
    else current = { text: part.replace(/^\s+/, ''), line: i + 1 };
    if (!continues) {
      if (current.text.trim() !== '') lines.push(current);
      current = undefined;
    }
  }
  if (current && current.text.trim() !== '') lines.push(current);
  return { escape, ...(syntax ? { syntax } : {}), lines };
}

/** A JSON array of strings, or undefined when `rest` is not one (then it is shell form). */
export function jsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // shell form after all
  }
  return undefined;
}

/**
 * buildkit's parseWords: splits on whitespace outside quotes, keeping quotes and escapes in
 * the words (expansion removes them later).
 */
export function splitWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  let blankOk = false;
  for (let pos = 0; pos < rest.length; pos++) {
    let ch = rest[pos] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === escape && quote !== "'") {
        if (pos + 1 === rest.length) continue;
        word += ch;
        ch = rest[++pos] as string;
      }
      word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord && (blankOk || word.length > 0)) words.push(word);
      inWord = false;
      word = '';
      blankOk = false;
      continue;
    }
    inWord = true;
    if (ch === '"' || ch === "'") {
      quote = ch;
      blankOk = true;
    } else if (ch === escape) {
      if (pos + 1 === rest.length) continue;
      word += ch;
      ch = rest[++pos] as string;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** Leading `--name=value` options; returns them and what follows. */
function takeFlags(
  keyword: Keyword,
  rest: string,
  line: number,
): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let r = rest;
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(r);
    if (!m) break;
    const name = m[1] ?? '';
    if (!(FLAGS[keyword] ?? []).includes(name)) {
      throw new DockerfileParseError(line, `unknown flag: ${name}`);
    }
    if (m[2] === undefined) {
      throw new DockerfileParseError(line, `missing a value on flag: ${name}`);
    }
    flags[name] = m[2];
    r = r.slice(m[0].length);
  }
  return { flags, rest: r };
}

/** ENV/LABEL `k=v k2="v 2"` or the legacy `k value with spaces` → [k, v, k2, v2]. */
function nameValues(keyword: Keyword, rest: string, escape: string, line: number): string[] {
  const words = splitWords(rest, escape);
  const upper = keyword.toUpperCase();
  if (words.length === 0)
    throw new DockerfileParseError(line, `${upper} requires at least one argument`);
  if (!(words[0] ?? '').includes('=')) {
    const m = /^(\S+)\s+([\s\S]*\S)\s*$/.exec(rest.trim());
    if (!m) throw new DockerfileParseError(line, `${upper} must have two arguments`);
    return [m[1] ?? '', m[2] ?? ''];
  }
  const out: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq === -1) {
      throw new DockerfileParseError(
        line,
        `Syntax error - can't find = in "${w}". Must be of the form: name=value`,
      );
    }
    if (eq === 0) throw new DockerfileParseError(line, `${upper} names can not be blank`);
    out.push(w.slice(0, eq), w.slice(eq + 1));
  }
  return out;
}

function parseInstruction(text: string, line: number, escape: string, nested = false): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  const word = m?.[1] ?? '';
  const keyword = word.toLowerCase();
  if (!KEYWORDS.has(keyword)) {
    throw new DockerfileParseError(line, `unknown instruction: ${word.toUpperCase()}`);
  }
  const kw = keyword as Keyword;
  const upper = word.toUpperCase();
  const { flags, rest } = takeFlags(kw, (m?.[2] ?? '').trim(), line);
  const base = { keyword: kw, original: text.trim(), flags, line };
  const need = (ok: boolean, detail: string) => {
    if (!ok) throw new DockerfileParseError(line, detail);
  };
  switch (kw) {
    case 'from': {
      const args = rest.split(/\s+/).filter(Boolean);
      need(
        args.length === 1 || (args.length === 3 && (args[1] ?? '').toLowerCase() === 'as'),
        'FROM requires either one or three arguments',
      );
      return { ...base, args, json: false };
    }
    case 'run':
    case 'cmd':
    case 'entrypoint': {
      const json = jsonArray(rest);
      if (kw === 'run') need(rest !== '', 'RUN requires at least one argument');
      return json ? { ...base, args: json, json: true } : { ...base, args: [rest], json: false };
    }
    case 'shell': {
      const json = jsonArray(rest);
      need(json !== undefined, 'SHELL requires the arguments to be in JSON form');
      need((json ?? []).length > 0, 'SHELL requires at least one argument');
      return { ...base, args: json ?? [], json: true };
    }
    case 'copy':
    case 'add': {
      const json = jsonArray(rest);
      const args = json ?? rest.split(/\s+/).filter(Boolean);
      need(args.length >= 2, `${upper} requires at least two arguments`);
      return { ...base, args, json: json !== undefined };
    }
    case 'env':
    case 'label':
      return { ...base, args: nameValues(kw, rest, escape, line), json: false };
    case 'arg': {
      const args = splitWords(rest, escape);
      need(args.length > 0, 'ARG requires at least one argument');
      for (const a of args) need(!a.startsWith('='), 'ARG names can not be blank');
      return { ...base, args, json: false };
    }
    case 'volume': {
      const json = jsonArray(rest);
      const args = json ?? rest.split(/\s+/).filter(Boolean);
      need(args.length > 0, 'VOLUME requires at least one argument');
      return { ...base, args, json: json !== undefined };
    }
    case 'expose': {
      const args = rest.split(/\s+/).filter(Boolean);
      need(args.length > 0, 'EXPOSE requires at least one argument');
      return { ...base, args, json: false };
    }
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer': {
      need(rest !== '', `${upper} requires exactly one argument`);
      const args = kw === 'maintainer' ? [rest] : rest.split(/\s+/);
      need(args.length === 1, `${upper} requires exactly one argument`);
      return { ...base, args, json: false };
    }
    case 'healthcheck': {
      const hm = /^(\S+)\s*([\s\S]*)$/.exec(rest);
      const type = (hm?.[1] ?? '').toUpperCase();
      const body = (hm?.[2] ?? '').trim();
      if (type === 'NONE') {
        need(body === '', 'HEALTHCHECK NONE takes no arguments');
        need(Object.keys(flags).length === 0, 'HEALTHCHECK NONE takes no flags');
        return { ...base, args: [], json: false, healthcheck: { kind: 'none' } };
      }
      need(type === 'CMD', `Unknown type "${type}" in HEALTHCHECK (try CMD)`);
      need(body !== '', 'Missing command after HEALTHCHECK CMD');
      const json = jsonArray(body);
      const hc = json
        ? { kind: 'cmd' as const, args: json, json: true }
        : { kind: 'cmd' as const, args: [body], json: false };
      return { ...base, args: [], json: hc.json, healthcheck: hc };
    }
    case 'onbuild': {
      need(!nested, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      need(rest !== '', 'ONBUILD requires at least one argument');
      const trigger = parseInstruction(rest, line, escape, true);
      need(
        trigger.keyword !== 'from' && trigger.keyword !== 'maintainer',
        `${trigger.keyword.toUpperCase()} isn't allowed as an ONBUILD trigger`,
      );
      return { ...base, args: [rest], json: false, trigger };
    }
  }
}

export function parseDockerfile(text: string): Dockerfile {
  const { escape, syntax, lines } = logicalLines(text);
  const instructions = lines.map((l) => parseInstruction(l.text, l.line, escape));
  return { escape, ...(syntax ? { syntax } : {}), instructions };
}

/** Parses one instruction (an ONBUILD trigger stored in an image), with the default escape. */
export function parseLine(text: string): Instruction {
  return parseInstruction(text, 1, '\\');
}

/** Durations of HEALTHCHECK flags as Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(value: string): number {
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 6e10,
    h: 3.6e12,
  };
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    total += Number(m[1]) * (units[m[2] ?? ''] ?? 0);
    pos = re.lastIndex;
  }
  if (pos !== value.length || value === '')
    throw new InvalidParameterError(`time: invalid duration "${value}"`);
  return Math.round(total);
}

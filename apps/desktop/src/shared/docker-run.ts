/** The `docker run` command line equivalent to a Run dialog, for people to copy. */
import type { RunRequest } from './contract.js';

/** Quotes for a POSIX shell only when needed. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function dockerRunLine(req: RunRequest): string {
  const words = ['docker', 'run', '-d'];
  if (req.name) words.push('--name', req.name);
  for (const p of req.ports ?? []) {
    const proto = p.protocol && p.protocol !== 'tcp' ? `/${p.protocol}` : '';
    words.push(
      '-p',
      p.hostPort ? `${p.hostPort}:${p.containerPort}${proto}` : `${p.containerPort}${proto}`,
    );
  }
  for (const e of req.env ?? []) words.push('-e', e);
  for (const v of req.volumes ?? []) words.push('-v', v);
  if (req.restart && req.restart !== 'no') words.push('--restart', req.restart);
  words.push(req.image || '<image>', ...(req.command ?? []));
  return words.map(shellQuote).join(' ');
}

/**
 * Splits a command typed in one line into words, honouring '…' and "…" quotes and
 * backslashes as a shell would (no expansions).
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? '';
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

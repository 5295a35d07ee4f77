/**
 * ANSI colours in container logs: SGR sequences (`ESC[31m`, `ESC[1;92m`, `ESC[0m`) become
 * styled segments; every other escape sequence (cursor moves, erase) is dropped, since a log
 * view is not a terminal.
 */
export interface AnsiSegment {
  text: string;
  /** 0–15: the 8 normal then the 8 bright colours. */
  fg?: number;
  bold?: boolean;
}

// CSI sequences (ESC [ params final-byte) and two-byte escapes.
const ESCAPES = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b[@-Z\\-_]/g;

export function parseAnsi(text: string): AnsiSegment[] {
  const out: AnsiSegment[] = [];
  let fg: number | undefined;
  let bold = false;
  let last = 0;
  const push = (s: string) => {
    if (!s) return;
    const prev = out.at(-1);
    if (prev && prev.fg === fg && Boolean(prev.bold) === bold) prev.text += s;
    else out.push({ text: s, ...(fg !== undefined ? { fg } : {}), ...(bold ? { bold } : {}) });
  };
  for (const m of text.matchAll(ESCAPES)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== 'm') continue;
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) {
        fg = undefined;
        bold = false;
      } else if (code === 1) bold = true;
      else if (code === 22) bold = false;
      else if (code >= 30 && code <= 37) fg = code - 30;
      else if (code >= 90 && code <= 97) fg = code - 90 + 8;
      else if (code === 39) fg = undefined;
    }
  }
  push(text.slice(last));
  return out;
}

export function stripAnsi(text: string): string {
  return text.replace(ESCAPES, '');
}

#!/usr/bin/env node
/** The background host process of one machine (see background.ts). */
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Machine } from '../machine.js';
import { formatHostLogLine } from './background.js';

const { values } = parseArgs({
  options: { name: { type: 'string', default: 'default' }, root: { type: 'string' } },
});
const machine = new Machine({ name: values.name, ...(values.root ? { root: values.root } : {}) });
const log = (line: string) => appendFileSync(machine.paths.hostLog, line);
machine.on('event', (event) => {
  log(formatHostLogLine(event));
  // The VM went away on its own: nothing left to serve.
  if (event.type === 'state' && event.state === 'stopped') exit(0);
});
mkdirSync(machine.paths.runDir, { recursive: true, mode: 0o700 });
writeFileSync(machine.paths.hostPid, `${process.pid}\n`);

let stopping = false;
function exit(code: number): void {
  rmSync(machine.paths.hostPid, { force: true });
  process.exit(code);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    machine.stop().then(
      () => exit(0),
      (e: unknown) => {
        log(
          formatHostLogLine({
            type: 'notice',
            message: `stop: ${e instanceof Error ? e.message : String(e)}`,
          }),
        );
        exit(1);
      },
    );
  });
}

try {
  await machine.start();
} catch {
  // The error was logged as a state event; a guest left half-booted is not worth keeping.
  await machine.stop({ timeoutMs: 5000 }).catch(() => undefined);
  exit(1);
}

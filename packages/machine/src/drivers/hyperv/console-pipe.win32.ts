#!/usr/bin/env node
/**
 * Copies the guest console from Hyper-V's COM1 named pipe into the machine's serial log, where
 * the Machine service reads boot stages as it does for QEMU. Runs detached beside the VM and
 * ends when the pipe closes (the VM stopped).
 */
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const [pipe, logFile] = process.argv.slice(2);
if (!pipe || !logFile) {
  console.error('usage: console-pipe <pipe> <log file>');
  process.exit(2);
}
const out = createWriteStream(logFile, { flags: 'w' });
// The pipe appears when the VM starts; keep trying for a bounded time.
for (let i = 0; i < 300; i++) {
  const connected = await new Promise<boolean>((resolve) => {
    const s = connect(pipe);
    s.once('connect', () => {
      s.pipe(out, { end: false });
      s.once('close', () => resolve(true));
    });
    s.once('error', () => resolve(false));
  });
  if (connected) break;
  await sleep(200);
}
out.end();

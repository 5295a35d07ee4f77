/**
 * Follows a log file line by line (the guest console that QEMU writes), surviving the file being
 * replaced or truncated by the next boot. fs.watch wakes it; a slow timer covers file systems
 * where watch events are lost.
 */
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface Tail {
  close(): void;
}

export function tailLines(
  file: string,
  onLine: (line: string) => void,
  opts: { fromStart?: boolean; intervalMs?: number } = {},
): Tail {
  let offset = 0;
  let ino = -1;
  let partial = '';
  let closed = false;
  try {
    const st = statSync(file);
    ino = st.ino;
    offset = opts.fromStart === false ? st.size : 0;
  } catch {
    // Not there yet.
  }
  const pump = () => {
    if (closed) return;
    let st;
    try {
      st = statSync(file);
    } catch {
      return;
    }
    if (st.ino !== ino || st.size < offset) {
      ino = st.ino;
      offset = 0;
      partial = '';
    }
    if (st.size === offset) return;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        partial += buf.subarray(0, n).toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line.replace(/\r$/, ''));
      }
    } finally {
      closeSync(fd);
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), () => pump());
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(pump, opts.intervalMs ?? 250);
  pump();
  return {
    close() {
      closed = true;
      clearInterval(timer);
      watcher?.close();
    },
  };
}

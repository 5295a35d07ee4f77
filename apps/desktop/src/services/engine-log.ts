/** The last lines of the engine's log file, read from its end (the file may be large). */
import { open } from 'node:fs/promises';

const MAX_BYTES = 512 * 1024;

export async function tailFile(path: string, lines: number): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, MAX_BYTES);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const all = buf.toString('utf8').split('\n');
    // A partial first line (we started mid-file) is dropped, as is the empty one after the last \n.
    if (length < size) all.shift();
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines);
  } finally {
    await fh.close();
  }
}

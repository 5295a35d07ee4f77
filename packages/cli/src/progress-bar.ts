/** Boot progress on a terminal: one redrawn line with a bar; plain lines when not a TTY. */
import type { MachineEvent } from '@berth/machine';
import type { Io } from './io.js';

export function progressPrinter(io: Io): { onEvent(e: MachineEvent): void; done(): void } {
  let drawn = false;
  const clear = () => {
    if (drawn) io.err('\r\x1b[2K');
    drawn = false;
  };
  return {
    onEvent(e) {
      if (e.type === 'progress') {
        const { percent, message } = e.progress;
        if (io.isTty) {
          const width = 24;
          const full = Math.round((percent / 100) * width);
          clear();
          io.err(
            `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(percent).padStart(3)}% ${message}`,
          );
          drawn = true;
        } else {
          io.err(`${String(percent).padStart(3)}% ${message}\n`);
        }
      } else if (e.type === 'notice') {
        clear();
        io.err(`note: ${e.message}\n`);
      } else if (e.type === 'port-error') {
        clear();
        io.err(
          `port ${e.port.hostPort}/${e.port.protocol} of ${e.port.containerName}: ${e.message}\n`,
        );
      }
    },
    done() {
      if (drawn) io.err('\n');
      drawn = false;
    },
  };
}

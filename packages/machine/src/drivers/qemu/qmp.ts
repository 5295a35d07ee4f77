/** A minimal QMP client: connect, negotiate capabilities, run one command, disconnect. */
import { createConnection } from 'node:net';

export function qmpExecute(
  socketPath: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buffer = '';
    let step: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(
      () => finish(new Error(`QMP ${command}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    sock.setEncoding('utf8');
    sock.on('error', (e) => finish(e));
    sock.on('close', () => {
      // `quit` closes the socket before (or instead of) answering.
      if (step === 'command' && command === 'quit') finish(undefined, {});
      else finish(new Error(`QMP ${command}: connection closed`));
    });
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc?: string };
          event?: string;
        };
        if (msg.event) continue;
        if (step === 'greeting' && msg.QMP) {
          step = 'capabilities';
          sock.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (step === 'capabilities') {
          if (msg.error)
            return finish(new Error(`QMP: ${msg.error.desc ?? 'capabilities refused'}`));
          step = 'command';
          sock.write(
            `${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`,
          );
        } else if (step === 'command') {
          if (msg.error) return finish(new Error(`QMP ${command}: ${msg.error.desc ?? 'error'}`));
          return finish(undefined, msg.return);
        }
      }
    });
  });
}

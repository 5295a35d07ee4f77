/** A UDP echo server inside a container's network namespace, for published-port tests. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { within } from './process.js';

/**
 * Answers each datagram on port 9000 with `pong:<datagram>`, from inside the network namespace
 * at `netns` (Node through nsenter: Debian's busybox nc has no -u). Resolves once it listens;
 * the server is killed when the test `t` ends.
 */
export async function startUdpEcho(t: TestContext, netns: string): Promise<void> {
  const echo = spawn(
    'nsenter',
    [
      `--net=${netns}`,
      process.execPath,
      '-e',
      "const s=require('dgram').createSocket('udp4');" +
        "s.on('message',(m,r)=>s.send('pong:'+m,r.port,r.address));" +
        "s.bind(9000,'0.0.0.0',()=>console.log('ready'));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => echo.kill('SIGKILL'));
  await within(once(echo.stdout, 'data'), 10_000, 'udp echo server');
}

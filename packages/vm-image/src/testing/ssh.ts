/** A test-side ssh2 client of the guest agent. */
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { AGENT_USER, ENGINE_SOCKET } from '../agent/protocol.js';

export function connectAgent(
  port: number,
  privateKey: string,
  timeoutMs = 20_000,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port,
      username: AGENT_USER,
      privateKey,
      readyTimeout: timeoutMs,
    });
  });
}

export function openEngineStream(
  client: Client,
  socketPath = ENGINE_SOCKET,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.openssh_forwardOutStreamLocal(socketPath, (err, ch) =>
      err ? reject(err) : resolve(ch),
    );
  });
}

/** One HTTP/1.1 request over its own channel (Connection: close), the raw response split. */
export async function engineRequest(
  client: Client,
  method: string,
  path: string,
  socketPath = ENGINE_SOCKET,
): Promise<{ status: number; body: string }> {
  const ch = await openEngineStream(client, socketPath);
  const chunks: Buffer[] = [];
  ch.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => ch.on('close', () => resolve()));
  ch.end(`${method} ${path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n`);
  await closed;
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  let body = rest.join('\r\n\r\n');
  if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
  return { status, body };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

export function execIn(
  client: Client,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      ch.on('data', (c: Buffer) => (stdout += c.toString()));
      ch.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve({ code, stdout, stderr }));
    });
  });
}

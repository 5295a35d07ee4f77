/**
 * Raw HTTP over a unix socket with node:http, for checks that must see exactly what the
 * engine sends (status, headers, body bytes) without a client library in between.
 */
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

export function socketRequest(
  socket: string,
  path: string,
  opts: RawRequest = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path,
        method: opts.method ?? 'GET',
        headers: { host: 'docker', ...opts.headers },
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.once('error', reject);
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.once('timeout', () =>
      req.destroy(new Error(`${path}: no answer in ${opts.timeoutMs ?? 10_000} ms`)),
    );
    req.once('error', reject);
    req.end(opts.body);
  });
}

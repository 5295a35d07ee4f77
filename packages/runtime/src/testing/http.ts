/** Plain HTTP GETs from tests to servers on 127.0.0.1 (published ports, httpd in containers). */
import { get } from 'node:http';

/**
 * The body of `url`, within 10 s. With `requireOk` a status other than 200 is an error (for
 * polling until a server serves a file), else any status's body is returned.
 */
export function httpGet(url: string, { requireOk = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString('utf8')));
      res.on('end', () =>
        !requireOk || res.statusCode === 200
          ? resolve(body)
          : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('http timeout')));
    req.on('error', reject);
  });
}

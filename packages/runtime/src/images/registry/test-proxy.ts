/**
 * For tests: a small HTTP server on 127.0.0.1 in front of a real registry that records every
 * request and can play a registry with token auth — answering with Bearer challenges, issuing
 * tokens from its own `/token` realm (behind Basic credentials), and forwarding only requests
 * that carry an issued token.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyOptions {
  /** Require Bearer tokens from our `/token` realm. */
  bearer?: {
    /** Basic credentials the token endpoint wants; anonymous tokens when absent. */
    username?: string;
    password?: string;
    /** The field the token comes in (both exist in the wild). */
    field?: 'token' | 'access_token';
  };
  /** Answer blob GETs with a redirect to the upstream registry, as registries on S3 do. */
  redirectBlobs?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
}

export interface RegistryProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  requests: RecordedRequest[];
  /** Scopes asked of the token endpoint, one entry per token request. */
  tokenScopes: string[][];
  stop(): Promise<void>;
}

export async function startRegistryProxy(
  upstream: string,
  opts: ProxyOptions = {},
): Promise<RegistryProxy> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const tokenScopes: string[][] = [];
  const tokens = new Set<string>();
  let host = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
    };
    if (req.headers.authorization) record.authorization = req.headers.authorization;
    requests.push(record);
    const bearer = opts.bearer;

    if (bearer && url.pathname === '/token') {
      const wanted =
        bearer.username === undefined
          ? undefined
          : `Basic ${Buffer.from(`${bearer.username}:${bearer.password ?? ''}`).toString('base64')}`;
      if (wanted !== undefined && req.headers.authorization !== wanted) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"bad credentials"}');
        return;
      }
      tokenScopes.push(url.searchParams.getAll('scope'));
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ [bearer.field ?? 'token']: token, expires_in: 300 }));
      return;
    }
    if (bearer) {
      const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (presented === undefined || !tokens.has(presented)) {
        req.resume();
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry"`,
          })
          .end(
            JSON.stringify({
              errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
            }),
          );
        return;
      }
    }
    if (opts.redirectBlobs && req.method === 'GET' && /\/blobs\/sha256:/.test(url.pathname)) {
      req.resume();
      res.writeHead(307, { location: `${upstream.replace(/\/$/, '')}${url.pathname}` }).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    requests,
    tokenScopes,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

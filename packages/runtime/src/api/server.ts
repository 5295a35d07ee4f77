/**
 * The Engine API's HTTP layer: strips the optional `/vX.Y` prefix, enforces the supported
 * version range, routes, and turns thrown EngineErrors into Docker's `{"message": ...}` replies.
 * It knows nothing about images or containers; route modules register on the Router.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { toErrorResponse } from './errors.js';
import { sendJson } from './http.js';
import type { Router } from './router.js';

export const API_VERSION = '1.56';
export const MIN_API_VERSION = '1.24';

export interface ApiServerOptions {
  router: Router;
  /** Engine version for the `Server:` header, e.g. "0.1.0". */
  engineVersion: string;
  /** Called once per request with the outcome; used for the daemon's structured log. */
  onRequest?: (entry: {
    method: string;
    path: string;
    status: number;
    ms: number;
    error?: string;
  }) => void;
}

/** Compares "1.41" style versions numerically. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

export function createApiServer(options: ApiServerOptions): Server {
  const { router, engineVersion, onRequest } = options;
  return createServer((req, res) => {
    const started = Date.now();
    let error: string | undefined;
    res.on('finish', () => {
      onRequest?.({
        method: req.method ?? '',
        path: req.url ?? '',
        status: res.statusCode,
        ms: Date.now() - started,
        ...(error === undefined ? {} : { error }),
      });
    });
    handle(req, res, router, engineVersion).catch((err: unknown) => {
      const { statusCode, message } = toErrorResponse(err);
      error = message;
      if (res.headersSent) {
        // A stream already started: the status is gone, so end it; streaming routes report
        // their own errors in-band before this point.
        res.end();
        return;
      }
      sendJson(res, statusCode, { message });
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  router: Router,
  engineVersion: string,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://engine');
  let path = url.pathname;
  let apiVersion = API_VERSION;
  const prefixed = VERSION_PREFIX.exec(path);
  if (prefixed) {
    apiVersion = prefixed[1] ?? API_VERSION;
    path = prefixed[2] ?? '/';
  }

  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', `Docker/${engineVersion} (linux)`);

  if (compareApiVersions(apiVersion, API_VERSION) > 0) {
    sendJson(res, 400, {
      message: `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`,
    });
    return;
  }
  if (compareApiVersions(apiVersion, MIN_API_VERSION) < 0) {
    sendJson(res, 400, {
      message: `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    });
    return;
  }

  const match = router.match(req.method ?? 'GET', path);
  if (match.kind === 'not-found') {
    sendJson(res, 404, { message: 'page not found' });
    return;
  }
  if (match.kind === 'method-not-allowed') {
    sendJson(res, 405, { message: 'method not allowed' });
    return;
  }
  await match.handler({ req, res, params: match.params, query: url.searchParams, apiVersion });
}

/**
 * Method + path routing for the Engine API. Patterns use moby's syntax: `{id}` matches one path
 * segment, `{name:.*}` matches greedily across slashes (image names contain them:
 * `/images/{name:.*}/json` must route `localhost:5000/a/b:tag`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version this request is served at (from the `/vX.Y` prefix, or the default). */
  apiVersion: string;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

interface Route {
  method: Method;
  regex: RegExp;
  names: string[];
  handler: Handler;
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{(\w+)(?::(.*))?\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(m[1] ?? '');
      return m[2] === '.*' ? '(.+)' : '([^/]+)';
    })
    .join('');
  return { regex: new RegExp(`^${source}/?$`), names };
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: Method, pattern: string, handler: Handler): this {
    this.routes.push({ method, ...compile(pattern), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  head(pattern: string, handler: Handler): this {
    return this.add('HEAD', pattern, handler);
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }

  put(pattern: string, handler: Handler): this {
    return this.add('PUT', pattern, handler);
  }

  delete(pattern: string, handler: Handler): this {
    return this.add('DELETE', pattern, handler);
  }

  match(method: string, path: string): RouteMatch {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { kind: 'found', handler: route.handler, params };
    }
    return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  }
}

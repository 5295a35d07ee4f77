/**
 * Who may talk to the dashboard: whoever opened the printed URL (its one-time `?token=` becomes
 * an HttpOnly SameSite=Strict cookie), from a page of this very origin. Anything else on this
 * machine — another user's process, a web page in the user's browser, a DNS-rebound name — is
 * refused before it reaches the API.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE = 'berth_token';

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

export function tokenCookie(token: string): string {
  return `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

export class Guard {
  constructor(
    private readonly token: string,
    /** `http://127.0.0.1:PORT`: the one origin allowed. */
    private readonly origin: string,
  ) {}

  /** The token from the query string, when it is the right one. */
  queryToken(url: URL): boolean {
    const t = url.searchParams.get('token');
    return t !== null && sameSecret(t, this.token);
  }

  private hostOk(req: IncomingMessage): boolean {
    // A DNS-rebinding page reaches us under its own host name: refuse any Host but ours.
    const host = req.headers.host ?? '';
    return `http://${host}` === this.origin;
  }

  /** Plain HTTP requests: the cookie (or the token in the URL) and our Host. */
  http(req: IncomingMessage, url: URL): Verdict {
    if (!this.hostOk(req)) return { ok: false, status: 403, reason: 'wrong host' };
    const cookie = cookieToken(req);
    if ((cookie !== undefined && sameSecret(cookie, this.token)) || this.queryToken(url))
      return { ok: true };
    return { ok: false, status: 401, reason: 'missing or wrong token' };
  }

  /** WebSocket upgrades: additionally, the page must be ours (browsers always send Origin). */
  websocket(req: IncomingMessage): Verdict {
    if (!this.hostOk(req)) return { ok: false, status: 403, reason: 'wrong host' };
    if (req.headers.origin !== this.origin)
      return { ok: false, status: 403, reason: 'foreign origin' };
    const cookie = cookieToken(req);
    if (cookie === undefined || !sameSecret(cookie, this.token))
      return { ok: false, status: 401, reason: 'missing or wrong token' };
    return { ok: true };
  }
}

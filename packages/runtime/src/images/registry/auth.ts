/**
 * Registry authentication: the credentials Docker clients send (`X-Registry-Auth`), the
 * `WWW-Authenticate` challenges registries answer with, and Bearer tokens fetched from the
 * challenge's realm (the distribution token protocol), cached per scope until they expire.
 */
import { z } from 'zod';
import { InvalidParameterError, UnauthorizedError } from '../../api/errors.js';
import { readBody, send } from './transport.js';

/** Docker's AuthConfig, as carried base64url-encoded in `X-Registry-Auth`. */
export const registryAuthSchema = z.looseObject({
  username: z.string().optional(),
  password: z.string().optional(),
  /** base64("username:password"), as stored in ~/.docker/config.json. */
  auth: z.string().optional(),
  email: z.string().optional(),
  serveraddress: z.string().optional(),
  /** An OAuth2 refresh token, exchanged at the token endpoint. */
  identitytoken: z.string().optional(),
  /** A bearer token sent as it is. */
  registrytoken: z.string().optional(),
});
export type RegistryAuth = z.infer<typeof registryAuthSchema>;

/**
 * Decodes an `X-Registry-Auth` header. Absent, empty or "{}" means anonymous (undefined).
 * Throws InvalidParameterError for undecodable values.
 */
export function decodeRegistryAuth(header: string | undefined): RegistryAuth | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.trim(), 'base64url').toString('utf8'));
  } catch (e) {
    throw new InvalidParameterError(`invalid X-Registry-Auth header: ${(e as Error).message}`);
  }
  const r = registryAuthSchema.safeParse(parsed);
  if (!r.success)
    throw new InvalidParameterError(`invalid X-Registry-Auth header: ${r.error.message}`);
  const auth = { ...r.data };
  if (auth.auth && auth.username === undefined) {
    const plain = Buffer.from(auth.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      auth.username = plain.slice(0, i);
      auth.password = plain.slice(i + 1);
    }
  }
  const hasCredentials =
    !!auth.username || !!auth.password || !!auth.identitytoken || !!auth.registrytoken;
  return hasCredentials ? auth : undefined;
}

/** Encodes credentials the way the docker CLI does (for tests and the engine client). */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` value, e.g. `Bearer realm="https://x/token",service="x"`. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skip = (re: RegExp) => {
      while (i < value.length && re.test(value.charAt(i))) i++;
    };
    while (i < value.length) {
      skip(/[\s,]/);
      const start = i;
      skip(/[^\s,=]/);
      const token = value.slice(start, i);
      if (token === '') break;
      skip(/\s/);
      if (value.charAt(i) !== '=') {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
        continue;
      }
      i++;
      skip(/\s/);
      let v = '';
      if (value.charAt(i) === '"') {
        for (i++; i < value.length && value.charAt(i) !== '"'; i++) {
          if (value.charAt(i) === '\\') i++;
          v += value.charAt(i);
        }
        i++;
      } else {
        const vs = i;
        skip(/[^\s,]/);
        v = value.slice(vs, i);
      }
      if (current) current.params[token.toLowerCase()] = v;
    }
  }
  return out;
}

const tokenResponseSchema = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
});

const MIN_TOKEN_LIFETIME_S = 60;
const TOKEN_RESPONSE_LIMIT = 1 << 20;

function basicHeader(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64')}`;
}

/**
 * Produces `Authorization` values for one registry: Basic from credentials, or Bearer tokens
 * fetched from the realm of the registry's challenge for the scopes a request needs.
 */
export class Authorizer {
  private readonly tokens = new Map<string, { value: string; expires: number }>();

  constructor(private readonly auth: RegistryAuth | undefined) {}

  /** The header for a request needing `scopes` under `challenge`, or undefined for none. */
  async authorization(
    challenge: Challenge | undefined,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      return this.auth?.username !== undefined ? basicHeader(this.auth) : undefined;
    }
    if (challenge.scheme !== 'bearer') return undefined;
    if (this.auth?.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const realm = challenge.params['realm'];
    if (!realm) throw new UnauthorizedError('unauthorized: bearer challenge without realm');
    const service = challenge.params['service'];
    const key = JSON.stringify([realm, service, [...scopes].sort()]);
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(realm, service, scopes, signal);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  /** Forgets cached tokens (after a registry refused one). */
  invalidate(): void {
    this.tokens.clear();
  }

  private async fetchToken(
    realm: string,
    service: string | undefined,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ value: string; expires: number }> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UnauthorizedError(`unauthorized: invalid token realm ${realm}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new UnauthorizedError(`unauthorized: invalid token realm ${realm}`);
    }
    const identityToken = this.auth?.identitytoken;
    let res;
    if (identityToken) {
      // OAuth2 refresh-token grant, as the docker daemon does for identity tokens.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: identityToken,
        client_id: 'docker',
        scope: scopes.join(' '),
      });
      if (service) form.set('service', service);
      res = await send({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        signal,
      });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (this.auth?.username) url.searchParams.set('account', this.auth.username);
      const headers =
        this.auth?.username !== undefined ? { authorization: basicHeader(this.auth) } : {};
      res = await send({ method: 'GET', url, headers, signal });
    }
    const body = await readBody(res, TOKEN_RESPONSE_LIMIT);
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new UnauthorizedError(
        `Get "${realm}": unauthorized: ${this.auth ? 'incorrect username or password' : 'authentication required'}`,
      );
    }
    if (res.statusCode !== 200) {
      throw new UnauthorizedError(
        `Get "${realm}": unexpected status from token server: ${res.statusCode ?? 0}`,
      );
    }
    let parsed;
    try {
      parsed = tokenResponseSchema.parse(JSON.parse(body.toString('utf8')));
    } catch {
      throw new UnauthorizedError(`Get "${realm}": malformed token response`);
    }
    const value = parsed.token ?? parsed.access_token;
    if (!value) throw new UnauthorizedError(`Get "${realm}": token server returned no token`);
    const lifetime = Math.max(parsed.expires_in ?? MIN_TOKEN_LIFETIME_S, MIN_TOKEN_LIFETIME_S);
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : NaN;
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now();
    // Renew a little early so a token never expires between check and use.
    return { value, expires: start + (lifetime - 10) * 1000 };
  }
}

/** The token scope for repository `path` (e.g. "library/busybox") and actions. */
export function repositoryScope(path: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${path}:${actions}`;
}

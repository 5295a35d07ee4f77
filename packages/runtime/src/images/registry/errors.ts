/**
 * Registry error responses (`{"errors":[{"code","message","detail"}]}`) as EngineErrors. The
 * message is distribution's errcode text, "<code in words>: <message>" (e.g. "manifest unknown:
 * manifest unknown"), which pull and push wrap in Docker's sentences.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import {
  EngineError,
  ForbiddenError,
  NotFoundError,
  SystemError,
  UnauthorizedError,
} from '../../api/errors.js';
import { readBody } from './transport.js';

const errorsBodySchema = z.looseObject({
  errors: z.array(z.looseObject({ code: z.string(), message: z.string().optional() })).min(1),
});

/** Distribution's default messages, used when the registry sends none. */
const DEFAULT_MESSAGES: Record<string, string> = {
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  MANIFEST_UNKNOWN: 'manifest unknown',
  NAME_UNKNOWN: 'repository name not known to registry',
  BLOB_UNKNOWN: 'blob unknown to registry',
  TOOMANYREQUESTS: 'too many requests',
};

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN']);

// One class per status so callers can test `instanceof NotFoundError` etc.; each keeps the
// registry's error code (e.g. "MANIFEST_UNKNOWN"; "UNKNOWN" when it sent none).
export class RegistryNotFoundError extends NotFoundError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
export class RegistryUnauthorizedError extends UnauthorizedError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
export class RegistryDeniedError extends ForbiddenError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
export class RegistryFailureError extends SystemError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
export type RegistryError =
  RegistryNotFoundError | RegistryUnauthorizedError | RegistryDeniedError | RegistryFailureError;

/** The registry error code carried by `err`, if it came from a registry response. */
export function registryErrorCode(err: unknown): string | undefined {
  return err instanceof EngineError && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function codeText(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}

/**
 * Builds the error for a failed response (reading its body). `fallbackCode` names what a
 * bodyless 404 means for this request (e.g. MANIFEST_UNKNOWN for a manifest GET).
 */
export async function registryErrorFrom(
  res: IncomingMessage,
  request: { method: string; url: URL },
  fallbackCode?: string,
): Promise<RegistryError> {
  const status = res.statusCode ?? 0;
  let body: Buffer = Buffer.alloc(0);
  if (request.method !== 'HEAD') body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
  let code: string | undefined;
  let message: string | undefined;
  try {
    const parsed = errorsBodySchema.safeParse(JSON.parse(body.toString('utf8')));
    if (parsed.success) {
      code = parsed.data.errors[0]?.code.toUpperCase();
      message = parsed.data.errors[0]?.message;
    }
  } catch {
    // Not JSON: fall through to the status-based code.
  }
  if (code === undefined) {
    if (status === 401) code = 'UNAUTHORIZED';
    else if (status === 403) code = 'DENIED';
    else if (status === 404 && fallbackCode) code = fallbackCode;
    else if (status === 429) code = 'TOOMANYREQUESTS';
  }
  if (code === undefined) {
    const method = request.method[0] + request.method.slice(1).toLowerCase();
    const text = body.toString('utf8').trim().slice(0, 200);
    return new RegistryFailureError(
      'UNKNOWN',
      `${method} "${request.url.href}": unexpected status code ${status}${text ? `: ${text}` : ''}`,
    );
  }
  const text = `${codeText(code)}: ${message || DEFAULT_MESSAGES[code] || codeText(code)}`;
  if (code === 'UNAUTHORIZED' || status === 401) {
    const method = request.method[0] + request.method.slice(1).toLowerCase();
    return new RegistryUnauthorizedError(code, `${method} "${request.url.href}": ${text}`);
  }
  if (NOT_FOUND_CODES.has(code)) return new RegistryNotFoundError(code, text);
  if (code === 'DENIED') return new RegistryDeniedError(code, text);
  return new RegistryFailureError(code, text);
}

/**
 * Engine API failures as typed errors, so callers branch on the class rather than on status
 * numbers. The message is the engine's own `{"message": ...}` text, which is what users should see.
 */
export class EngineApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends EngineApiError {}
export class UnauthorizedError extends EngineApiError {}
export class NotFoundError extends EngineApiError {}
export class ConflictError extends EngineApiError {}
export class ServerError extends EngineApiError {}
/** The engine could not be reached at all (socket missing, connection refused, timeout). */
export class EngineUnreachableError extends Error {
  constructor(
    readonly address: string,
    cause: Error,
  ) {
    super(`Cannot connect to the Berth engine at ${address}. Is the engine running?`, { cause });
    this.name = 'EngineUnreachableError';
  }
}

export function errorForStatus(statusCode: number, message: string): EngineApiError {
  switch (statusCode) {
    case 400:
      return new BadRequestError(statusCode, message);
    case 401:
      return new UnauthorizedError(statusCode, message);
    case 404:
      return new NotFoundError(statusCode, message);
    case 409:
      return new ConflictError(statusCode, message);
    default:
      return statusCode >= 500
        ? new ServerError(statusCode, message)
        : new EngineApiError(statusCode, message);
  }
}

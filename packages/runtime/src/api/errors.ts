/**
 * Errors that cross the Docker Engine API. Each carries the HTTP status Docker uses for the
 * same condition; the server turns any of them into `{"message": ...}` with that status.
 * Message texts follow moby's (e.g. "No such image: busybox:latest") because clients and
 * users match on them.
 */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request is malformed or asks for something invalid. */
export class InvalidParameterError extends EngineError {
  constructor(message: string) {
    super(400, message);
  }
}

/** 401: the registry refused our credentials. */
export class UnauthorizedError extends EngineError {
  constructor(message: string) {
    super(401, message);
  }
}

/** 403: the operation is not permitted. */
export class ForbiddenError extends EngineError {
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: no such object (image, container, layer, manifest, route). */
export class NotFoundError extends EngineError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 409: the object is in use or the name is taken. */
export class ConflictError extends EngineError {
  constructor(message: string) {
    super(409, message);
  }
}

/** 500: the engine failed (disk, corrupt store, upstream registry error). */
export class SystemError extends EngineError {
  constructor(message: string) {
    super(500, message);
  }
}

/** 501: not implemented by this engine (e.g. swarm endpoints). */
export class NotImplementedError extends EngineError {
  constructor(message: string) {
    super(501, message);
  }
}

/** The status and body Docker would send for any thrown value. */
export function toErrorResponse(err: unknown): { statusCode: number; message: string } {
  if (err instanceof EngineError) return { statusCode: err.statusCode, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { statusCode: 500, message };
}

/**
 * The small set of typed domain errors. The HTTP adapter maps each `code` to a status and a
 * problem+json body in one place (adapters/http/errors.ts); the CLI maps them to exit codes.
 * Messages are safe to show: they never carry secrets.
 */
export type DomainErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  | 'unauthenticated'
  | 'forbidden'
  | 'banned'
  | 'disabled'
  | 'not_provisioned'
  | 'rate_limited'
  | 'expired'
  | 'replayed'
  | 'bad_signature';

const DOMAIN_ERROR = Symbol.for('identity-broker.DomainError');

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
    Object.defineProperty(this, DOMAIN_ERROR, { value: true });
  }

  // `err instanceof DomainError` holds for a DomainError from any copy of this module (a plugin
  // whose installed `identity-broker` is another copy than the broker's), so the HTTP mapping in
  // adapters/http/errors.ts answers it with its status instead of a 500. Subclasses check as usual.
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this !== DomainError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[DOMAIN_ERROR] === true;
  }
}

export class InvalidInput extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_input', message, details);
  }
}
export class NotFound extends DomainError {
  constructor(message: string) {
    super('not_found', message);
  }
}
export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}
export class Unauthenticated extends DomainError {
  constructor(message: string) {
    super('unauthenticated', message);
  }
}
export class UserBannedError extends DomainError {
  constructor(message = 'This account is banned.') {
    super('banned', message);
  }
}
export class UserDisabledError extends DomainError {
  constructor(message = 'This account is disabled.') {
    super('disabled', message);
  }
}
export class NotProvisioned extends DomainError {
  constructor(message = 'No account may be created for this identity.') {
    super('not_provisioned', message);
  }
}
/** A business rule refused the command given the current state (e.g. email already taken). */
export class CommandRejected extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, details);
  }
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../errors.js';

/**
 * A short-lived login request: what a downstream protocol wants resumed once there is a session.
 * It travels with the browser as a signed token (HMAC-SHA256 under a broker secret), so any broker
 * node can resume it and nothing is stored per attempt. It carries no secrets (protocol
 * parameters such as `state` and `redirect_uri` only).
 */
export interface LoginRequest {
  /** Which DownstreamProtocol resumes it (its `name`). */
  protocol: string;
  /** Protocol-specific parameters (`client_id`, `redirect_uri`, `state`, `site`, `return_to`...). */
  params: Record<string, string>;
  /** Identity provider hint (skip the chooser). */
  idp?: string;
  /** Force a fresh login even if a session exists (OIDC `prompt=login`). */
  forceLogin?: boolean;
  /** Unix seconds. */
  iat: number;
  exp: number;
  /** Random, so two requests never encode the same. */
  jti: string;
}

/** Longest login request token (it travels in URLs and form fields: `lr` is capped at this everywhere). */
export const MAX_LOGIN_REQUEST_LENGTH = 8192;

export class LoginRequestInvalid extends DomainError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

export class LoginRequestCodec {
  constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds = 600,
  ) {
    if (key.length < 32) throw new Error('login request key must be at least 32 bytes');
  }

  encode(req: Omit<LoginRequest, 'iat' | 'exp' | 'jti'> & Partial<Pick<LoginRequest, 'jti'>>, now: Date, jti: string): string {
    const iat = Math.floor(now.getTime() / 1000);
    const full: LoginRequest = { ...req, iat, exp: iat + this.ttlSeconds, jti: req.jti ?? jti };
    const body = Buffer.from(JSON.stringify(full)).toString('base64url');
    const token = `${body}.${this.sign(body)}`;
    // Never hand out a token `decode` would refuse: a huge return address (a gateway or admin URL
    // with a long query) would otherwise become a redirect no browser can follow back.
    if (token.length > MAX_LOGIN_REQUEST_LENGTH)
      throw new LoginRequestInvalid('The request is too large to carry through the login; use a shorter address.');
    return token;
  }

  decode(token: string, now: Date): LoginRequest {
    if (typeof token !== 'string' || token.length > MAX_LOGIN_REQUEST_LENGTH) throw new LoginRequestInvalid('login request is malformed');
    const dot = token.indexOf('.');
    if (dot < 1) throw new LoginRequestInvalid('login request is malformed');
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
      throw new LoginRequestInvalid('login request signature is invalid');
    let req: LoginRequest;
    try {
      req = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LoginRequest;
    } catch {
      throw new LoginRequestInvalid('login request is malformed');
    }
    if (typeof req.exp !== 'number' || req.exp < Math.floor(now.getTime() / 1000))
      throw new LoginRequestInvalid('login request has expired; start again');
    return req;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update('login-request.v1.').update(body).digest('base64url');
  }
}

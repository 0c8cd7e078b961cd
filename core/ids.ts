import { randomBytes, randomUUID } from 'node:crypto';

/** Branded ids: mixing a user id with a site id is a security bug, so the compiler refuses it. */
export type Brand<T, B extends string> = T & { readonly __brand: B };
export type UserId = Brand<string, 'UserId'>;
export type SiteId = Brand<string, 'SiteId'>;
export type ClientId = Brand<string, 'ClientId'>;
export type SessionId = Brand<string, 'SessionId'>;

export const asUserId = (s: string): UserId => s as UserId;
export const asSiteId = (s: string): SiteId => s as SiteId;
export const asClientId = (s: string): ClientId => s as ClientId;
export const asSessionId = (s: string): SessionId => s as SessionId;

/** Time comes from here so tests control it. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** A clock a test moves by hand. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.parse('2026-01-01T00:00:00Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(d: Date): void {
    this.t = d.getTime();
  }
}

/** Randomness comes from here so tests control it. */
export interface Ids {
  uuid(): string;
  /** `bytes` of CSPRNG output, base64url. */
  token(bytes?: number): string;
}
export const cryptoIds: Ids = {
  uuid: () => randomUUID(),
  token: (bytes = 32) => randomBytes(bytes).toString('base64url'),
};

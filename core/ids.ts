import { randomBytes, randomUUID } from 'node:crypto';

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

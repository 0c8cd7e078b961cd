import type { Clock } from '../ids.js';
import type { Logger } from '../ports/logger.js';
import { PerSecondCap } from '../kernel/per-second-cap.js';
import type { LoginContext, LoginService } from './login-service.js';

/**
 * Records a refused login message as `LoginFailed` (audit, alerting on probing) where anyone can
 * send one without credentials: a junk SAML response, a forged OIDC callback, a guessed setup link.
 * Recording is capped per node and second: beyond the cap the message is still refused but not
 * recorded, and how many were not is logged once the second is over, so junk traffic cannot grow
 * the event log without bound. Failing to record never turns the refusal into a 500.
 */
export class AnonymousRefusals {
  private readonly cap: PerSecondCap;

  constructor(
    private readonly login: Pick<LoginService, 'recordFailure'>,
    private readonly logger: Logger,
    clock: Clock,
    maxPerSecond: number,
    /** Names the refusals in the log lines (`SAML refusals`, `OIDC refusals`, ...). */
    private readonly what: string,
  ) {
    this.cap = new PerSecondCap(clock, maxPerSecond, (dropped) =>
      logger.warn({ dropped }, `${what} not recorded as LoginFailed (rate cap)`),
    );
  }

  async record(f: { issuer: string; reason: string; subject?: string | null }, ctx: LoginContext): Promise<void> {
    if (!this.cap.take()) return;
    try {
      await this.login.recordFailure({ userId: null, issuer: f.issuer, subject: f.subject ?? null, reason: f.reason }, ctx);
    } catch (err) {
      this.logger.warn({ err, reason: f.reason }, `could not record one of the ${this.what}`);
    }
  }
}

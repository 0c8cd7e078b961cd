import type { Clock, LoginService, Logger } from '../../core/index.js';

/**
 * Records a refused SAML message as `LoginFailed` (audit, alerting on probing). Anyone can post
 * junk to the ACS or the SLO endpoint without credentials, so recording is capped per node
 * (`refusalEventsPerSecond`): beyond it messages are still refused, and the number not recorded is
 * logged once the second is over, so junk traffic cannot grow the log without bound.
 */
export class SamlRefusals {
  private windowStart = 0;
  private inWindow = 0;
  private dropped = 0;

  constructor(
    private readonly login: LoginService,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly maxPerSecond: number,
  ) {}

  async record(f: { issuer: string; reason: string; ip: string; idp: string | undefined }): Promise<void> {
    const second = Math.floor(this.clock.now().getTime() / 1000);
    if (second !== this.windowStart) {
      if (this.dropped) this.logger.warn({ dropped: this.dropped }, 'SAML refusals not recorded as LoginFailed (rate cap)');
      this.windowStart = second;
      this.inWindow = 0;
      this.dropped = 0;
    }
    if (++this.inWindow > this.maxPerSecond) {
      this.dropped++;
      return;
    }
    try {
      await this.login.recordFailure({ userId: null, issuer: f.issuer, subject: null, reason: f.reason }, { ip: f.ip, idp: f.idp });
    } catch (err) {
      // Failing to record a refusal must not turn the refusal into a 500.
      this.logger.warn({ err, reason: f.reason }, 'could not record a SAML refusal');
    }
  }
}

import { PerSecondCap, type Clock, type LoginService, type Logger } from '../../core/index.js';

/**
 * Records a refused SAML message as `LoginFailed` (audit, alerting on probing). Anyone can post
 * junk to the ACS or the SLO endpoint without credentials, so recording is capped per node
 * (`refusalEventsPerSecond`): beyond it messages are still refused, and the number not recorded is
 * logged once the second is over, so junk traffic cannot grow the log without bound.
 */
export class SamlRefusals {
  private readonly cap: PerSecondCap;

  constructor(
    private readonly login: LoginService,
    private readonly logger: Logger,
    clock: Clock,
    maxPerSecond: number,
  ) {
    this.cap = new PerSecondCap(clock, maxPerSecond, (dropped) => logger.warn({ dropped }, 'SAML refusals not recorded as LoginFailed (rate cap)'));
  }

  async record(f: { issuer: string; reason: string; ip: string; idp: string | undefined }): Promise<void> {
    if (!this.cap.take()) return;
    try {
      await this.login.recordFailure({ userId: null, issuer: f.issuer, subject: null, reason: f.reason }, { ip: f.ip, idp: f.idp });
    } catch (err) {
      // Failing to record a refusal must not turn the refusal into a 500.
      this.logger.warn({ err, reason: f.reason }, 'could not record a SAML refusal');
    }
  }
}

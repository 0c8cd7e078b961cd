import type { Clock } from '../ids.js';

/**
 * At most `max` admissions per wall-clock second, per node. Used where anyone can make the broker
 * record something without credentials (refused SAML messages, refused handoffs): beyond the cap
 * the request is still refused but not recorded, and `onDropped` hears how many were not, once the
 * second is over, so junk traffic cannot grow the event log without bound.
 */
export class PerSecondCap {
  private windowStart = 0;
  private inWindow = 0;
  private dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly max: number,
    private readonly onDropped: (count: number) => void,
  ) {}

  /** True when this one may be recorded. */
  take(): boolean {
    const second = Math.floor(this.clock.now().getTime() / 1000);
    if (second !== this.windowStart) {
      if (this.dropped) this.onDropped(this.dropped);
      this.windowStart = second;
      this.inWindow = 0;
      this.dropped = 0;
    }
    if (++this.inWindow > this.max) {
      this.dropped++;
      return false;
    }
    return true;
  }
}

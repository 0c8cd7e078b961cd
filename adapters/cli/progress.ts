import type { Writable } from 'node:stream';

/**
 * A one-line progress bar on a TTY (redrawn at most every 100 ms); nothing at all otherwise, so a
 * piped or logged run stays clean.
 */
export class ProgressBar {
  private last = 0;
  constructor(
    private readonly stream: Writable & { isTTY?: boolean; columns?: number },
    private readonly total: number,
    private readonly label = 'replay',
  ) {}

  get enabled(): boolean {
    return !!this.stream.isTTY && this.total > 0;
  }

  update(done: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const ratio = Math.min(1, done / this.total);
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - 40));
    const filled = Math.round(ratio * width);
    this.stream.write(
      `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${done}/${this.total}`,
    );
  }

  finish(done: number): void {
    if (!this.enabled) return;
    this.update(done, true);
    this.stream.write('\n');
  }
}

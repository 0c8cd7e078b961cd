import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { Projection } from './projection.js';

/** External identities: `sub@issuer` -> user id. */
export class IdentitiesView implements Projection {
  readonly name = 'identities';
  checkpoint = 0;
  readonly bySubject = new Map<string, string>();

  static key(issuer: string, subject: string): string {
    return `${subject}@${issuer}`;
  }

  reset(): void {
    this.bySubject.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'ExternalIdentityLinked') this.bySubject.set(IdentitiesView.key(e.data.issuer, e.data.subject), e.data.userId);
    else if (e.type === 'ExternalIdentityUnlinked') this.bySubject.delete(IdentitiesView.key(e.data.issuer, e.data.subject));
  }

  userFor(issuer: string, subject: string): string | undefined {
    return this.bySubject.get(IdentitiesView.key(issuer, subject));
  }
}

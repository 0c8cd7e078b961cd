import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';

/** External identities: `sub@issuer` -> user id, persisted. */
export class IdentitiesView implements PersistedProjection {
  readonly name = 'identities';
  readonly version = 2;
  readonly tables = ['identities'];
  private st!: { put: ReadStatement; del: ReadStatement; delUser: ReadStatement; get: ReadStatement<{ user_id: string }> };

  static key(issuer: string, subject: string): string {
    return `${subject}@${issuer}`;
  }

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS identities (key TEXT PRIMARY KEY, user_id TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS identities_user ON identities (user_id);`);
    this.st = {
      put: db.prepare(`INSERT OR REPLACE INTO identities (key, user_id) VALUES (?, ?)`),
      del: db.prepare(`DELETE FROM identities WHERE key = ?`),
      get: db.prepare(`SELECT user_id FROM identities WHERE key = ?`),
      delUser: db.prepare(`DELETE FROM identities WHERE user_id = ?`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'ExternalIdentityLinked') this.st.put.run(IdentitiesView.key(e.data.issuer, e.data.subject), e.data.userId);
    else if (e.type === 'ExternalIdentityUnlinked') this.st.del.run(IdentitiesView.key(e.data.issuer, e.data.subject));
    // An erased user's subjects go with them (their reservations were released; the subject may be an email).
    else if (e.type === 'UserErased') this.st.delUser.run(e.data.userId);
  }

  userFor(issuer: string, subject: string): string | undefined {
    return this.st.get.get(IdentitiesView.key(issuer, subject))?.user_id;
  }
}

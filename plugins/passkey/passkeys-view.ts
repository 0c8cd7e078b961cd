import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../plugin/index.js';
import './events.js';

export interface PasskeyView {
  credentialId: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Stream revision of the last event: a login appends at it, so two racing uses cannot both pass one counter. */
  revision: number;
}

type Row = {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  device_type: string;
  backed_up: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revision: number;
};
const toView = (r: Row): PasskeyView => ({
  credentialId: r.credential_id,
  userId: r.user_id,
  publicKey: r.public_key,
  counter: r.counter,
  transports: JSON.parse(r.transports) as string[],
  deviceType: r.device_type,
  backedUp: r.backed_up === 1,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revision: r.revision,
});

/** Registered passkeys by credential id and by user, with their counters, persisted. */
export class PasskeysView implements PersistedProjection {
  readonly name = 'passkey.credentials';
  readonly version = 1;
  readonly tables = ['passkey_credentials'];
  private st!: {
    insert: ReadStatement;
    used: ReadStatement;
    bump: ReadStatement;
    rename: ReadStatement;
    remove: ReadStatement;
    removeUser: ReadStatement;
    get: ReadStatement<Row>;
    ofUser: ReadStatement<Row>;
    countOfUser: ReadStatement<{ n: number }>;
  };

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS passkey_credentials (credential_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, public_key TEXT NOT NULL,
      counter INTEGER NOT NULL, transports TEXT NOT NULL, device_type TEXT NOT NULL, backed_up INTEGER NOT NULL, name TEXT NOT NULL,
      created_at TEXT NOT NULL, last_used_at TEXT, revision INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS passkey_credentials_user ON passkey_credentials (user_id);`);
    this.st = {
      insert: db.prepare(
        `INSERT OR REPLACE INTO passkey_credentials VALUES (@credentialId, @userId, @publicKey, @counter, @transports, @deviceType, @backedUp, @name, @at, NULL, @revision)`,
      ),
      used: db.prepare(`UPDATE passkey_credentials SET counter = ?, backed_up = ?, last_used_at = ?, revision = ? WHERE credential_id = ?`),
      bump: db.prepare(`UPDATE passkey_credentials SET revision = ? WHERE credential_id = ?`),
      rename: db.prepare(`UPDATE passkey_credentials SET name = ?, revision = ? WHERE credential_id = ?`),
      remove: db.prepare(`DELETE FROM passkey_credentials WHERE credential_id = ?`),
      removeUser: db.prepare(`DELETE FROM passkey_credentials WHERE user_id = ?`),
      get: db.prepare(`SELECT * FROM passkey_credentials WHERE credential_id = ?`),
      ofUser: db.prepare(`SELECT * FROM passkey_credentials WHERE user_id = ? ORDER BY created_at LIMIT 100`),
      countOfUser: db.prepare(`SELECT count(*) AS n FROM passkey_credentials WHERE user_id = ?`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    switch (e.type) {
      case 'PasskeyRegistered': {
        const d = e.data;
        this.st.insert.run({
          ...d,
          transports: JSON.stringify(d.transports),
          backedUp: d.backedUp ? 1 : 0,
          at: e.metadata.recordedAt,
          revision: e.revision,
        });
        break;
      }
      case 'PasskeyUsed':
        this.st.used.run(e.data.counter, e.data.backedUp ? 1 : 0, e.metadata.recordedAt, e.revision, e.data.credentialId);
        break;
      case 'PasskeyCounterRejected':
        // Recorded at the stream's next revision: a later login must append after it.
        this.st.bump.run(e.revision, e.data.credentialId);
        break;
      case 'PasskeyRenamed':
        this.st.rename.run(e.data.name, e.revision, e.data.credentialId);
        break;
      case 'PasskeyRemoved':
        this.st.remove.run(e.data.credentialId);
        break;
      case 'UserErased':
        this.st.removeUser.run(e.data.userId);
        break;
    }
  }

  get(credentialId: string): PasskeyView | undefined {
    const r = this.st.get.get(credentialId);
    return r && toView(r);
  }

  ofUser(userId: string): PasskeyView[] {
    return this.st.ofUser.all(userId).map(toView);
  }

  has(userId: string): boolean {
    return this.st.countOfUser.get(userId)!.n > 0;
  }
}

import type { UsersView } from './users-view.js';
import type { IdentitiesView } from './identities-view.js';
import type { BansView } from './bans-view.js';
import type { AuditView } from './audit-view.js';
import type { SessionsView } from './sessions-view.js';
import type { SitesView } from './sites-view.js';

/** The core's read models, kept by the projection engine. */
export interface ReadModels {
  users: UsersView;
  identities: IdentitiesView;
  bans: BansView;
  audit: AuditView;
  sessions: SessionsView;
  sites: SitesView;
}

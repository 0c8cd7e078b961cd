import type { PluginCtx, AdminGuard } from '../../../plugin/index.js';
import type { AdminConfig } from '../config.js';
import { registerUserRoutes } from '../user-routes.js';
import { ActivityView } from './activity-view.js';
import { ConsoleDeps } from './deps.js';
import { CONSOLE_CSS } from './styles.js';
import { registerDashboard } from './dashboard-page.js';
import { registerUsersPage } from './users-page.js';
import { registerUserPage } from './user-page.js';
import { registerRevokeRoutes } from './revoke-routes.js';
import { registerSitesPage } from './sites-page.js';
import { registerClientsPage } from './clients-page.js';
import { registerIdpsPage } from './idps-page.js';
import { registerEventsPage } from './events-page.js';
import { registerTransparencyPage } from './transparency-page.js';
import { registerInvitePage } from './invite-page.js';

/** The operator console: its read model, its stylesheet and one module per screen. */
export function registerConsole(ctx: PluginCtx<AdminConfig>, guard: AdminGuard): void {
  const activity = new ActivityView();
  ctx.add.projection(activity);
  const d = new ConsoleDeps(ctx, guard, activity);
  ctx.web.app.get('/admin/assets/console.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS),
  );
  registerDashboard(d);
  registerUsersPage(d);
  registerUserPage(d);
  registerUserRoutes(d);
  registerRevokeRoutes(d);
  registerSitesPage(d);
  registerClientsPage(d);
  registerIdpsPage(d);
  registerEventsPage(d);
  registerTransparencyPage(d);
  registerInvitePage(d);
}

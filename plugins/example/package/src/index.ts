import { DomainError, adminOf, html, page, requireAdmin, type Plugin } from 'identity-broker/plugin';
import { RESETS_STREAM } from './events.js';
import { LoginStatsView } from './login-stats-view.js';
import { ResetNotifier } from './reset-notifier.js';

export interface LoginStatsConfig {
  /** Where the routes live (default `/login-stats`). */
  path: string;
  /** How many users the admin page lists (default 20). */
  top: number;
  /** Optional: a URL that gets a JSON POST for every reset. */
  notifyUrl?: string;
}

/**
 * Logins per user: an admin page and API (`GET <path>/admin`, `POST <path>/admin/reset`), and each
 * user's own count (`GET <path>/me`). Walk-through: plugins/example/README.md in identity-broker.
 */
const plugin: Plugin<LoginStatsConfig> = {
  name: 'login-stats',
  // What it writes: its own event types, to streams under its own prefixes. Anything else
  // (a core event, another plugin's stream) is refused by the kernel.
  events: ['LoginStatsReset'],
  streams: ['login-stats-'],
  // Validated (with defaults filled in) before `register` runs; every error is reported with its key.
  configSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', pattern: '^/[a-z0-9/-]*[a-z0-9]$', default: '/login-stats' },
      top: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
      notifyUrl: { type: 'string', pattern: '^https?://' },
    },
    additionalProperties: false,
  },
  register(ctx) {
    const { path, top, notifyUrl } = ctx.config;
    const view = new LoginStatsView();
    ctx.add.projection(view);
    if (notifyUrl) ctx.add.reactor(new ResetNotifier(ctx.reactorState, notifyUrl, ctx.logger));

    const app = ctx.web.app;
    const admin = { preHandler: requireAdmin(ctx) };

    // Administrators only: a browser session of an admin, or an admin API token (Authorization: Bearer).
    app.get(path + '/admin', admin, async (req, reply) => {
      const users = view.topUsers(top);
      const resets = view.resetCount();
      if (!String(req.headers.accept ?? '').includes('text/html'))
        return { users, resets, checkpoint: ctx.projections.checkpointOf(view.name) };
      return page(
        reply,
        'Logins per user',
        html`<h1>Logins per user</h1>
          <table>
            <tr><th>User</th><th>Logins</th><th>Last login</th></tr>
            ${users.map((u) => html`<tr><td><code>${u.userId}</code></td><td>${u.logins}</td><td>${u.lastLoginAt}</td></tr>`)}
          </table>
          <form method="post" action="${path}/admin/reset">
            <input type="hidden" name="_csrf" value="${ctx.web.csrfToken(req) ?? ''}" />
            <label>Reason <input name="reason" required maxlength="200" /></label>
            <button>Reset the counts</button>
          </form>
          <p class="muted">Reset ${resets} time(s).</p>`,
      );
    });

    // A change: requireAdmin also checks the session's CSRF token here (an API token needs none).
    app.post<{ Body: { reason: string } }>(
      path + '/admin/reset',
      {
        ...admin,
        schema: {
          body: {
            type: 'object',
            properties: { reason: { type: 'string', minLength: 1, maxLength: 200 }, _csrf: { type: 'string' } },
            required: ['reason'],
          },
        },
      },
      async (req) => {
        const { actor } = adminOf(req);
        const { position } = await ctx.store.append(RESETS_STREAM, [
          { type: 'LoginStatsReset', data: { reason: req.body.reason }, metadata: { actor, recordedAt: ctx.clock.now().toISOString() } },
        ]);
        await ctx.projections.waitFor(position); // read your own write: the counts are cleared when we answer
        return { resets: view.resetCount(), position };
      },
    );

    // Any logged-in user: their own count.
    app.get(path + '/me', async (req) => {
      const session = ctx.web.session(req);
      if (!session) throw new DomainError('unauthenticated', 'Log in first.');
      return { logins: view.loginsOf(session.userId) };
    });
  },
};

export default plugin;

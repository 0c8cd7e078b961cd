import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type ConsoleSource,
  type PluginCtx,
  csrfTokenFor,
  type AdminGuard,
  type AdminPrincipal,
  type SafeHtml,
} from '../../../plugin/index.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { AdminConfig } from '../config.js';
import type { ActivityView } from './activity-view.js';
import { consolePage, flashFor, type PageOptions } from './layout.js';
import { userLabel } from './format.js';

/** What every console screen needs: the plugin context, the admin check and the plugins' sources. */
export class ConsoleDeps {
  constructor(
    readonly ctx: PluginCtx<AdminConfig>,
    readonly guard: AdminGuard,
    readonly activity: ActivityView,
  ) {}

  /** Every plugin's console source, looked up per request (plugins may load after admin). */
  sources(): ConsoleSource[] {
    return this.ctx.services.getAll(TOKENS.ConsoleSource);
  }

  csrf(req: FastifyRequest): string {
    return csrfTokenFor(req, this.ctx.web.cookieName) ?? '';
  }

  who(p: AdminPrincipal): string {
    if (!p.userId) return p.actor;
    const u = this.ctx.read.users.get(p.userId);
    return u ? userLabel(u) : p.actor;
  }

  /** Renders a screen for `p`, with the flash the redirect asked for (`?done=`). */
  page(req: FastifyRequest, reply: FastifyReply, p: AdminPrincipal, o: Omit<PageOptions, 'who'>, body: SafeHtml): FastifyReply {
    const q = req.query as { done?: unknown; n?: unknown } | undefined;
    return consolePage(reply, { flash: flashFor(q?.done, q?.n), ...o, who: this.who(p) }, body);
  }
}

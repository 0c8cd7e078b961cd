import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, type SafeHtml, type AdminPrincipal } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import type { Section } from './layout.js';

export interface Confirmation {
  title: string;
  section: Section;
  /** What will happen, one line each, before the operator commits. */
  consequences: (string | SafeHtml)[];
  action: string;
  button: string;
  cancel: string;
  /** Extra form fields (a ban's reason). */
  fields?: SafeHtml;
  danger?: boolean;
}

/**
 * The confirmation step of a destructive action: a page with what will happen and a POST form
 * carrying `confirm=yes` and the session CSRF token. It works without JavaScript; the action
 * itself runs only on that second POST.
 */
export function confirmPage(d: ConsoleDeps, req: FastifyRequest, reply: FastifyReply, p: AdminPrincipal, c: Confirmation): FastifyReply {
  const body = html`<section class="card confirm" aria-labelledby="confirm-h"><h1 id="confirm-h">${c.title}</h1>
<p>This will:</p><ul>${c.consequences.map((x) => html`<li>${x}</li>`)}</ul>
<form method="post" action="${c.action}" class="stack"><input type="hidden" name="_csrf" value="${d.csrf(req)}"><input type="hidden" name="confirm" value="yes">
${c.fields ?? ''}<div class="actions"><button type="submit" class="${c.danger === false ? '' : 'danger'}" data-confirm="yes">${c.button}</button> <a href="${c.cancel}">Cancel</a></div></form></section>`;
  return d.page(req, reply, p, { title: c.title, section: c.section }, body);
}

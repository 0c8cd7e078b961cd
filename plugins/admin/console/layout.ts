import type { FastifyReply } from 'fastify';
import { html, type SafeHtml } from '../../../plugin/index.js';

export type Section = 'dashboard' | 'users' | 'sites' | 'clients' | 'idps' | 'events' | 'transparency';

const SECTIONS: [Section, string, string][] = [
  ['dashboard', 'Dashboard', '/admin'],
  ['users', 'Users', '/admin/users'],
  ['sites', 'Sites', '/admin/sites'],
  ['clients', 'OAuth clients', '/admin/clients'],
  ['idps', 'Identity providers', '/admin/idps'],
  ['events', 'Event log', '/admin/events'],
  ['transparency', 'Transparency', '/admin/transparency'],
];

/**
 * What happened after an action, chosen by a fixed code in the redirect's query (`?done=banned`):
 * the text is ours, never echoed from the URL, so a crafted link cannot put words on the page.
 */
const FLASH: Record<string, (n: number | null) => string> = {
  banned: (n) => `User banned. ${n ?? 0} session(s) ended; every site with a webhook is being told (delivery status below).`,
  unbanned: () => 'Ban lifted. The user can log in again; sites are told the ban is over.',
  disabled: (n) => `Account disabled. ${n ?? 0} session(s) ended.`,
  enabled: () => 'Account enabled. The user can log in again.',
  'session-revoked': () => 'Session ended. That browser is logged out on its next request.',
  'sessions-revoked': (n) => `${n ?? 0} session(s) ended.`,
  'credential-revoked': () => 'Grant revoked: its refresh token and access tokens no longer work.',
  'credential-gone': () => 'That grant was already revoked or expired; nothing changed.',
  retried: () => 'Delivery queued again; the broker sends it within seconds.',
};

export function flashFor(done: unknown, n: unknown): { kind: 'ok'; text: string } | null {
  if (typeof done !== 'string' || !Object.hasOwn(FLASH, done)) return null;
  const count = typeof n === 'string' && /^\d{1,6}$/.test(n) ? Number(n) : null;
  return { kind: 'ok', text: FLASH[done](count) };
}

export interface PageOptions {
  title: string;
  section: Section;
  /** Who is signed in (name or email), shown in the header. */
  who: string;
  flash?: { kind: 'ok' | 'error'; text: string } | null;
  status?: number;
}

/** The console's page shell: skip link, header navigation (current page marked), flash, main. */
export function consolePage(reply: FastifyReply, o: PageOptions, body: SafeHtml): FastifyReply {
  const nav = SECTIONS.map(
    ([id, label, href]) => html`<li><a href="${href}"${id === o.section ? html` aria-current="page"` : ''}>${label}</a></li>`,
  );
  // role=status: a screen reader announces what the action did when the page loads.
  const flash = o.flash ? html`<div class="flash ${o.flash.kind}" role="status" data-testid="flash">${o.flash.text}</div>` : '';
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${o.title} · Broker console</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/admin/assets/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/admin"><img src="/favicon.svg" alt="" width="22" height="22">Broker console</a>
<nav aria-label="Console"><ul>${nav}</ul></nav><span class="who">Signed in as ${o.who} · <a href="/">My account</a></span></header>
<main id="main" tabindex="-1">${flash}${body}</main></body></html>`;
  return reply
    .code(o.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(doc.value);
}

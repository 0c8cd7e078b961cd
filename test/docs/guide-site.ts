import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import { fetch } from 'undici';
import { bootBroker, type Broker } from '../../adapters/kernel/boot.js';
import { MemoryEventStore } from '../../adapters/event-stores/memory.js';
import type { Clock } from '../../core/index.js';
import type { SiteConfig } from '../../config/types.js';
import handoffPlugin from '../../plugins/hmac-handoff/index.js';
import banBroadcastPlugin from '../../plugins/ban-broadcast/index.js';
import { crmServer } from '../plugins/hmac-handoff/setup.js';
import { brokerConfig, fastConfig } from '../plugins/ban-broadcast/setup.js';
import { freePort } from '../plugins/ban-broadcast/receivers.js';
import { writeScratch, type CodeBlock } from './guide-blocks.js';

export const FORUM_KEYS = [{ kid: 'forum-2026', secret: 'forum-handoff-key-0123456789abcdef' }];
export const WHSEC = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

/** What the guide's webhook examples were told, per receiver. */
export interface Calls {
  banned: string[];
  unbanned: string[];
  erased: string[];
}

export interface GuideSite {
  broker: Broker;
  brokerUrl: string;
  siteUrl: string;
  /** The scratch directory holding the guide's runnable blocks as files. */
  dir: string;
  /** Moves the broker's clock (ms); 0 is the real time. */
  clock: Clock & { offsetMs: number };
  /** Every POST the site received, as it arrived (after content-type parsing, before the route). */
  posts: { url: string; headers: Record<string, string>; body: string }[];
  /** Users the sso.ts example logged in. */
  logins: unknown[];
  /** webhooks.js (Standard Webhooks) and security-events.js (SETs). */
  std: Calls;
  set: Calls;
  importScratch<T>(file: string): Promise<T>;
  post(path: string, headers: Record<string, string>, body: string): ReturnType<typeof fetch>;
  stop(): Promise<void>;
}

type PluginModule = { default: FastifyPluginAsync<Record<string, unknown>> };

const handlers = (calls: Calls) => ({
  onBanned: async (u: string) => void calls.banned.push(u),
  onUnbanned: async (u: string) => void calls.unbanned.push(u),
  onErased: async (u: string) => void calls.erased.push(u),
});

/**
 * A fastify "forum" site made of the guide's examples (sso.ts, webhooks.js, security-events.js,
 * imported unchanged from the scratch directory, verify.ts copied beside them as the guide says),
 * and a real broker on 127.0.0.1 with hmac-handoff and ban-broadcast that knows the site:
 * `forum` (handoff + Standard Webhooks), `blog` (given the forum's handoff key by mistake),
 * `forum-set` (SETs to the site) and `stranger` (SETs for another audience, to the same URL).
 */
export async function startGuideSite(blocks: CodeBlock[]): Promise<GuideSite> {
  const scratch = writeScratch(blocks, { 'verify.ts': fs.readFileSync('plugins/hmac-handoff/verify.ts', 'utf8') });
  const importScratch = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(scratch.dir, file)).href)) as T;
  const [brokerPort, sitePort] = [await freePort(), await freePort()];
  const brokerUrl = `http://127.0.0.1:${brokerPort}`;
  const siteUrl = `http://127.0.0.1:${sitePort}`;
  const posts: GuideSite['posts'] = [];
  const logins: unknown[] = [];
  const std: Calls = { banned: [], unbanned: [], erased: [] };
  const set: Calls = { banned: [], unbanned: [], erased: [] };

  const site = Fastify();
  site.addHook('preHandler', async (req) => {
    if (req.method === 'POST') posts.push({ url: req.url, headers: req.headers as Record<string, string>, body: String(req.body) });
  });
  await site.register((await importScratch<PluginModule>('sso.ts')).default, {
    broker: brokerUrl,
    siteId: 'forum',
    callbackUrl: `${siteUrl}/sso/callback`,
    keys: FORUM_KEYS,
    login: async (user: { sub: string }, reply: { send(body: unknown): unknown }) => {
      logins.push(user);
      return reply.send({ welcome: user.sub });
    },
  });
  await site.register((await importScratch<PluginModule>('webhooks.js')).default, { secret: WHSEC, ...handlers(std) });
  await site.register((await importScratch<PluginModule>('security-events.js')).default, {
    broker: brokerUrl,
    audience: 'forum-set',
    ...handlers(set),
  });
  await site.listen({ port: sitePort, host: '127.0.0.1' });

  const sites: SiteConfig[] = [
    {
      id: 'forum',
      name: 'Forum',
      returnUrls: [`${siteUrl}/sso/callback`],
      handoff: { keys: FORUM_KEYS, fields: ['email', 'name'] },
      webhook: { url: `${siteUrl}/webhooks/broker`, secret: WHSEC },
    },
    { id: 'blog', name: 'Blog', returnUrls: [`${siteUrl}/blog/callback`], handoff: { keys: FORUM_KEYS } },
    { id: 'forum-set', name: 'Forum (SET)', returnUrls: [`${siteUrl}/`], webhook: { url: `${siteUrl}/events/broker`, format: 'secevent' } },
    { id: 'stranger', name: 'Stranger', returnUrls: [`${siteUrl}/`], webhook: { url: `${siteUrl}/events/broker`, format: 'secevent' } },
  ];
  const clock: GuideSite['clock'] = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };
  const base = brokerConfig(sites);
  const broker = await bootBroker(
    { ...base, server: { ...base.server, port: brokerPort, baseUrl: brokerUrl } },
    {
      store: new MemoryEventStore(),
      clock,
      plugins: [
        { plugin: handoffPlugin, config: { servers: [crmServer] } },
        { plugin: banBroadcastPlugin, config: fastConfig },
      ],
    },
  );
  await broker.listen();

  return {
    broker,
    brokerUrl,
    siteUrl,
    dir: scratch.dir,
    clock,
    posts,
    logins,
    std,
    set,
    importScratch,
    post: (p, headers, body) => fetch(`${siteUrl}${p}`, { method: 'POST', headers, body }),
    stop: async () => {
      await broker.stop();
      await site.close();
      scratch.remove();
    },
  };
}

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { Browser } from '../../interop/saml/browser.js';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import { RolesHttpEnricher, type RolesHttpConfig } from '../../../plugins/roles-http/index.js';
import type { Broker } from '../../../adapters/kernel/boot.js';
import type { EnrichmentInput, UserState } from '../../../core/index.js';

type Mode = 'ok' | 'error' | 'slow' | 'bad-shape';

describe('roles-http enricher', () => {
  let api: FastifyInstance;
  let apiUrl: string;
  let mode: Mode = 'ok';
  const seen: Record<string, string>[] = [];
  let idp: SamlIdpPeer;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    api = Fastify();
    api.get('/roles', async (req, reply) => {
      const q = req.query as Record<string, string>;
      seen.push(q);
      if (req.headers['x-api-key'] !== 'k-123') return reply.code(401).send({ error: 'no key' });
      if (mode === 'error') return reply.code(503).send({ error: 'down' });
      if (mode === 'slow') await new Promise((r) => setTimeout(r, 1500));
      if (mode === 'bad-shape') return { data: { roles: 'admin' } };
      return { data: { user: q.subject, roles: ['case-viewer', `tenant-${q.tenant ?? 'none'}`] }, company: 'acme-co' };
    });
    apiUrl = `${await api.listen({ host: '127.0.0.1', port: 0 })}/roles`;
    idp = await SamlIdpPeer.start();
    ({ broker, url } = await startBroker([
      {
        name: 'saml',
        config: {
          idps: [
            {
              name: 'mc',
              metadata: { xml: idp.metadata() },
              attributes: { email: 'email', tenant: 'tenantKey' },
              provisioning: { policy: 'auto' },
            },
          ],
        },
      },
      {
        name: 'roles-http',
        config: {
          url: apiUrl,
          headers: { 'x-api-key': 'k-123' },
          rolesPath: 'data.roles',
          tenantPath: 'company',
          timeoutMs: 500,
          onFailure: 'deny',
        },
      },
    ]));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/mc/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
    await api?.close();
  });

  async function login(nameId: string) {
    idp.user = { nameId, email: nameId, tenant: 't9' };
    const b = new Browser();
    return b.submit(Browser.form(await b.follow(`${url}/saml/mc/login?lr=${encodeURIComponent(loginRequest(broker))}`))!);
  }

  it('fetches roles with the user id and tenant after login; roles and tenant flow into the session', async () => {
    mode = 'ok';
    const page = await login('frank@mc.example');
    expect(page.status).toBe(200);
    expect(page.body).toContain('roles=case-viewer,tenant-t9');
    expect(page.body).toContain('tenant=acme-co');
    const q = seen.at(-1)!;
    expect(q.subject).toBe('frank@mc.example');
    expect(q.tenant).toBe('t9');
    expect(q.userId).toMatch(/^[\w-]{36}$/);
    const ok = (await events(broker, 'LoginSucceeded')).at(-1)!.data;
    expect(ok).toMatchObject({ roles: ['case-viewer', 'tenant-t9'], tenant: 'acme-co' });
    expect((await events(broker, 'RolesAssigned')).at(-1)!.data).toMatchObject({
      roles: ['case-viewer', 'tenant-t9'],
      source: 'roles-http',
    });
  });

  it('deny: refuses the login with a clear page when the roles API fails or times out', async () => {
    for (const m of ['error', 'slow', 'bad-shape'] as const) {
      mode = m;
      const page = await login(`gina-${m}@mc.example`);
      expect(page.status).toBe(403);
      expect(page.body).toContain('Your roles could not be determined');
      expect(((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason).toBe('enricher_roles-http_forbidden');
    }
    mode = 'ok';
  });

  it('proceed: logs in without roles when the roles API fails', async () => {
    const cfg: RolesHttpConfig = {
      url: apiUrl,
      headers: { 'x-api-key': 'k-123' },
      rolesPath: 'data.roles',
      timeoutMs: 300,
      onFailure: 'proceed',
    };
    const warnings: object[] = [];
    const enricher = new RolesHttpEnricher(cfg, { warn: (o) => warnings.push(o) });
    const input: EnrichmentInput = { userId: 'u1', user: {} as UserState, identity: { issuer: 'i', subject: 's', amr: ['fed'] } };
    mode = 'error';
    expect(await enricher.enrich(input)).toEqual({ roles: [] });
    mode = 'slow';
    const t0 = Date.now();
    expect(await enricher.enrich(input)).toEqual({ roles: [] });
    expect(Date.now() - t0).toBeLessThan(1400);
    mode = 'ok';
    expect((await enricher.enrich(input)).roles).toEqual(['case-viewer', 'tenant-none']);
    expect(warnings.length).toBe(2);
    expect(JSON.stringify(warnings)).not.toContain('k-123');
  });
});

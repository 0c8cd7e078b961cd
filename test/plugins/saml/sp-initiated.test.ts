import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

describe('SAML SP-initiated login against a samlify IdP', () => {
  let idp: SamlIdpPeer;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    idp = await SamlIdpPeer.start();
    ({ broker, url } = await startBroker([
      {
        name: 'saml',
        config: {
          idps: [
            {
              name: 'acme',
              metadata: { xml: idp.metadata() },
              requestBinding: 'redirect',
              attributes: { email: 'email', name: 'displayName', tenant: 'tenantKey', groups: 'groups' },
              provisioning: { policy: 'auto' },
            },
            {
              name: 'acmepost',
              metadata: { xml: idp.metadata() },
              requestBinding: 'post',
              attributes: { email: 'email' },
              provisioning: { policy: 'auto' },
            },
          ],
        },
      },
    ]));
    const meta = await new Browser().fetch(`${url}/saml/acme/metadata`);
    await idp.useServiceProvider(meta.body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  it('serves SP metadata with the ACS and SLO endpoints', async () => {
    const meta = await new Browser().fetch(`${url}/saml/acme/metadata`);
    expect(meta.status).toBe(200);
    expect(meta.body).toContain(`entityID="${url}/saml/acme/metadata"`);
    expect(meta.body).toContain(`${url}/saml/acme/acs`);
    expect(meta.body).toContain(`${url}/saml/acme/slo`);
    expect(meta.body).toContain('WantAssertionsSigned="true"');
  });

  it('provisions on the first login (redirect binding), reuses the user on the second, and resumes the request', async () => {
    idp.user = { nameId: 'alice@example.com', email: 'alice@example.com', name: 'Alice', tenant: 't-42', groups: ['staff'] };
    const b = new Browser();
    const formPage = await b.follow(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker, 'first'))}`);
    const form = Browser.form(formPage)!;
    expect(form.action).toBe(`${url}/saml/acme/acs`);
    const done = await b.submit(form);
    expect(done.status).toBe(200);
    const userId = /user=([\w-]+)/.exec(done.body)![1];
    expect(done.body).toContain('tenant=t-42');
    expect(done.body).toContain('state=first');
    const prov = await events(broker, 'AccountProvisioned');
    expect(prov.map((e) => e.data)).toContainEqual(
      expect.objectContaining({ userId, issuer: idp.entityId, subject: 'alice@example.com', policy: 'auto' }),
    );

    const b2 = new Browser();
    const again = await b2.submit(
      Browser.form(await b2.follow(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker, 'second'))}`))!,
    );
    expect(again.body).toContain(`user=${userId}`);
    expect((await events(broker, 'AccountProvisioned')).length).toBe(prov.length);
    const ok = await events(broker, 'LoginSucceeded');
    expect(ok.at(-1)!.data).toMatchObject({ userId, issuer: idp.entityId, subject: 'alice@example.com', amr: ['fed'] });
  });

  it('sends the AuthnRequest with the POST binding through an auto-submitting form', async () => {
    idp.user = { nameId: 'bob@example.com', email: 'bob@example.com' };
    const b = new Browser();
    await idp.useServiceProvider((await b.fetch(`${url}/saml/acmepost/metadata`)).body);
    const start = await b.fetch(`${url}/saml/acmepost/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    const toIdp = Browser.form(start)!;
    expect(toIdp.action).toBe(`${idp.url}/sso`);
    expect(toIdp.fields.SAMLRequest).toBeTruthy();
    expect(start.body).toContain('/saml/assets/autopost.js');
    const back = Browser.form(await b.submit(toIdp))!;
    expect(back.action).toBe(`${url}/saml/acmepost/acs`);
    const done = await b.submit(back);
    expect(done.status).toBe(200);
    expect(done.body).toMatch(/user=[\w-]+/);
    await idp.useServiceProvider((await b.fetch(`${url}/saml/acme/metadata`)).body);
  });
});

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

describe('SAML IdP-initiated login and single logout', () => {
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
              name: 'portal',
              metadata: { xml: idp.metadata() },
              attributes: { email: 'email' },
              provisioning: { policy: 'auto' },
              idpInitiated: { enabled: true, relayStates: ['/apps/case-management'] },
            },
          ],
        },
      },
    ]));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/portal/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  const acs = () => `${url}/saml/portal/acs`;
  const reason = async () => ((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason;

  it('accepts an unsolicited response and goes to an allow-listed RelayState', async () => {
    const b = new Browser();
    const res = await b.fetch(acs(), {
      form: { SAMLResponse: await idp.issue(null, { nameId: 'ida@portal.example' }), RelayState: '/apps/case-management' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/apps/case-management');
    expect(b.cookies(url).get('broker_session')).toBeTruthy();
  });

  it('goes to / without a RelayState, and refuses one that is not allow-listed', async () => {
    const b = new Browser();
    const ok = await b.fetch(acs(), { form: { SAMLResponse: await idp.issue(null, { nameId: 'ida@portal.example' }) } });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/');
    const bad = await b.fetch(acs(), {
      form: { SAMLResponse: await idp.issue(null, { nameId: 'ida@portal.example' }), RelayState: 'https://evil.example/' },
    });
    expect(bad.status).toBe(403);
    expect(bad.body).toContain('Login refused');
    expect(await reason()).toBe('saml_relay_state_not_allowed');
  });

  it('refuses a replayed unsolicited assertion (replay cache by assertion id)', async () => {
    const response = await idp.issue(null, { nameId: 'ida@portal.example' });
    expect((await new Browser().fetch(acs(), { form: { SAMLResponse: response } })).status).toBe(303);
    const again = await new Browser().fetch(acs(), { form: { SAMLResponse: response } });
    expect(again.status).toBe(400);
    expect(await reason()).toBe('saml_replayed');
  });

  it('SP-initiated logout ends the broker session and tells the IdP, which answers with a signed LogoutResponse', async () => {
    idp.user = { nameId: 'jack@portal.example', email: 'jack@portal.example' };
    const b = new Browser();
    await b.submit(Browser.form(await b.follow(`${url}/saml/portal/login?lr=${encodeURIComponent(loginRequest(broker))}`))!);
    const token = b.cookies(url).get('broker_session')!;
    expect(broker.login.validateSession(token)).not.toBeNull();
    const done = await b.follow(`${url}/saml/portal/logout`);
    expect(done.status).toBe(200);
    expect(done.body).toContain('Logged out');
    expect(idp.logoutRequests.at(-1)).toBe('jack@portal.example');
    expect(broker.login.validateSession(token)).toBeNull();
  });

  it('IdP-initiated logout ends the sessions of that user that came through this IdP', async () => {
    idp.user = { nameId: 'kim@portal.example', email: 'kim@portal.example' };
    const b = new Browser();
    await b.submit(Browser.form(await b.follow(`${url}/saml/portal/login?lr=${encodeURIComponent(loginRequest(broker))}`))!);
    const token = b.cookies(url).get('broker_session')!;
    expect(broker.login.validateSession(token)).not.toBeNull();
    const res = await new Browser().fetch(idp.logoutRequestUrl('kim@portal.example'));
    expect(res.status).toBe(303);
    expect(String(res.headers.location)).toContain(`${idp.url}/slo?SAMLResponse=`);
    expect(broker.login.validateSession(token)).toBeNull();
    const ended = (await events(broker, 'SessionEnded')).at(-1)!.data;
    expect(ended).toMatchObject({ reason: 'idp_logout' });
  });

  it('refuses an IdP logout request whose signature was stripped', async () => {
    const u = new URL(idp.logoutRequestUrl('kim@portal.example'));
    u.searchParams.delete('Signature');
    const res = await new Browser().fetch(u.href);
    expect(res.status).toBe(400);
    expect(res.body).toContain('Login refused');
    expect(await reason()).toBe('saml_bad_signature');
  });
});

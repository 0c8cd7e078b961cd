import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

/** What the broker checks on a logout message before acting on it (issue 16, item 6). samlify is the IdP. */
describe('SAML single logout checks what it acts on', () => {
  let idp: SamlIdpPeer;
  let bare: SamlIdpPeer;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    idp = await SamlIdpPeer.start();
    bare = await SamlIdpPeer.start({ noSlo: true });
    const conf = (name: string, peer: SamlIdpPeer) => ({
      name,
      metadata: { xml: peer.metadata() },
      attributes: { email: 'email' },
      provisioning: { policy: 'auto' },
    });
    ({ broker, url } = await startBroker([{ name: 'saml', config: { idps: [conf('portal', idp), conf('bare', bare)] } }]));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/portal/metadata`)).body);
    await bare.useServiceProvider((await new Browser().fetch(`${url}/saml/bare/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
    await bare?.close();
  });

  const reason = async () => ((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason;
  /** A browser logged in through `name` as `nameId`; returns it and its session token. */
  const loggedIn = async (name: string, peer: SamlIdpPeer, nameId: string) => {
    peer.user = { nameId, email: nameId };
    const b = new Browser();
    await b.submit(Browser.form(await b.follow(`${url}/saml/${name}/login?lr=${encodeURIComponent(loginRequest(broker))}`))!);
    const token = b.cookies(url).get('broker_session')!;
    expect(broker.login.validateSession(token)).not.toBeNull();
    return { b, token };
  };

  it('refuses a signed LogoutRequest addressed to another endpoint, and the session lives on', async () => {
    const { token } = await loggedIn('portal', idp, 'dest@portal.example');
    const res = await new Browser().fetch(idp.logoutRequestUrlWith('dest@portal.example', { destination: 'https://other-sp.example/slo' }));
    expect(res.status).toBe(400);
    expect(res.body).toContain('sent to another address');
    expect(await reason()).toBe('saml_wrong_destination');
    expect(broker.login.validateSession(token)).not.toBeNull();
  });

  it('refuses a LogoutRequest that is stale, dated in the future, or past its NotOnOrAfter', async () => {
    const { token } = await loggedIn('portal', idp, 'old@portal.example');
    const now = Date.now();
    for (const [t, why] of [
      [{ issueInstant: new Date(now - 3_600_000) }, 'saml_logout_expired'],
      [{ issueInstant: new Date(now + 3_600_000) }, 'saml_logout_not_yet_valid'],
      [{ notOnOrAfter: new Date(now - 3_600_000) }, 'saml_logout_expired'],
    ] as const) {
      const res = await new Browser().fetch(idp.logoutRequestUrlWith('old@portal.example', t));
      expect(res.status, why).toBe(400);
      expect(await reason()).toBe(why);
    }
    expect(broker.login.validateSession(token)).not.toBeNull();
    // Fresh and within NotOnOrAfter: acted on.
    const ok = await new Browser().fetch(idp.logoutRequestUrlWith('old@portal.example', { notOnOrAfter: new Date(now + 300_000) }));
    expect(ok.status).toBe(303);
    expect(broker.login.validateSession(token)).toBeNull();
  });

  it('acts on a LogoutRequest once: a captured one replayed does not log the user out again', async () => {
    const first = await loggedIn('portal', idp, 'replay@portal.example');
    const captured = idp.logoutRequestUrl('replay@portal.example');
    expect((await new Browser().fetch(captured)).status).toBe(303);
    expect(broker.login.validateSession(first.token)).toBeNull();
    const again = await loggedIn('portal', idp, 'replay@portal.example');
    const replayed = await new Browser().fetch(captured);
    expect(replayed.status).toBe(400);
    expect(await reason()).toBe('saml_logout_replayed');
    expect(broker.login.validateSession(again.token)).not.toBeNull();
    expect((await events(broker, 'SamlLogoutRequestConsumed')).length).toBeGreaterThan(0);
  });

  it('accepts a LogoutResponse only for the LogoutRequest this browser sent', async () => {
    const { b } = await loggedIn('portal', idp, 'resp@portal.example');
    const out = await b.fetch(`${url}/saml/portal/logout`);
    expect(out.status).toBe(303);
    const sent = String(out.headers.location);
    expect(sent).toContain(`${idp.url}/slo?SAMLRequest=`);
    expect([...b.cookies(url).keys()]).toContain('broker_slo_portal');
    // A signed answer to some other request.
    const wrong = await b.fetch(idp.logoutResponseUrl('_not-the-request-we-sent'));
    expect(wrong.status).toBe(403);
    expect(await reason()).toBe('saml_logout_unknown_request');
    // The genuine answer, in another browser (no record of the request there).
    const genuine = await new Browser().fetch(sent);
    expect(genuine.status).toBe(303);
    const elsewhere = await new Browser().fetch(String(genuine.headers.location));
    expect(elsewhere.status).toBe(403);
    // The genuine answer in the browser that logged out.
    const done = await b.fetch(String(genuine.headers.location));
    expect(done.status).toBe(200);
    expect(done.body).toContain('Logged out');
    expect(b.cookies(url).has('broker_slo_portal')).toBe(false);
  });

  it('shows a clear page, not a 500, for an IdP whose metadata has no SLO endpoint', async () => {
    const { b, token } = await loggedIn('bare', bare, 'nobody@bare.example');
    const res = await b.fetch(`${url}/saml/bare/logout`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('offers no single logout');
    expect(broker.login.validateSession(token)).toBeNull();
  });
});

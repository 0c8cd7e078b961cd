import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SamlIdpPeer, fixture, type Tweaks } from '../../interop/saml/saml-idp.js';
import { Browser, type Form, type Page } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { b64, EVIL, xsw1, xsw2, xsw3, xsw4, xsw5, xsw6, xsw7, xsw8 } from './xsw.js';

describe('SAML ACS refuses bad responses with a clear page and LoginFailed', () => {
  let idp: SamlIdpPeer;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    idp = await SamlIdpPeer.start();
    ({ broker, url } = await startBroker([
      {
        name: 'saml',
        config: {
          idps: [{ name: 'acme', metadata: { xml: idp.metadata() }, attributes: { email: 'email' }, provisioning: { policy: 'auto' } }],
        },
      },
    ]));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/acme/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  /** Runs the real flow up to the IdP's auto-post form (a genuine response to a real AuthnRequest). */
  async function genuine(tweaks: Tweaks = {}, nameId = 'alice@example.com'): Promise<{ b: Browser; form: Form }> {
    idp.tweaks = tweaks;
    idp.user = { nameId, email: nameId };
    const b = new Browser();
    const page = await b.follow(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    idp.tweaks = {};
    return { b, form: Browser.form(page)! };
  }

  async function expectRefused(page: Page, reasons: string[]): Promise<string> {
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expect(page.body).toContain('Login refused');
    const failed = await events(broker, 'LoginFailed');
    const reason = (failed.at(-1)!.data as { reason: string }).reason;
    expect(reasons).toContain(reason);
    return reason;
  }
  const post = (b: Browser, form: Form, samlResponse: string): Promise<Page> =>
    b.submit({ action: form.action, fields: { ...form.fields, SAMLResponse: samlResponse } });
  const noEvilLogin = async () => {
    const ok = await events(broker, 'LoginSucceeded');
    expect(ok.some((e) => (e.data as { subject: string }).subject === EVIL)).toBe(false);
  };

  it('refuses XSW1-XSW8 built from a genuine response, then accepts the genuine one', async () => {
    const { b, form } = await genuine({ signMessage: true });
    const xml = b64.decode(form.fields.SAMLResponse);
    expect(xml).toMatch(/<samlp:Issuer|<saml:Issuer/);
    for (const [name, variant] of Object.entries({ xsw1, xsw2 })) {
      const reason = await expectRefused(await post(b, form, b64.encode(variant(xml))), ['saml_signature_wrapping']);
      expect(reason, name).toBeTruthy();
    }
    const a = await genuine();
    const axml = b64.decode(a.form.fields.SAMLResponse);
    for (const variant of [xsw3, xsw4, xsw5, xsw6, xsw7, xsw8]) {
      await expectRefused(await post(a.b, a.form, b64.encode(variant(axml))), ['saml_signature_wrapping']);
    }
    await noEvilLogin();
    // Refusals burn nothing: the genuine responses still work afterwards.
    expect((await post(a.b, a.form, a.form.fields.SAMLResponse)).status).toBe(200);
    expect((await post(b, form, form.fields.SAMLResponse)).status).toBe(200);
  });

  it('refuses an unsigned response', async () => {
    const { b, form } = await genuine({ unsigned: true });
    await expectRefused(await b.submit(form), ['saml_bad_signature']);
  });

  it('refuses a response signed by another key, with or without the trusted certificate in KeyInfo', async () => {
    const g1 = await genuine({ signWith: { key: fixture('attacker-key.pem'), cert: fixture('attacker-cert.pem') } });
    await expectRefused(await g1.b.submit(g1.form), ['saml_bad_signature']);
    const g2 = await genuine({ signWith: { key: fixture('attacker-key.pem'), cert: fixture('idp-cert.pem') } });
    await expectRefused(await g2.b.submit(g2.form), ['saml_bad_signature']);
  });

  it('refuses a comment injected into the NameID (the signature still verifies without comments)', async () => {
    const { b, form } = await genuine({}, 'user@evil.com.example.com');
    const xml = b64
      .decode(form.fields.SAMLResponse)
      .replace('user@evil.com.example.com</saml:NameID>', 'user@evil.com<!---->.example.com</saml:NameID>');
    expect(xml).toContain('<!---->');
    await expectRefused(await post(b, form, b64.encode(xml)), ['saml_comment_injection']);
  });

  it('refuses a replayed response: from another browser (no login binding), from the same one (binding spent), or with the binding copied (request answered)', async () => {
    const { b, form } = await genuine();
    const binding = b.cookies(url).get('broker_saml_acme')!;
    expect((await b.submit(form)).status).toBe(200);
    await expectRefused(await new Browser().submit(form), ['saml_not_started_here']);
    await expectRefused(await b.submit(form), ['saml_not_started_here']);
    const thief = new Browser();
    thief.cookies(url).set('broker_saml_acme', binding);
    await expectRefused(await thief.submit(form), ['saml_request_reused']);
  });

  it('refuses a wrong audience, recipient or destination', async () => {
    const g1 = await genuine({ audience: 'https://other-sp.example/metadata' });
    await expectRefused(await g1.b.submit(g1.form), ['saml_wrong_audience']);
    const g2 = await genuine({ recipient: 'https://other-sp.example/acs' });
    await expectRefused(await g2.b.submit(g2.form), ['saml_wrong_recipient']);
    const g3 = await genuine({ destination: 'https://other-sp.example/acs' });
    await expectRefused(await g3.b.submit(g3.form), ['saml_wrong_destination']);
  });

  it('refuses expired and not-yet-valid conditions beyond the clock skew', async () => {
    const now = Date.now();
    const g1 = await genuine({ notBefore: new Date(now - 3600_000), notOnOrAfter: new Date(now - 600_000) });
    await expectRefused(await g1.b.submit(g1.form), ['saml_expired']);
    const g2 = await genuine({ notBefore: new Date(now + 600_000), notOnOrAfter: new Date(now + 900_000) });
    await expectRefused(await g2.b.submit(g2.form), ['saml_not_yet_valid']);
  });

  it('accepts conditions within the clock skew', async () => {
    const g = await genuine({ notBefore: new Date(Date.now() + 30_000) });
    expect((await g.b.submit(g.form)).status).toBe(200);
  });

  it('refuses an unsolicited response when IdP-initiated login is not enabled', async () => {
    const { b, form } = await genuine({ inResponseTo: null });
    await expectRefused(await b.submit(form), ['saml_unsolicited']);
  });

  it('refuses a response answering a request the broker never sent', async () => {
    const { b, form } = await genuine({ inResponseTo: '_never_sent' });
    await expectRefused(await b.submit(form), ['saml_unknown_request']);
  });

  it('refuses DTD / XXE payloads', async () => {
    const { b, form } = await genuine();
    const xml = b64.decode(form.fields.SAMLResponse);
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${xml.replace('alice@example.com</saml:NameID>', '&x;</saml:NameID>')}`;
    await expectRefused(await post(b, form, b64.encode(xxe)), ['saml_dtd_forbidden']);
    const lol = `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>${xml}`;
    await expectRefused(await post(b, form, b64.encode(lol)), ['saml_dtd_forbidden']);
  });

  it('refuses an oversized body and malformed input without a 500', async () => {
    const b = new Browser();
    const big = await b.fetch(`${url}/saml/acme/acs`, { form: { SAMLResponse: 'A'.repeat(200_000) } });
    await expectRefused(big, ['saml_oversized']);
    await expectRefused(await b.fetch(`${url}/saml/acme/acs`, { form: { SAMLResponse: '%%%not base64' } }), ['saml_malformed']);
    await expectRefused(await b.fetch(`${url}/saml/acme/acs`, { form: { SAMLResponse: b64.encode('<not-saml/>') } }), [
      'saml_signature_wrapping',
      'saml_malformed',
    ]);
    await expectRefused(await b.fetch(`${url}/saml/acme/acs`, { form: {} }), ['saml_missing']);
  });
});

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ManualClock } from '../../../core/index.js';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser, type Form, type Page } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { b64 } from './xsw.js';

const COOKIE = 'broker_saml_acme';
const setCookies = (page: Page): string[] => {
  const v = page.headers['set-cookie'];
  return Array.isArray(v) ? v : v ? [v] : [];
};

describe('SAML SP-initiated responses are bound to the browser that started the login', () => {
  let idp: SamlIdpPeer;
  let broker: Broker;
  let url: string;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    idp = await SamlIdpPeer.start();
    ({ broker, url } = await startBroker(
      [
        {
          name: 'saml',
          config: {
            sp: { requestTtlSeconds: 30 },
            refusalEventsPerSecond: 5,
            idps: [{ name: 'acme', metadata: { xml: idp.metadata() }, attributes: { email: 'email' }, provisioning: { policy: 'auto' } }],
          },
        },
      ],
      [],
      undefined,
      { clock },
    ));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/acme/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  /** A browser starts a login for `nameId` and stops at the IdP's auto-post form (the response, not yet posted). */
  async function startLogin(nameId: string, b = new Browser(), state = 's1'): Promise<{ b: Browser; form: Form }> {
    idp.user = { nameId, email: nameId };
    const page = await b.follow(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker, state))}`);
    return { b, form: Browser.form(page)! };
  }
  const lastReason = async (): Promise<string> => ((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason;
  const loggedInAs = async (subject: string): Promise<boolean> =>
    (await events(broker, 'LoginSucceeded')).some((e) => (e.data as { subject: string }).subject === subject);

  it("refuses the attacker's genuine response posted from a victim's browser that started no login (login CSRF)", async () => {
    const attacker = await startLogin('mallory-1@example.com');
    const victim = new Browser();
    const page = await victim.submit(attacker.form);
    expect(page.status).toBe(403);
    expect(page.body).toContain('Login refused');
    expect(await lastReason()).toBe('saml_not_started_here');
    expect(victim.cookies(url).get('broker_session')).toBeUndefined();
    expect(await loggedInAs('mallory-1@example.com')).toBe(false);
  });

  it("refuses it when the victim's browser has its own login pending, and the victim's own response still works", async () => {
    const attacker = await startLogin('mallory-2@example.com');
    const victim = await startLogin('victor@example.com', new Browser(), 'victim-state');
    const injected = await victim.b.submit(attacker.form);
    expect(injected.status).toBe(403);
    expect(await lastReason()).toBe('saml_unknown_request');
    expect(victim.b.cookies(url).get('broker_session')).toBeUndefined();
    expect(await loggedInAs('mallory-2@example.com')).toBe(false);
    // The refusal burned nothing: the victim's own login completes and resumes the victim's request.
    const own = await victim.b.submit(victim.form);
    expect(own.status).toBe(200);
    expect(own.body).toContain('state=victim-state');
    expect(await loggedInAs('victor@example.com')).toBe(true);
  });

  it('carries the login request in the binding, not in RelayState, and clears the binding once used', async () => {
    const { b, form } = await startLogin('carol@example.com', new Browser(), 'carol-state');
    expect(form.fields.RelayState).toBeUndefined();
    expect(b.cookies(url).get(COOKIE)).toBeTruthy();
    const done = await b.submit(form);
    expect(done.body).toContain('state=carol-state');
    expect(b.cookies(url).get(COOKIE)).toBeUndefined();
  });

  it('refuses a binding cookie that was tampered with, or that belongs to another IdP login', async () => {
    const { b, form } = await startLogin('dave@example.com');
    const jar = b.cookies(url);
    const sealed = jar.get(COOKIE)!;
    jar.set(COOKIE, sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    expect((await b.submit(form)).status).toBe(403);
    expect(await lastReason()).toBe('saml_not_started_here');
    jar.set(COOKIE, sealed);
    expect((await b.submit(form)).status).toBe(200);
  });

  it('refuses a response whose login binding expired (sp.requestTtlSeconds)', async () => {
    const { b, form } = await startLogin('erin@example.com');
    clock.advance(31_000);
    try {
      const page = await b.submit(form);
      expect(page.status).toBe(400);
      expect(await lastReason()).toBe('saml_request_expired');
    } finally {
      clock.set(new Date());
    }
  });

  it('answers each AuthnRequest once, even for a thief holding both the binding cookie and a response', async () => {
    const { b, form } = await startLogin('frank@example.com');
    const sealed = b.cookies(url).get(COOKIE)!;
    const requestId = /InResponseTo="([^"]+)"/.exec(b64.decode(form.fields.SAMLResponse))![1];
    expect((await b.submit(form)).status).toBe(200);
    // The same response, and a second genuine assertion answering the same request, from a browser holding the cookie.
    const thief = new Browser();
    thief.cookies(url).set(COOKIE, sealed);
    const failuresBefore = (await events(broker, 'LoginFailed')).length;
    const replay = await thief.submit(form);
    expect(replay.status).toBe(400);
    expect(await lastReason()).toBe('saml_request_reused');
    const second = await thief.submit({
      action: form.action,
      fields: { SAMLResponse: await idp.issue(requestId, { nameId: 'frank@example.com' }) },
    });
    expect(second.status).toBe(400);
    // Both refusals are recorded (the second is not the first one read again).
    const failures = await events(broker, 'LoginFailed');
    expect(failures.length).toBe(failuresBefore + 2);
    expect((failures.at(-1)!.data as { reason: string }).reason).toBe('saml_request_reused');
    expect(thief.cookies(url).get('broker_session')).toBeUndefined();
  });

  it('lets an anonymous GET of the login route write nothing to the event log', async () => {
    const head = await broker.store.headPosition();
    for (let i = 0; i < 25; i++) {
      const res = await new Browser().fetch(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker))}`);
      expect(res.status).toBe(303);
    }
    await new Browser().fetch(`${url}/saml/acme/login`);
    expect(await broker.store.headPosition()).toBe(head);
  });

  it('records refusals of anonymous junk at most refusalEventsPerSecond per node, and resumes the next second', async () => {
    clock.advance(1000);
    const before = (await events(broker, 'LoginFailed')).length;
    for (let i = 0; i < 12; i++) {
      const page = await new Browser().fetch(`${url}/saml/acme/acs`, { form: { SAMLResponse: '%%%not base64' } });
      expect(page.status).toBe(400);
      expect(page.body).toContain('Login refused');
    }
    expect((await events(broker, 'LoginFailed')).length).toBe(before + 5);
    clock.advance(1000);
    await new Browser().fetch(`${url}/saml/acme/acs`, { form: { SAMLResponse: '%%%not base64' } });
    expect((await events(broker, 'LoginFailed')).length).toBe(before + 6);
  });
});

describe('SAML login binding cookie attributes', () => {
  let idp: SamlIdpPeer;
  const running: { broker: Broker; url: string }[] = [];

  beforeAll(async () => {
    idp = await SamlIdpPeer.start();
  });
  afterAll(async () => {
    for (const r of running) await r.broker.stop();
    await idp?.close();
  });

  const boot = async (insecureCookies: boolean) => {
    const r = await startBroker(
      [
        {
          name: 'saml',
          config: {
            idps: [{ name: 'acme', metadata: { xml: idp.metadata() }, attributes: { email: 'email' }, provisioning: { policy: 'auto' } }],
          },
        },
      ],
      [],
      undefined,
      { insecureCookies },
    );
    running.push(r);
    return r;
  };

  it('is __Host-, HttpOnly, Secure and SameSite=None with secure cookies: the ACS is a cross-site POST from the IdP', async () => {
    const { broker, url } = await boot(false);
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/acme/metadata`)).body);
    const b = new Browser();
    const start = await b.fetch(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    const cookie = setCookies(start).find((c) => c.startsWith('__Host-broker_saml_acme='))!;
    expect(cookie).toBeTruthy();
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*SameSite=None/i);
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/i);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(cookie).toMatch(/Max-Age=600/i);
    // The whole flow completes with it (the test browser sends it back on the IdP's POST).
    idp.user = { nameId: 'secure@example.com', email: 'secure@example.com' };
    const done = await b.submit(Browser.form(await b.follow(String(start.headers.location)))!);
    expect(done.status).toBe(200);
    expect(done.body).toMatch(/user=[\w-]+/);
  });

  it('has no SameSite=Lax/Strict in insecure (dev) mode either, so the cross-site POST can carry it', async () => {
    const { broker, url } = await boot(true);
    const start = await new Browser().fetch(`${url}/saml/acme/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    const cookie = setCookies(start).find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).not.toMatch(/SameSite=(Lax|Strict)/i);
  });
});

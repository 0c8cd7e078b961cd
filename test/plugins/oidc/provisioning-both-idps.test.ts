import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Browser, type Page } from '../../interop/saml/browser.js';
import { freePort, startBroker, loginRequest, events } from '../../interop/saml/world.js';
import { SamlIdpPeer, type IdpUser } from '../../interop/saml/saml-idp.js';
import { UpstreamOidc } from '../../interop/oidc-upstream/provider.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

/** Linking and provisioning policies (seed 002), exercised through a real SAML IdP and a real OIDC IdP. */
describe('provisioning and linking through SAML and OIDC', () => {
  let broker: Broker;
  let url: string;
  let upstream: UpstreamOidc;
  const saml: Record<'open' | 'strict' | 'gated', SamlIdpPeer> = {} as never;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    upstream = await UpstreamOidc.start(['corp', 'strict', 'gated'].map((n) => `${base}/oidc/${n}/callback`));
    for (const k of ['open', 'strict', 'gated'] as const) saml[k] = await SamlIdpPeer.start();
    const attrs = { email: 'email', groups: 'groups' };
    const common = {
      issuer: upstream.issuer,
      clientId: 'broker',
      clientSecret: 'broker-secret-0123456789',
      allowInsecureIssuer: true,
      scopes: ['openid', 'email', 'groups'],
      claims: { groups: 'groups' },
      userinfo: true,
    };
    ({ broker, url } = await startBroker(
      [
        {
          name: 'saml',
          config: {
            idps: [
              { name: 'open', metadata: { xml: saml.open.metadata() }, attributes: attrs, provisioning: { policy: 'auto' } },
              { name: 'strict', metadata: { xml: saml.strict.metadata() }, attributes: attrs, provisioning: { policy: 'explicit' } },
              {
                name: 'gated',
                metadata: { xml: saml.gated.metadata() },
                attributes: attrs,
                provisioning: { policy: 'gated', condition: { group: 'staff' } },
              },
            ],
          },
        },
        {
          name: 'oidc',
          config: {
            idps: [
              { name: 'corp', ...common, provisioning: { policy: 'auto', linkByEmail: true } },
              { name: 'strict', ...common, provisioning: { policy: 'explicit' } },
              { name: 'gated', ...common, provisioning: { policy: 'gated', condition: { group: 'staff' } } },
            ],
          },
        },
      ],
      [],
      port,
    ));
    for (const k of ['open', 'strict', 'gated'] as const)
      await saml[k].useServiceProvider((await new Browser().fetch(`${url}/saml/${k}/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await upstream?.close();
    for (const p of Object.values(saml)) await p?.close();
  });

  const lr = () => encodeURIComponent(loginRequest(broker));
  async function viaSaml(k: 'open' | 'strict' | 'gated', user: IdpUser): Promise<Page> {
    saml[k].user = user;
    const b = new Browser();
    return b.submit(Browser.form(await b.follow(`${url}/saml/${k}/login?lr=${lr()}`))!);
  }
  const viaOidc = (name: string, account: string): Promise<Page> =>
    upstream.login(new Browser(), `${url}/oidc/${name}/login?lr=${lr()}`, account);
  const lastFailure = async () => ((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason;
  const userOf = (p: Page) => /user=([\w-]+)/.exec(p.body)?.[1];

  it('explicit: refuses a stranger from either IdP, admits an admin-linked identity', async () => {
    const s = await viaSaml('strict', { nameId: 'stranger@x.example', email: 'stranger@x.example' });
    expect(s.status).toBe(403);
    expect(s.body).toContain('No account');
    expect(await lastFailure()).toBe('identity_not_provisioned');
    upstream.accounts.set('stranger', { email: 'stranger2@x.example', email_verified: true });
    const o = await viaOidc('strict', 'stranger');
    expect(o.status).toBe(403);
    expect(await lastFailure()).toBe('identity_not_provisioned');

    const { userId } = await broker.users.register({ email: 'known@x.example', name: 'Known' }, { actor: 'test' });
    await broker.users.execute(
      userId,
      { type: 'linkIdentity', issuer: saml.strict.entityId, subject: 'known@x.example', via: 'admin' },
      { actor: 'admin:test' },
    );
    await broker.users.execute(
      userId,
      { type: 'linkIdentity', issuer: upstream.issuer, subject: 'known', via: 'admin' },
      { actor: 'admin:test' },
    );
    expect(userOf(await viaSaml('strict', { nameId: 'known@x.example' }))).toBe(userId);
    expect(userOf(await viaOidc('strict', 'known'))).toBe(userId);
  });

  it('gated: admits by group and records the policy, refuses without the group', async () => {
    const no = await viaSaml('gated', { nameId: 'g1@x.example', groups: ['guests'] });
    expect(no.status).toBe(403);
    expect(await lastFailure()).toBe('group_required');
    const yes = await viaSaml('gated', { nameId: 'g2@x.example', groups: ['guests', 'staff'] });
    const uid = userOf(yes)!;
    expect(uid).toBeTruthy();
    expect((await events(broker, 'AccountProvisioned')).map((e) => e.data)).toContainEqual(
      expect.objectContaining({ userId: uid, policy: 'gated' }),
    );

    upstream.accounts.set('g3', { groups: ['guests'] });
    expect((await viaOidc('gated', 'g3')).status).toBe(403);
    expect(await lastFailure()).toBe('group_required');
    upstream.accounts.set('g4', { groups: ['staff'] });
    expect(userOf(await viaOidc('gated', 'g4'))).toBeTruthy();
  });

  it('links to an existing user by email only when the IdP says it is verified', async () => {
    const { userId } = await broker.users.register({ email: 'dave@corp.example', name: 'Dave' }, { actor: 'test' });
    upstream.accounts.set('dave-unverified', { email: 'dave@corp.example', email_verified: false });
    const other = userOf(await viaOidc('corp', 'dave-unverified'));
    expect(other).toBeTruthy();
    expect(other).not.toBe(userId);
    upstream.accounts.set('dave', { email: 'dave@corp.example', email_verified: true });
    expect(userOf(await viaOidc('corp', 'dave'))).toBe(userId);
    const linked = (await events(broker, 'ExternalIdentityLinked')).map((e) => e.data);
    expect(linked).toContainEqual(expect.objectContaining({ userId, issuer: upstream.issuer, subject: 'dave', via: 'verified_email' }));
  });

  it('refuses a banned user and a disabled user whichever IdP they come from', async () => {
    const first = await viaSaml('open', { nameId: 'erin@x.example', email: 'erin@x.example' });
    const userId = userOf(first)!;
    await broker.users.execute(
      userId,
      { type: 'linkIdentity', issuer: upstream.issuer, subject: 'erin', via: 'admin' },
      { actor: 'admin:test' },
    );
    expect(userOf(await viaOidc('corp', 'erin'))).toBe(userId);

    await broker.users.execute(userId, { type: 'ban', reason: 'abuse', actor: 'admin:test' }, { actor: 'admin:test' });
    const s = await viaSaml('open', { nameId: 'erin@x.example' });
    expect(s.status).toBe(403);
    expect(s.body).toContain('Account banned');
    expect(await lastFailure()).toBe('banned');
    const o = await viaOidc('corp', 'erin');
    expect(o.status).toBe(403);
    expect(o.body).toContain('Account banned');
    expect(await lastFailure()).toBe('banned');

    await broker.users.execute(userId, { type: 'unban', reason: null, actor: 'admin:test' }, { actor: 'admin:test' });
    await broker.users.execute(userId, { type: 'disable', reason: 'left' }, { actor: 'admin:test' });
    expect((await viaSaml('open', { nameId: 'erin@x.example' })).status).toBe(403);
    expect(await lastFailure()).toBe('disabled');
    expect((await viaOidc('corp', 'erin')).status).toBe(403);
    expect(await lastFailure()).toBe('disabled');
  });
});

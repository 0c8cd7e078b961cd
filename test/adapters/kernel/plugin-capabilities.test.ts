import { describe, it, expect, afterEach } from 'vitest';
import type { Plugin, PluginCtx } from '../../../adapters/kernel/boot.js';
import { Keys } from '../../../adapters/kernel/master-key.js';
import { LEGACY_KEY_PURPOSES, pluginKeys } from '../../../adapters/kernel/plugin-capabilities.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import { ConfigError } from '../../../config/errors.js';
import { PluginCapabilityError, defineEvent } from '../../../core/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';

// An integrator's plugin's own events, as it would define them (declaration merging for the types).
declare module '../../../core/events/catalog.js' {
  interface EventMap {
    StatsNoted: { count: number; note: string };
    StatsForgotten: { reason: string };
  }
}
defineEvent('StatsNoted', 1, {}, { fields: { count: 'integer', note: 'string' } });
defineEvent('StatsForgotten', 1, {}, { fields: { reason: 'string' } });
defineEvent('StatsLegacy', 1);

/** A plugin that keeps its ctx for the test to poke at. */
function probe(name: string, extra: Partial<Plugin<any>> = {}): { plugin: Plugin<any>; ctx: () => PluginCtx<any> } {
  let kept: PluginCtx<any> | undefined;
  const plugin: Plugin<any> = {
    name,
    events: ['StatsNoted'],
    streams: ['stats-'],
    ...extra,
    register(ctx) {
      kept = ctx;
      return extra.register?.(ctx);
    },
  };
  return { plugin, ctx: () => kept! };
}

describe('plugin capabilities', () => {
  let t: TestBroker | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('appends its own declared event to its own namespace, stamped with the plugin by the kernel', async () => {
    const p = probe('stats');
    t = await startBroker({ extra: [{ plugin: p.plugin }] });
    const res = await p
      .ctx()
      .store.append('stats-daily', [{ type: 'StatsNoted', data: { count: 3, note: 'ok' }, metadata: { plugin: 'admin' } as never }]);
    const [e] = await t.broker.store.readStream('stats-daily');
    expect(res.position).toBe(e.position);
    expect(e.metadata.plugin).toBe('stats');
    expect(e.metadata.actor).toBe('plugin:stats');
  });

  it('refuses a core event, an undeclared event, bad data, another namespace and another plugin as actor; nothing is written', async () => {
    const p = probe('stats');
    t = await startBroker({ extra: [{ plugin: p.plugin }] });
    const store = p.ctx().store;
    const head = await t.broker.store.headPosition();
    // The forged admin grant of the issue: a core fact, through the plugin's store.
    await expect(
      store.append('user-someone', [{ type: 'AdminGranted', data: { userId: 'someone' } as never, metadata: { actor: 'admin:forged' } }]),
    ).rejects.toThrow(PluginCapabilityError);
    await expect(store.append('stats-x', [{ type: 'AdminGranted', data: {} as never }])).rejects.toThrow(/core event/);
    // Defined, but not declared by this plugin (declared events only).
    await expect(store.append('stats-x', [{ type: 'StatsForgotten', data: { reason: 'x' } }])).rejects.toThrow(
      /not one of its declared events/,
    );
    // Another plugin's event type.
    await expect(store.append('stats-x', [{ type: 'GrantRevoked', data: { grantId: 'g', reason: 'r' } }])).rejects.toThrow(
      /not one of its declared events/,
    );
    // Its own event, with data that does not match the schema.
    await expect(store.append('stats-x', [{ type: 'StatsNoted', data: { count: 'three', note: 'x' } as never }])).rejects.toThrow(
      /does not match its schema/,
    );
    await expect(store.append('stats-x', [{ type: 'StatsNoted', data: { note: 'x' } as never }])).rejects.toThrow(
      /does not match its schema/,
    );
    // Its own event, in another plugin's namespace or the core's.
    await expect(store.append('grant-abc', [{ type: 'StatsNoted', data: { count: 1, note: 'x' } }])).rejects.toThrow(
      /outside its namespace/,
    );
    await expect(store.append('statsx', [{ type: 'StatsNoted', data: { count: 1, note: 'x' } }])).rejects.toThrow(/outside its namespace/);
    // Speaking as another plugin.
    await expect(
      store.append('stats-x', [{ type: 'StatsNoted', data: { count: 1, note: 'x' }, metadata: { actor: 'plugin:oauth-server' } }]),
    ).rejects.toThrow(/another plugin/);
    // Its command handler runs over the same scoped store.
    const forge = { initialState: () => null, evolve: () => null, decide: () => [{ type: 'UserBanned', data: {} }] } as never;
    await expect(p.ctx().commands.handle(forge, 'user-someone', {}, { actor: 'system' })).rejects.toThrow(PluginCapabilityError);
    // The stored (sealed) form it may read for chain checks is no way around the checks.
    expect(store.raw).toBeDefined();
    await expect(store.raw!.append('user-someone', [{ type: 'AdminGranted', data: { userId: 'someone' } as never }])).rejects.toThrow(
      PluginCapabilityError,
    );
    expect(await t.broker.store.headPosition()).toBe(head);
    await expect(store.close()).rejects.toThrow(PluginCapabilityError);
  });

  it("refuses at start a plugin that declares a core event, an event without a schema, or another plugin's event", async () => {
    const core = probe('forger', { events: ['AdminGranted'] });
    await expect(startBroker({ extra: [{ plugin: core.plugin }] })).rejects.toThrow(/AdminGranted is a core event/);
    const noSchema = probe('legacy', { events: ['StatsLegacy'], streams: ['legacy-'] });
    await expect(startBroker({ extra: [{ plugin: noSchema.plugin }] })).rejects.toThrow(/without a schema/);
    const thief = probe('thief', { events: ['GrantIssued'] });
    await expect(
      startBroker({ plugins: [{ name: 'oauth-server', config: { clients: [] } }], extra: [{ plugin: thief.plugin }] }),
    ).rejects.toThrow(/already declared by plugin oauth-server/);
  });

  it("derives keys per plugin: another plugin's purpose gives other bytes; built-ins keep their legacy keys", async () => {
    const a = probe('stats');
    const b = probe('other', { events: [], streams: [] });
    t = await startBroker({ extra: [{ plugin: a.plugin }, { plugin: b.plugin }] });
    const keys = new Keys(Buffer.from('test-master-key-'.padEnd(48, 'x')));
    // The master key of the test config, through Keys as boot uses it.
    expect(a.ctx().keys.derive('tickets').equals(keys.derive('plugin:stats:tickets'))).toBe(true);
    expect(a.ctx().keys.derive('tickets').equals(b.ctx().keys.derive('tickets'))).toBe(false);
    // The broker's own keys and the built-ins' keys are out of reach, whatever the purpose.
    for (const purpose of ['login-request', 'signing-keys', 'totp-secret', 'oauth-code', 'oauth-client-secret', 'recovery-code']) {
      expect(a.ctx().keys.derive(purpose).equals(keys.derive(purpose))).toBe(false);
    }
    expect(() => a.ctx().keys.derive('plugin:oauth-server:x')).toThrow(PluginCapabilityError);
    // A plugin merely named like a built-in is not one.
    expect(pluginKeys(keys, 'oauth-server', false).derive('oauth-code').equals(keys.derive('oauth-code'))).toBe(false);
    // The built-ins derive exactly the bytes they derived before scoping (existing deployments).
    for (const [name, purposes] of Object.entries(LEGACY_KEY_PURPOSES)) {
      for (const purpose of purposes) expect(pluginKeys(keys, name, true).derive(purpose).equals(keys.derive(purpose))).toBe(true);
    }
  });

  it('sees only its own config: no container, no broker config, no privileged service', async () => {
    const p = probe('stats');
    t = await startBroker({
      extra: [{ plugin: p.plugin, config: { mine: 1 } }],
      config: { admin: { apiTokens: [{ name: 'ops', tokenHash: 'a'.repeat(64) }] } },
    });
    const ctx = p.ctx() as unknown as Record<string, unknown>;
    expect(p.ctx().config).toEqual({ mine: 1 });
    expect(ctx.container).toBeUndefined();
    const services = p.ctx().services;
    expect(() => services.get(TOKENS.AdminApiTokens)).toThrow(/console privilege/);
    expect(() => services.get(TOKENS.Sites)).toThrow(/sites privilege/);
    expect(() => services.get(TOKENS.SigningKeys)).toThrow(/signing privilege/);
    expect(() => services.get(TOKENS.Totp)).toThrow(/credentials privilege/);
    expect(() => services.getAll(TOKENS.ConsoleSource)).toThrow(/console privilege/);
    // The kernel's own services are no tokens a plugin can name through services at all.
    expect(() => services.get(TOKENS.Keys as never)).toThrow(/no service/);
  });

  it('refuses privileges declared by a plugin that is not built in', async () => {
    const p = probe('admin', { privileges: ['user-admin'] });
    await expect(startBroker({ extra: [{ plugin: p.plugin }] })).rejects.toThrow(/granted to built-in plugins only/);
  });

  it('refuses administrative and credential user commands without the privilege', async () => {
    const p = probe('stats');
    t = await startBroker({ extra: [{ plugin: p.plugin }] });
    const { userId } = await t.broker.users.register({ email: 'u@example.com', name: null }, { actor: 'system' });
    const users = p.ctx().users;
    await expect(users.execute(userId, { type: 'grantAdmin' }, { actor: 'admin:forged' })).rejects.toThrow(/user-admin privilege/);
    await expect(users.execute(userId, { type: 'ban', reason: 'x', actor: 'admin:forged' }, { actor: 'admin:forged' })).rejects.toThrow(
      /user-admin privilege/,
    );
    await expect(users.execute(userId, { type: 'setPassword', passwordHash: 'x' }, { actor: 'system' })).rejects.toThrow(
      /credentials privilege/,
    );
    await expect(users.register({ email: 'boss@example.com', name: null, admin: true }, { actor: 'system' })).rejects.toThrow(
      /user-admin privilege/,
    );
    expect((await t.broker.users.load(userId)).admin).toBe(false);
    // Reads and ordinary commands go through, stamped with the plugin.
    expect(await users.findByEmail('u@example.com')).toBe(userId);
  });

  it('makes a duplicate downstream protocol a start error instead of a silent replacement', async () => {
    const thief = probe('thief', {
      register: (ctx) => ctx.add.downstreamProtocol({ name: 'oauth', resume: async () => ({ kind: 'redirect', location: '/' }) }),
    });
    const err = await startBroker({
      plugins: [{ name: 'oauth-server', config: { clients: [] } }],
      extra: [{ plugin: thief.plugin }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/downstream protocol oauth is already registered/);
  });

  it('freezes the registries after boot', async () => {
    const p = probe('stats');
    t = await startBroker({ extra: [{ plugin: p.plugin }] });
    const ctx = p.ctx();
    expect(() => ctx.add.enricher({ name: 'late', enrich: async () => ({}) })).toThrow(/after boot/);
    expect(() => ctx.add.downstreamProtocol({ name: 'late', resume: async () => ({ kind: 'redirect', location: '/' }) })).toThrow(
      /after boot/,
    );
    expect(() => ctx.services.provide(TOKENS.AccessTokenIssuer, 'https://evil.example')).toThrow(/frozen after boot/);
    // The login registries it sees are read-only views.
    expect('set' in ctx.login.protocols).toBe(false);
    (ctx.login.enrichers as unknown[]).length = 0;
    expect(() => (t!.broker.login.enrichers as unknown[]).push({})).toThrow(TypeError);
  });

  it('completes a login only for an identity provider it registered, and records which plugin did', async () => {
    const idp = (id: string) => ({ id, displayName: id, protocol: 'magic', loginPath: () => `/${id}`, provisioning: { policy: 'auto' } });
    const p = probe('magic', {
      register(ctx) {
        ctx.add.identityProvider(idp('magic-link'));
        ctx.web.app.post<{ Body: { idp: string; userId?: string } }>('/magic/finish', async (req, reply) => {
          const identity = {
            issuer: 'https://magic.example',
            subject: 'alice',
            email: 'alice@example.com',
            amr: ['email'],
            ...(req.body.userId ? { userId: req.body.userId } : {}),
          };
          return ctx.web.finishLogin(req, reply, identity, undefined, req.body.idp);
        });
      },
    });
    const other = probe('other', { events: [], streams: [], register: (ctx) => ctx.add.identityProvider(idp('other-idp')) });
    t = await startBroker({ extra: [{ plugin: p.plugin }, { plugin: other.plugin }] });
    const post = (body: Record<string, string>) =>
      fetch(`${t!.url}/magic/finish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        redirect: 'manual',
      });

    // Another plugin's IdP, through the browser side and through the login service.
    const head = await t.broker.store.headPosition();
    expect((await post({ idp: 'other-idp' })).status).toBe(500);
    await expect(p.ctx().login.complete({ issuer: 'x', subject: 'y', amr: [] }, { idp: 'other-idp' })).rejects.toThrow(
      /did not register it/,
    );
    await expect(p.ctx().login.complete({ issuer: 'x', subject: 'y', amr: [] })).rejects.toThrow(/did not register it/);
    // Its own IdP, but naming the broker user directly (no credential checked): refused.
    const victim = await t.broker.users.register({ email: 'victim@example.com', name: null }, { actor: 'system' });
    expect((await post({ idp: 'magic-link', userId: victim.userId })).status).toBe(500);
    expect(await t.broker.store.headPosition()).toBe(head + 2); // the victim's registration only

    // Its own IdP: a session, recorded with the plugin and the IdP.
    const ok = await post({ idp: 'magic-link' });
    expect([302, 303]).toContain(ok.status);
    expect(ok.headers.get('set-cookie')).toBeTruthy();
    const all = await t.broker.store.readAll();
    const login = all.find((e) => e.type === 'LoginSucceeded')!;
    expect(login.metadata.plugin).toBe('magic');
    expect(login.metadata.idp).toBe('magic-link');
  });
});

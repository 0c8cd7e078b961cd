import { sha256 } from '../digest.js';
import type { EventStore } from '../ports/event-store.js';
import type { Users } from '../model/users.js';
import type { Clock, Ids } from '../ids.js';
import type { AuthenticatedIdentity } from './identity.js';
import type { ReadModels } from '../read/read-models.js';
import type { SessionView } from '../read/sessions-view.js';
import type { ProjectionEngine } from '../read/projection.js';
import { DomainError, NotProvisioned, UserBannedError, UserDisabledError } from '../errors.js';
import type { IdentityProvider, DownstreamProtocol, IdentityEnricher, ProvisioningPolicy } from '../kernel/extension-points.js';
import { builtinPolicies } from './provisioning.js';
import type { LoginRequestCodec } from './login-request.js';

export interface SessionSettings {
  absoluteSeconds: number;
  idleSeconds: number;
}

export interface LoginContext {
  ip?: string | null;
  userAgent?: string | null;
  /** The identity provider id the identity came through (for its provisioning settings). */
  idp?: string;
  /** The pending login request token, if any (a login step that sends the browser elsewhere resumes it). */
  loginRequest?: string;
  /** The plugin that completed the login (set by the kernel: the plugin that registered `idp`). */
  plugin?: string;
}

/**
 * Not an error: an enricher asked for one more step (`Enrichment.continueAt`) before the login may
 * open a session. The browser side (`finishLogin`) sends the browser there; any other caller treats
 * it as "no session".
 */
export class LoginContinues extends Error {
  constructor(readonly location: string) {
    super('the login needs one more step');
    this.name = 'LoginContinues';
  }
}

export interface LoginOutcome {
  userId: string;
  /** Goes in the cookie only. Never logged, never in an event. */
  sessionToken: string;
  session: SessionView;
  position: number;
}

/** The session id recorded in events is a hash of the cookie token: reading the log never yields a usable cookie. */
export function sessionIdFromToken(token: string): string {
  return sha256(token, 'base64url').slice(0, 32);
}

export const sessionStream = (sessionId: string): string => `session-${sessionId}`;
export const loginLogStream = (userId: string | null): string => `loginlog-${userId ?? 'unknown'}`;

/**
 * The heart of the login flow (ARCHITECTURE "The login flow", steps 4-5): link or provision the
 * identity, refuse banned/disabled users whichever IdP they came from, enrich, record
 * `LoginSucceeded` (which opens the session), and look up the protocol that resumes the request.
 */
export class LoginService {
  readonly identityProviders = new Map<string, IdentityProvider>();
  readonly protocols = new Map<string, DownstreamProtocol>();
  readonly enrichers: IdentityEnricher[] = [];
  readonly policies = new Map<string, ProvisioningPolicy>(builtinPolicies.map((p) => [p.name, p]));
  /** How many cookie tokens validateSession remembers the session id of (then it starts afresh). */
  static readonly TOKEN_CACHE_MAX = 50_000;
  // Session ids by cookie token, for tokens that named a live session: a browser's later checks
  // skip the SHA-256 (a third of the check's own CPU here). Process memory only: the log and the
  // read models still hold hashes alone. Only a token whose hash named a session gets in, so a
  // stream of forged cookies cannot fill it; a token whose session has ended leaves on its next use.
  private readonly idByToken = new Map<string, string>();

  constructor(
    private readonly store: EventStore,
    private readonly users: Users,
    private readonly read: ReadModels,
    private readonly engine: ProjectionEngine,
    readonly requests: LoginRequestCodec,
    private readonly clock: Clock,
    private readonly ids: Ids,
    readonly sessionSettings: SessionSettings = { absoluteSeconds: 8 * 3600, idleSeconds: 3600 },
  ) {}

  /** Records a failed login. The reason is a short code (`bad_password`, `banned`, `saml_bad_signature`...). */
  async recordFailure(
    f: { userId: string | null; issuer: string; subject?: string | null; reason: string },
    ctx: LoginContext = {},
  ): Promise<number> {
    const res = await this.store.append(loginLogStream(f.userId), [
      {
        type: 'LoginFailed',
        data: { userId: f.userId, issuer: f.issuer, subject: f.subject ?? null, reason: f.reason, ip: ctx.ip ?? null },
        metadata: { actor: f.userId ? `user:${f.userId}` : 'anonymous', recordedAt: this.clock.now().toISOString() },
      },
    ]);
    return res.position;
  }

  /** Links the identity to a user (or provisions one per the IdP's policy). Returns the user id. */
  async resolveUser(identity: AuthenticatedIdentity, ctx: LoginContext): Promise<string> {
    if (identity.userId) return identity.userId;
    const meta = { actor: `idp:${identity.issuer}` };
    const linked = await this.users.findByIdentity(identity.issuer, identity.subject);
    if (linked) return linked;
    const idp = ctx.idp ? this.identityProviders.get(ctx.idp) : undefined;
    const settings = idp?.provisioning ?? { policy: 'explicit' };
    if (settings.linkByEmail && identity.email && identity.emailVerified === true) {
      const existing = await this.users.findByEmail(identity.email);
      if (existing) {
        const linkedNow = await this.users.execute(
          existing,
          { type: 'linkIdentity', issuer: identity.issuer, subject: identity.subject, via: 'verified_email' },
          meta,
        );
        await this.engine.waitFor(linkedNow.position);
        return existing;
      }
    }
    const policy = this.policies.get(settings.policy);
    if (!policy) throw new DomainError('forbidden', `unknown provisioning policy ${settings.policy}`);
    const decision = await policy.decide(identity, settings);
    if (!decision.allow) {
      await this.recordFailure({ userId: null, issuer: identity.issuer, subject: identity.subject, reason: decision.reason }, ctx);
      throw new NotProvisioned();
    }
    const email = identity.email && !(await this.users.findByEmail(identity.email)) ? identity.email : null;
    const { userId } = await this.users.register({ email, name: identity.name ?? null, via: identity.issuer }, meta);
    await this.users.execute(userId, { type: 'linkIdentity', issuer: identity.issuer, subject: identity.subject, via: policy.name }, meta);
    const provisioned = await this.users.execute(
      userId,
      { type: 'recordProvisioned', issuer: identity.issuer, subject: identity.subject, policy: policy.name },
      meta,
    );
    // Read-your-writes: callers (the gateway's bearer path) read the read models right after.
    await this.engine.waitFor(provisioned.position);
    return userId;
  }

  /**
   * Completes a login for an identity an IdP vouched for. Throws UserBannedError,
   * UserDisabledError or NotProvisioned (each recorded as `LoginFailed`) or the enricher's error.
   */
  async complete(identity: AuthenticatedIdentity, ctx: LoginContext = {}): Promise<LoginOutcome> {
    const userId = await this.resolveUser(identity, ctx);
    // Authoritative state from the user's stream, not a projection: a ban recorded a moment ago bites.
    const user = await this.users.load(userId);
    const fail = async (reason: string, err: DomainError): Promise<never> => {
      await this.recordFailure({ userId, issuer: identity.issuer, subject: identity.subject, reason }, ctx);
      throw err;
    };
    if (!user.exists || user.erased) await fail('no_account', new NotProvisioned());
    if (user.banned) await fail('banned', new UserBannedError());
    if (user.disabled) await fail('disabled', new UserDisabledError());

    let roles = user.roles;
    let tenant = identity.tenant ?? user.tenant;
    for (const enricher of this.enrichers) {
      let continueAt: string | undefined;
      try {
        const out = await enricher.enrich({ userId, user, identity, context: ctx });
        if (out.roles) roles = out.roles;
        if (out.tenant !== undefined) tenant = out.tenant;
        continueAt = out.continueAt;
      } catch (err) {
        const reason = err instanceof DomainError ? `enricher_${enricher.name}_${err.code}` : `enricher_${enricher.name}_failed`;
        await fail(reason, err instanceof DomainError ? err : new DomainError('forbidden', 'Your roles could not be determined.'));
      }
      // Only a path on this site: an enricher cannot turn the login into an open redirect.
      if (continueAt !== undefined)
        throw new LoginContinues(
          continueAt.startsWith('/') && !continueAt.startsWith('//') && !continueAt.startsWith('/\\') ? continueAt : '/',
        );
    }
    if (this.enrichers.length) {
      await this.users.execute(
        userId,
        { type: 'assignRoles', roles, tenant, source: this.enrichers.map((e) => e.name).join(',') },
        { actor: 'system' },
      );
    }

    const token = this.ids.token(32);
    const sessionId = sessionIdFromToken(token);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.sessionSettings.absoluteSeconds * 1000).toISOString();
    const res = await this.store.append(
      sessionStream(sessionId),
      [
        {
          type: 'LoginSucceeded',
          data: {
            userId,
            sessionId,
            issuer: identity.issuer,
            subject: identity.subject,
            amr: identity.amr,
            roles,
            tenant: tenant ?? null,
            ip: ctx.ip ?? null,
            userAgent: ctx.userAgent ? ctx.userAgent.slice(0, 256) : null,
            expiresAt,
            idleTimeoutSeconds: this.sessionSettings.idleSeconds,
          },
          // Session times follow the injected Clock (validateSession compares against it), not the store's wall clock.
          metadata: { actor: `user:${userId}`, recordedAt: now.toISOString(), ...(ctx.plugin ? { plugin: ctx.plugin, idp: ctx.idp } : {}) },
        },
      ],
      { expectedRevision: 'no_stream' },
    );
    await this.engine.waitFor(res.position);
    const session = this.read.sessions.byId.get(sessionId);
    if (!session) throw new DomainError('conflict', 'session ended before it could be used');
    return { userId, sessionToken: token, session, position: res.position };
  }

  /**
   * The session behind a cookie token, or null when unknown, ended, expired (absolute or idle) or
   * its user is banned, disabled or erased. Cheap: one hash and map look-ups (every request pays it).
   */
  validateSession(token: string | undefined | null, nowMs: number = this.clock.now().getTime()): SessionView | null {
    if (!token || token.length > 200) return null;
    const known = this.idByToken.get(token);
    let s = known === undefined ? undefined : this.read.sessions.byId.get(known);
    if (!s) {
      if (known !== undefined) this.idByToken.delete(token);
      const id = sessionIdFromToken(token);
      s = this.read.sessions.byId.get(id);
      if (!s) return null;
      if (this.idByToken.size >= LoginService.TOKEN_CACHE_MAX) this.idByToken.clear();
      this.idByToken.set(token, id);
    }
    if (s.expiresAtMs <= nowMs) return null;
    if (s.lastSeenAtMs + s.idleTimeoutSeconds * 1000 <= nowMs) return null;
    if (!this.read.users.isActive(s.userId)) return null;
    return s;
  }

  /** Whether to record `SessionRefreshed` now (at most once per tenth of the idle window). */
  needsRefresh(s: SessionView, nowMs: number = this.clock.now().getTime()): boolean {
    return nowMs - s.lastSeenAtMs > (s.idleTimeoutSeconds * 1000) / 10;
  }

  async refresh(s: SessionView): Promise<void> {
    await this.store.append(sessionStream(s.sessionId), [
      {
        type: 'SessionRefreshed',
        data: { sessionId: s.sessionId, userId: s.userId },
        metadata: { actor: `user:${s.userId}`, recordedAt: this.clock.now().toISOString() },
      },
    ]);
  }

  async endSession(sessionId: string, reason: string, actor: string, correlationId?: string): Promise<number> {
    const s = this.read.sessions.byId.get(sessionId);
    if (!s) return this.engine.position;
    const res = await this.store.append(sessionStream(sessionId), [
      {
        type: 'SessionEnded',
        data: { sessionId, userId: s.userId, reason },
        metadata: { actor, ...(correlationId ? { correlationId } : {}) },
      },
    ]);
    await this.engine.waitFor(res.position);
    return res.position;
  }

  /**
   * "Log out everywhere" (and what a ban or a disable does): ends every live session of the user
   * (a `SessionEnded` each, so back-channel logout names the session), then records
   * `CredentialsRevoked`, which voids for good every session and grant from a login before it,
   * including offline grants whose session ended long ago. The events share one correlation id
   * (pass the ban's own to join it), so a reactor can tell them apart from separate logouts.
   */
  async endAllSessions(userId: string, reason: string, actor: string, correlationId: string = this.ids.token(16)): Promise<number> {
    for (const s of this.read.sessions.forUser(userId)) await this.endSession(s.sessionId, reason, actor, correlationId);
    const res = await this.users.execute(userId, { type: 'revokeCredentials', reason }, { actor, correlationId });
    await this.engine.waitFor(res.position);
    return res.position;
  }
}

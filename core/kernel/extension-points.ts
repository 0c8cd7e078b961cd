import type { AuthenticatedIdentity, ProvisioningSettings } from '../login/identity.js';
import type { LoginContext } from '../login/login-service.js';
import type { LoginRequest } from '../login/login-request.js';
import type { SessionView } from '../read/sessions-view.js';
import type { UserState } from '../model/user.js';
import type { RecordedEvent } from '../events/envelope.js';
import type { Observable } from 'rxjs';

/**
 * The extension points a plugin may add to. Each is a small typed interface; the kernel keeps a
 * registry of each and the core's login flow calls them.
 */

/** Starts a login and ends with an `AuthenticatedIdentity` handed to `LoginService.complete`. */
export interface IdentityProvider {
  /** Unique id, used in URLs (`password`, `saml-acme`, `oidc-google`, `handoff-crm`). */
  readonly id: string;
  readonly displayName: string;
  /** `password`, `saml`, `oidc`, `handoff`... */
  readonly protocol: string;
  /** Path the browser is sent to start a login with this provider, carrying the login request. */
  loginPath(loginRequestToken: string): string;
  /** How strangers get in through this provider (defaults to `explicit` when absent). */
  readonly provisioning?: ProvisioningSettings;
  /** Listed on the login chooser page (an inbound handoff is not). */
  readonly interactive?: boolean;
  /** A page where a logged-in user manages this sign-in method, linked from the account page (`/`). */
  readonly accountLink?: { path: string; label: string };
}

/** What a downstream protocol answers when it resumes a request once there is a session. */
export type ResumeAction = { kind: 'redirect'; location: string } | { kind: 'html'; status?: number; html: string };

/** Resumes a pending login request once there is a session (OAuth authorize, HMAC handoff, gateway). */
export interface DownstreamProtocol {
  /** Matches `LoginRequest.protocol`. */
  readonly name: string;
  resume(request: LoginRequest, session: SessionView): Promise<ResumeAction>;
}

export interface EnrichmentInput {
  userId: string;
  user: UserState;
  identity: AuthenticatedIdentity;
  /** How the login came in: the identity provider id and the pending login request token (for a step that resumes it). */
  context?: LoginContext;
}
export interface Enrichment {
  roles?: string[];
  tenant?: string | null;
  attributes?: Record<string, unknown>;
  /**
   * The login is not finished: send the browser to this same-site path first (a second factor, an
   * enrolment the deployment requires). No session is opened and nothing is recorded; the step
   * completes the login itself later, through `finishLogin` with a stronger identity (its `amr`
   * says what was proven), which passes every check and enricher again.
   */
  continueAt?: string;
}
/** Adds roles/tenant/attributes after login, or asks for one more step (`continueAt`). Throw a DomainError to refuse the login. */
export interface IdentityEnricher {
  readonly name: string;
  enrich(input: EnrichmentInput): Promise<Enrichment>;
}

export type ProvisioningDecision = { allow: true } | { allow: false; reason: string };
/** Decides whether an unknown identity gets an account. */
export interface ProvisioningPolicy {
  readonly name: string;
  decide(identity: AuthenticatedIdentity, settings: ProvisioningSettings): Promise<ProvisioningDecision> | ProvisioningDecision;
}

/**
 * Acts on the outside world in reaction to events. It keeps a durable checkpoint (in the log or
 * its store) and records its outcomes as events, so a crash never loses work.
 *
 * The kernel isolates its faults (core/reactors/reactor-supervisor.ts): if `start` throws, or a
 * handler on the events from `subscribe` throws or rejects, the reactor is quarantined (`stop()`
 * is called, `ReactorQuarantined` recorded) until `broker projections retry <name>`, which calls
 * `start` again: a reactor must be able to start again after `stop`.
 */
export interface Reactor {
  readonly name: string;
  start(events: ReactorContext): Promise<void> | void;
  /** Finish in-flight work (bounded), then stop. */
  stop(): Promise<void> | void;
}
export interface ReactorContext {
  subscribe(after: number): Observable<RecordedEvent>;
}

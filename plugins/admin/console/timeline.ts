import {
  secretFieldsOf,
  userDecider,
  userStream,
  type EventStore,
  type ReadModels,
  type RecordedEvent,
  type UserState,
} from '../../../plugin/index.js';

/**
 * The events a person cares about on a user's timeline, in words. Bookkeeping the broker keeps for
 * itself (uniqueness reservations, sliding-session refreshes, one-time ticket use, webhook
 * retries, token rotation) is left out: it is in the event log browser for whoever needs it.
 */
export const HIDDEN = new Set([
  'ReservationClaimed',
  'ReservationReleased',
  'SessionRefreshed',
  'MfaTicketUsed',
  'TotpCodeAccepted',
  'BanBroadcastQueued',
  'BanNotificationRequeued',
  'BanNotificationDelivered',
  'BanNotificationFailed',
  'BanNotificationAbandoned',
  'RefreshTokenRotated',
  'BackChannelLogoutClaimed',
  'BackChannelLogoutDelivered',
  'BackChannelLogoutFailed',
  'ClientAssertionUsed',
  'AccessTokenRevoked',
]);

type Data = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

const LABELS: Record<string, [string, (d: Data) => string]> = {
  UserRegistered: ['Account created', (d) => `${s(d.email)}${d.admin ? ' as administrator' : ''}${d.via ? ` (via ${s(d.via)})` : ''}`],
  UserProfileUpdated: [
    'Profile changed',
    (d) => [d.email !== undefined ? `email ${s(d.email)}` : '', d.name !== undefined ? `name ${s(d.name)}` : ''].filter(Boolean).join(', '),
  ],
  PasswordSet: ['Password set', () => ''],
  TotpEnrolled: ['Two-factor (TOTP) enrolled', () => 'with recovery codes'],
  TotpRemoved: ['Two-factor (TOTP) removed', () => ''],
  RecoveryCodeUsed: ['Recovery code used', (d) => `code #${s(Number(d.index) + 1)}`],
  AdminGranted: ['Made administrator', () => ''],
  AdminRevoked: ['Administrator rights removed', () => ''],
  AdminBootstrapped: ['First administrator set up', () => ''],
  AccountDisabled: ['Account disabled', (d) => s(d.reason)],
  AccountEnabled: ['Account enabled', () => ''],
  UserBanned: ['Banned', (d) => s(d.reason)],
  UserUnbanned: ['Ban lifted', (d) => s(d.reason)],
  UserErased: ['Erased', () => ''],
  CredentialsRevoked: ['All tokens revoked', (d) => s(d.reason)],
  ExternalIdentityLinked: ['Identity linked', (d) => `${s(d.subject)} at ${s(d.issuer)}`],
  ExternalIdentityUnlinked: ['Identity unlinked', (d) => `${s(d.subject)} at ${s(d.issuer)}`],
  AccountProvisioned: ['Account provisioned', (d) => `from ${s(d.issuer)} (${s(d.policy)} policy)`],
  RolesAssigned: [
    'Roles assigned',
    (d) => `${(d.roles as string[] | undefined)?.join(', ') || 'none'}${d.tenant ? `, tenant ${s(d.tenant)}` : ''}`,
  ],
  LoginSucceeded: ['Logged in', (d) => `with ${s(d.issuer)} (${((d.amr as string[]) ?? []).join(', ')})${d.ip ? ` from ${s(d.ip)}` : ''}`],
  LoginFailed: ['Login failed', (d) => `${s(d.reason).replace(/_/g, ' ')}${d.ip ? ` from ${s(d.ip)}` : ''}`],
  SessionEnded: ['Session ended', (d) => s(d.reason).replace(/_/g, ' ')],
  HandoffIssued: ['Signed in to a site', (d) => s(d.siteId)],
  HandoffRejected: ['Site handoff refused', (d) => `${s(d.siteId)}: ${s(d.reason)}`],
  GrantIssued: ['Authorized an app', (d) => `${s(d.clientId)} (${s(d.scope)})`],
  GrantRevoked: ['App access revoked', (d) => s(d.reason)],
  ConsentGranted: ['Consented', (d) => `${s(d.clientId)}: ${((d.scopes as string[]) ?? []).join(' ')}`],
  ConsentDenied: ['Declined consent', (d) => s(d.clientId)],
};

/** A timeline row's label and summary (secret fields never shown, whatever the type). */
export function describe(e: RecordedEvent): { label: string; summary: string } {
  const d = (e.data && typeof e.data === 'object' ? e.data : {}) as Data;
  const known = LABELS[e.type];
  if (known) return { label: known[0], summary: known[1](d).slice(0, 300) };
  const hidden = secretFieldsOf(e.type);
  const summary = Object.entries(d)
    .filter(([k, v]) => !hidden.has(k) && k !== 'userId' && v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${s(v)}`)
    .join(' ')
    .slice(0, 300);
  return { label: e.type.replace(/([a-z])([A-Z])/g, '$1 $2'), summary };
}

export const TIMELINE_PAGE = 50;

/**
 * One page of the user's timeline, newest first: from the audit index (user -> positions), the
 * hidden types dropped there, then only the shown events read back from their streams.
 */
export async function timelinePage(
  store: EventStore,
  read: ReadModels,
  userId: string,
  before: number | null,
): Promise<{ events: RecordedEvent[]; older: number | null }> {
  const entries = read.audit.timeline(userId).filter((e) => !HIDDEN.has(e.type) && (before === null || e.position < before));
  const shown = entries.slice(-TIMELINE_PAGE);
  const byPos = new Map<number, RecordedEvent>();
  for (const streamId of new Set(shown.map((e) => e.streamId))) {
    const first = Math.min(...shown.filter((e) => e.streamId === streamId).map((e) => e.position));
    for (const e of await store.readStream(streamId)) if (e.position >= first) byPos.set(e.position, e);
  }
  const events = shown
    .map((e) => byPos.get(e.position))
    .filter((e): e is RecordedEvent => !!e)
    .reverse();
  return { events, older: entries.length > shown.length ? shown[0].position : null };
}

/** The user's account as it stood right after log position `position`: a fold of their own stream. */
export async function userAsOf(store: EventStore, userId: string, position: number): Promise<{ state: UserState; at: string | null }> {
  let state = userDecider.initialState();
  let at: string | null = null;
  for (const e of await store.readStream(userStream(userId))) {
    if (e.position > position) break;
    state = userDecider.evolve(state, e as never);
    at = e.metadata.recordedAt;
  }
  return { state, at };
}

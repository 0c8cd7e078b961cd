import type { Clock, ConsoleCredential, ConsoleSource } from '../../plugin/index.js';
import type { ClientRegistry } from './clients.js';
import type { OAuthGrantsView } from './grants-view.js';
import type { GrantService } from './grants.js';

/**
 * What the operator console shows of this plugin: a user's grants (each a refresh token and the
 * access tokens minted from it) with revoke, and the registered clients. Reads the grants view only.
 */
export function oauthConsoleSource(clients: ClientRegistry, view: OAuthGrantsView, grants: GrantService, clock: Clock): ConsoleSource {
  return {
    name: 'oauth-server',
    userCredentials(userId) {
      return view
        .grantsOfUser(userId)
        .reverse()
        .map((g): ConsoleCredential => ({
          id: g.grantId,
          kind: 'OAuth grant',
          audience: g.clientId,
          scope: g.scope,
          expiresAt: g.expiresAt ? new Date(g.expiresAt).toISOString() : null,
          revoked: g.revoked,
          covers: g.refreshTokenHash ? 'its refresh token and every access token minted from it' : 'every access token minted from it',
        }));
    },
    async revokeCredential(userId, credentialId, actor) {
      const g = view.grant(credentialId);
      if (!g || g.userId !== userId || g.revoked) return false;
      await grants.revoke(credentialId, 'admin', actor); // waits for the read models
      return true;
    },
    clients() {
      const live = view.liveGrantsByClient(clock.now().getTime());
      const out = [...clients.byId.values()].map((c) => ({
        clientId: c.clientId,
        name: c.name,
        kind: c.isPublic ? 'public (PKCE)' : `confidential (${c.authMethod})`,
        redirectUris: c.redirectUris,
        scopes: c.scopes,
        grantTypes: c.grantTypes,
        liveGrants: live.get(c.clientId) ?? 0,
        details: [
          { label: 'First party (no consent screen)', value: c.firstParty ? 'yes' : 'no' },
          { label: 'Back-channel logout', value: c.backchannelLogoutUri ?? 'none' },
          { label: 'Access token audience', value: c.audience ?? 'server default' },
        ],
      }));
      return out;
    },
  };
}

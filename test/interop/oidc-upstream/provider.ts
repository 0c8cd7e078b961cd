import http from 'node:http';
import type { AddressInfo } from 'node:net';
// oidc-provider ships no type declarations.
// @ts-expect-error no types
import Provider from 'oidc-provider';
import { Browser, type Page } from '../saml/browser.js';

export type Claims = Record<string, unknown>;

/**
 * A real oidc-provider on 127.0.0.1 as the upstream IdP. `accounts` maps a login name to its
 * claims; the dev interactions (login + consent pages) are driven over HTTP by `login()`.
 */
export class UpstreamOidc {
  readonly accounts = new Map<string, Claims>();
  private constructor(
    readonly issuer: string,
    private readonly server: http.Server,
  ) {}

  static async start(redirectUris: string[]): Promise<UpstreamOidc> {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const peer = new UpstreamOidc(issuer, server);
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'broker',
          client_secret: 'broker-secret-0123456789',
          redirect_uris: redirectUris,
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'], tenant: ['tenant'] },
      scopes: ['openid', 'email', 'profile', 'groups', 'tenant', 'offline_access'],
      pkce: { required: () => true },
      async findAccount(_ctx: unknown, sub: string) {
        const claims = peer.accounts.get(sub) ?? { email: `${sub}@example.org`, email_verified: false };
        return {
          accountId: sub,
          async claims() {
            return { sub, ...claims };
          },
        };
      },
    });
    provider.on('server_error', (_ctx: unknown, err: Error) => console.error('oidc-provider', err));
    server.on('request', provider.callback());
    return peer;
  }

  /**
   * Follows a login started at `startUrl` through the IdP's login and consent pages. With
   * `stopAt`, returns the redirect back to the broker instead of following it (to tamper with it).
   */
  async login(b: Browser, startUrl: string, account: string, stopAt?: string): Promise<Page> {
    let page = await b.follow(startUrl, {}, 15, stopAt);
    for (let i = 0; i < 4; i++) {
      const form = Browser.form(page);
      if (!form || !page.url.startsWith(this.issuer)) return page;
      if (form.fields.prompt === 'login') Object.assign(form.fields, { login: account, password: 'any' });
      page = await b.follow(form.action, { form: form.fields }, 15, stopAt);
    }
    return page;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

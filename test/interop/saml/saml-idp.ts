import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyFormbody from '@fastify/formbody';
import * as samlify from 'samlify';
// The broker's wrapper around @authenio/samlify-node-xmllint (samlify's validator is process-global).
import { schemaValidator } from '../../../plugins/saml/entities.js';

samlify.setSchemaValidator(schemaValidator);

const FIX = path.resolve(import.meta.dirname, '../../fixtures/saml');
export const fixture = (f: string): string => fs.readFileSync(path.join(FIX, f), 'utf8');

export interface IdpUser {
  nameId: string;
  email?: string;
  name?: string;
  tenant?: string;
  groups?: string[];
  uid?: string;
}
/** Changes to a genuine response, to build the bad ones the broker must refuse. */
export interface Tweaks {
  audience?: string;
  recipient?: string;
  destination?: string;
  issuer?: string;
  notBefore?: Date;
  notOnOrAfter?: Date;
  /** null: unsolicited (no InResponseTo). */
  inResponseTo?: string | null;
  /** Sign the Response as well as the Assertion. */
  signMessage?: boolean;
  /** No signature at all. */
  unsigned?: boolean;
  /** Sign with another key (the cert goes in KeyInfo): an attacker's, or the trusted cert with the wrong key. */
  signWith?: { key: string; cert: string };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A real SAML IdP on 127.0.0.1 built with samlify: answers AuthnRequests (redirect and POST
 * bindings) with signed responses for `user`, and SLO both ways. Test-only keys from test/fixtures/saml.
 */
export class SamlIdpPeer {
  user: IdpUser = { nameId: 'alice@example.com', email: 'alice@example.com', name: 'Alice' };
  tweaks: Tweaks = {};
  /** Set: /sso answers with the auto-post form; unset: it records the request only. */
  sp?: samlify.ServiceProviderInstance;
  private spSigned?: samlify.ServiceProviderInstance;
  readonly logoutRequests: string[] = [];

  private constructor(
    readonly app: FastifyInstance,
    readonly url: string,
    readonly entityId: string,
    readonly idp: samlify.IdentityProviderInstance,
  ) {}

  static async start(
    opts: { key?: string; cert?: string; wantAuthnRequestsSigned?: boolean; encryptAssertions?: boolean; noSlo?: boolean } = {},
  ): Promise<SamlIdpPeer> {
    const app = Fastify();
    await app.register(fastifyFormbody);
    const holder: { peer?: SamlIdpPeer } = {};
    SamlIdpPeer.routes(app, () => holder.peer!);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const entityId = `${url}/idp`;
    const idp = samlify.IdentityProvider({
      entityID: entityId,
      privateKey: opts.key ?? fixture('idp-key.pem'),
      signingCert: opts.cert ?? fixture('idp-cert.pem'),
      nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
      singleSignOnService: [
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${url}/sso` },
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${url}/sso` },
      ],
      // noSlo: metadata without a SingleLogoutService (an IdP that does not do single logout).
      ...(opts.noSlo
        ? {}
        : { singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${url}/slo` }] }),
      wantLogoutRequestSigned: false,
      wantAuthnRequestsSigned: opts.wantAuthnRequestsSigned ?? false,
      isAssertionEncrypted: opts.encryptAssertions ?? false,
    });
    holder.peer = new SamlIdpPeer(app, url, entityId, idp);
    return holder.peer;
  }

  /** The metadata the broker is configured with (the signing cert may differ from the key in use). */
  metadata(): string {
    return this.idp.getMetadata();
  }

  async useServiceProvider(metadataXml: string): Promise<void> {
    this.sp = samlify.ServiceProvider({ metadata: metadataXml, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
    this.spSigned = samlify.ServiceProvider({ metadata: metadataXml, wantMessageSigned: true });
  }

  private acs(): string {
    return this.sp!.entityMeta.getAssertionConsumerService('post') as string;
  }

  private xml(id: string, inResponseTo: string | null, user: IdpUser, t: Tweaks): string {
    const now = new Date();
    const nb = (t.notBefore ?? new Date(now.getTime() - 1000)).toISOString();
    const noa = (t.notOnOrAfter ?? new Date(now.getTime() + 300_000)).toISOString();
    const acs = this.acs();
    const spId = this.sp!.entityMeta.getEntityID();
    const irt = inResponseTo ? ` InResponseTo="${esc(inResponseTo)}"` : '';
    const attr = (name: string, values: string[] | undefined) =>
      values && values.length
        ? `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`
        : '';
    const attrs = [
      attr('email', user.email ? [user.email] : undefined),
      attr('displayName', user.name ? [user.name] : undefined),
      attr('tenantKey', user.tenant ? [user.tenant] : undefined),
      attr('groups', user.groups),
      attr('uid', user.uid ? [user.uid] : undefined),
    ].join('');
    const issuer = esc(t.issuer ?? this.entityId);
    return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${id}" Version="2.0" IssueInstant="${now.toISOString()}" Destination="${esc(t.destination ?? acs)}"${irt}><saml:Issuer>${issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a${id}" Version="2.0" IssueInstant="${now.toISOString()}"><saml:Issuer>${issuer}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${esc(user.nameId)}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${noa}" Recipient="${esc(t.recipient ?? acs)}"${irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="${nb}" NotOnOrAfter="${noa}"><saml:AudienceRestriction><saml:Audience>${esc(t.audience ?? spId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>${attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : ''}</saml:Assertion></samlp:Response>`;
  }

  /** A response (base64) for `inResponseTo`, signed by this IdP unless tweaked. */
  async issue(inResponseTo: string | null, user: IdpUser = this.user, t: Tweaks = this.tweaks): Promise<string> {
    const id = randomUUID().replace(/-/g, '');
    const xml = this.xml(id, inResponseTo, user, t);
    if (t.unsigned) return Buffer.from(xml).toString('base64');
    const sp = t.signMessage ? this.spSigned! : this.sp!;
    const signer = t.signWith
      ? samlify.IdentityProvider({
          entityID: this.entityId,
          privateKey: t.signWith.key,
          signingCert: t.signWith.cert,
          singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${this.url}/sso` }],
        })
      : this.idp;
    const out = await signer.createLoginResponse(
      sp,
      { extract: {} },
      'post',
      {},
      { customTagReplacement: () => ({ id: `_r${id}`, context: xml }) },
    );
    return out.context;
  }

  /** An IdP-initiated LogoutRequest URL (signed redirect binding) for the broker's SLO endpoint. */
  logoutRequestUrl(nameId: string): string {
    return (this.idp.createLogoutRequest(this.sp!, 'redirect', { logoutNameID: nameId }) as { context: string }).context;
  }

  /**
   * A signed IdP-initiated LogoutRequest URL with its facts changed: another Destination, an
   * IssueInstant in the past or future, a NotOnOrAfter; the URL still goes to the broker's SLO endpoint.
   */
  logoutRequestUrlWith(nameId: string, t: { destination?: string; issueInstant?: Date; notOnOrAfter?: Date }): string {
    const replace = (template: string, tags: Record<string, string>) => {
      let xml = samlify.SamlLib.replaceTagsByValue(template, {
        ...tags,
        ...(t.destination ? { Destination: t.destination } : {}),
        ...(t.issueInstant ? { IssueInstant: t.issueInstant.toISOString() } : {}),
      });
      if (t.notOnOrAfter) xml = xml.replace(/IssueInstant="([^"]*)"/, `IssueInstant="$1" NotOnOrAfter="${t.notOnOrAfter.toISOString()}"`);
      return { id: tags.ID, context: xml };
    };
    return (this.idp.createLogoutRequest(this.sp!, 'redirect', { logoutNameID: nameId }, '', replace as never) as { context: string })
      .context;
  }

  /** A signed LogoutResponse URL (redirect binding) to the broker, answering `inResponseTo`. */
  logoutResponseUrl(inResponseTo: string): string {
    return (
      this.idp.createLogoutResponse(this.sp!, { extract: { request: { id: inResponseTo } } } as never, 'redirect', '') as {
        context: string;
      }
    ).context;
  }

  async answer(binding: 'redirect' | 'post', req: { query?: unknown; body?: unknown; url?: string }): Promise<string> {
    // saml-bindings §3.4.4.1: the redirect signature covers the raw query parameters, in this order.
    const rawParts = (req.url ?? '').split('?')[1]?.split('&') ?? [];
    const octetString = ['SAMLRequest', 'RelayState', 'SigAlg'].flatMap((k) => rawParts.filter((p) => p.startsWith(`${k}=`))).join('&');
    const parsed = await this.idp.parseLoginRequest(this.sp!, binding, {
      query: req.query as Record<string, unknown>,
      body: req.body as Record<string, unknown>,
      octetString,
    });
    const requestId = String(parsed.extract.request?.id ?? '');
    const t = this.tweaks;
    const response = await this.issue(t.inResponseTo === undefined ? requestId : t.inResponseTo);
    const relay = ((binding === 'redirect' ? req.query : req.body) as { RelayState?: string })?.RelayState;
    const fields = `<input type="hidden" name="SAMLResponse" value="${response}">${relay ? `<input type="hidden" name="RelayState" value="${esc(relay)}">` : ''}`;
    return `<html><body><form method="post" action="${esc(this.acs())}">${fields}</form></body></html>`;
  }

  async slo(req: { query: unknown }, reply: import('fastify').FastifyReply): Promise<unknown> {
    const q = req.query as Record<string, string>;
    if (q.SAMLRequest) {
      const parsed = await this.idp.parseLogoutRequest(this.sp!, 'redirect', { query: q, octetString: '' });
      this.logoutRequests.push(String(parsed.extract.nameID));
      const out = this.idp.createLogoutResponse(
        this.sp!,
        parsed as unknown as Parameters<typeof this.idp.createLogoutResponse>[1],
        'redirect',
        { relayState: q.RelayState },
      ) as { context: string };
      return reply.redirect(out.context, 303);
    }
    return reply.send('ok');
  }

  private static routes(app: FastifyInstance, peer: () => SamlIdpPeer): void {
    app.get('/sso', async (req, reply) => reply.type('text/html').send(await peer().answer('redirect', req)));
    app.post('/sso', async (req, reply) => reply.type('text/html').send(await peer().answer('post', req)));
    app.get('/slo', async (req, reply) => peer().slo(req, reply));
    app.get('/metadata', async (_req, reply) => reply.type('application/samlmetadata+xml').send(peer().metadata()));
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

import { createHash, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyFormbody from '@fastify/formbody';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export type IdTokenMode = 'ok' | 'wrong-nonce' | 'other-key' | 'expired' | 'wrong-aud';

/**
 * A minimal but correct OIDC IdP (discovery, authorize, token with PKCE check, JWKS) whose ID
 * token can be made bad on purpose: what oidc-provider will not do. `ok` proves the path works.
 */
export class RogueIdp {
  mode: IdTokenMode = 'ok';
  sub = 'rogue-user';
  private readonly codes = new Map<string, { nonce: string; challenge: string; clientId: string }>();
  private constructor(
    readonly app: FastifyInstance,
    readonly issuer: string,
  ) {}

  static async start(): Promise<RogueIdp> {
    const app = Fastify();
    await app.register(fastifyFormbody);
    const good = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const holder: { idp?: RogueIdp } = {};
    app.get('/.well-known/openid-configuration', async () => {
      const iss = holder.idp!.issuer;
      return {
        issuer: iss,
        authorization_endpoint: `${iss}/authorize`,
        token_endpoint: `${iss}/token`,
        jwks_uri: `${iss}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        authorization_response_iss_parameter_supported: true,
      };
    });
    app.get('/jwks', async () => ({ keys: [jwk] }));
    app.get('/authorize', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const code = randomBytes(16).toString('base64url');
      holder.idp!.codes.set(code, { nonce: q.nonce, challenge: q.code_challenge, clientId: q.client_id });
      const to = new URL(q.redirect_uri);
      to.searchParams.set('code', code);
      to.searchParams.set('state', q.state);
      to.searchParams.set('iss', holder.idp!.issuer);
      return reply.redirect(to.href, 302);
    });
    app.post('/token', async (req, reply) => {
      const b = req.body as Record<string, string>;
      const idp = holder.idp!;
      const entry = idp.codes.get(b.code);
      idp.codes.delete(b.code);
      const verifierOk =
        entry &&
        createHash('sha256')
          .update(b.code_verifier ?? '')
          .digest('base64url') === entry.challenge;
      if (!entry || !verifierOk) return reply.code(400).send({ error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const exp = idp.mode === 'expired' ? now - 3600 : now + 300;
      const key: CryptoKey = idp.mode === 'other-key' ? other.privateKey : good.privateKey;
      const idToken = await new SignJWT({
        nonce: idp.mode === 'wrong-nonce' ? 'not-the-nonce' : entry.nonce,
        email: `${idp.sub}@rogue.example`,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(idp.issuer)
        .setSubject(idp.sub)
        .setAudience(idp.mode === 'wrong-aud' ? 'someone-else' : entry.clientId)
        .setIssuedAt(idp.mode === 'expired' ? now - 7200 : now)
        .setExpirationTime(exp)
        .sign(key);
      return { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken };
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    holder.idp = new RogueIdp(app, url);
    return holder.idp;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

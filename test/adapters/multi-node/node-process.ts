/**
 * One broker node as its own OS process, booted from config on a PostgreSQL store, driven by
 * its parent over IPC (see cluster.ts). Nothing is shared with the other node but the database.
 * argv[2]: JSON { url, schema, name }.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { bootBroker } from '../../../adapters/kernel/boot.js';
import type { BrokerConfig } from '../../../config/types.js';

const { url, schema, name } = JSON.parse(process.argv[2]) as { url: string; schema: string; name: string };

// Each node proxies /app to its own tiny upstream app, so the gateway's answer is the node's own.
const upstream = http.createServer((_req, res) => res.end('app'));
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `broker-node-${name}-`));
const CLIENT = { clientId: 'web', secret: 'multi-node-client-secret-0123456789', redirect: 'https://app.example/cb' };
const basic = `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.secret}`).toString('base64')}`;
const config: BrokerConfig = {
  server: { host: '127.0.0.1', port: 0, baseUrl: 'http://127.0.0.1', trustProxy: false, insecureCookies: true },
  // Its own data directory, so its own read database (<dataDir>/read.db): a shared path made both
  // nodes (and every run, whatever its schema) fold into one file.
  dataDir,
  store: { kind: 'postgres', url, schema, poolMax: 5 },
  secrets: { masterKey: 'multi-node-test-master-key-0123456789' },
  session: { absoluteSeconds: 3600, idleSeconds: 600 },
  log: { level: 'silent' },
  admin: { apiTokens: [] },
  sites: [],
  plugins: [
    // Same base URL, so the same issuer, on every node (as behind one load balancer).
    {
      name: 'oauth-server',
      config: {
        clients: [{ clientId: CLIENT.clientId, secret: CLIENT.secret, redirectUris: [CLIENT.redirect], firstParty: true, audience: 'app' }],
      },
    },
    { name: 'gateway', config: { routes: [{ id: 'app', pathPrefix: '/app', upstream: upstreamUrl, auth: 'bearer' }] } },
  ],
};
const broker = await bootBroker(config);
await broker.ready();

/** Wall-clock time with sub-millisecond resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

const tokenActive = async (token: string): Promise<boolean> => {
  const r = await broker.app.inject({
    method: 'POST',
    url: '/oauth/check-token',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${token}`,
  });
  return (r.json() as { active: boolean }).active;
};
const gatewayStatus = async (token: string): Promise<number> =>
  (await broker.app.inject({ url: '/app/x', headers: { authorization: `Bearer ${token}` } })).statusCode;

type Msg = { id: number; op: string; args: Record<string, unknown> };
const ops: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {
  async register(a) {
    const r = await broker.users.register({ email: a.email as string, name: name }, { actor: `test:${name}` });
    await broker.projections.waitFor(r.position);
    return { userId: r.userId, position: r.position };
  },
  async link(a) {
    const r = await broker.users.execute(
      a.userId as string,
      { type: 'linkIdentity', issuer: a.issuer as string, subject: a.subject as string },
      { actor: `test:${name}` },
    );
    return { position: r.position };
  },
  async login(a) {
    const out = await broker.login.complete({
      issuer: (a.issuer as string) ?? 'local',
      subject: (a.subject as string) ?? (a.userId as string),
      userId: a.userId as string | undefined,
      amr: ['pwd'],
    } as never);
    return { userId: out.userId, sessionToken: out.sessionToken, position: out.position };
  },
  async ban(a) {
    const t0 = now();
    const r = await broker.users.execute(
      a.userId as string,
      { type: 'ban', reason: 'multi-node test', actor: `admin:${name}` },
      { actor: `admin:${name}` },
    );
    return { t0, committed: now(), position: r.position };
  },
  /** An access token for the session's user, through a real code flow with PKCE on this node. */
  async accessToken(a) {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({
      client_id: CLIENT.clientId,
      response_type: 'code',
      redirect_uri: CLIENT.redirect,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const auth = await broker.app.inject({
      url: `/oauth/authorize?${q}`,
      headers: { cookie: `broker_session=${a.sessionToken as string}` },
    });
    const code = new URL(String(auth.headers.location)).searchParams.get('code');
    if (!code) throw new Error(`authorize answered ${auth.statusCode} without a code`);
    const tok = await broker.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CLIENT.redirect,
        code_verifier: verifier,
      }).toString(),
    });
    const body = tok.json() as { access_token?: string };
    if (!body.access_token) throw new Error(`token endpoint answered ${tok.statusCode}`);
    await broker.projections.waitFor(await broker.store.headPosition());
    return { accessToken: body.access_token, position: broker.projections.position };
  },
  /** What this node's check-token and gateway say about an access token right now. */
  async checkToken(a) {
    return { active: await tokenActive(a.token as string), gateway: await gatewayStatus(a.token as string) };
  },
  /** Resolves with the moments this node first refuses the token at check-token and at the gateway. */
  async watchTokenRefusal(a) {
    const token = a.token as string;
    const deadline = now() + ((a.timeoutMs as number) ?? 5000);
    let checkAt: number | null = null;
    let gatewayAt: number | null = null;
    for (;;) {
      if (checkAt === null && !(await tokenActive(token))) checkAt = now();
      if (gatewayAt === null && (await gatewayStatus(token)) === 401) gatewayAt = now();
      if (checkAt !== null && gatewayAt !== null) return { checkAt, gatewayAt };
      if (now() > deadline)
        throw new Error(`node ${name} still accepts the token (check-token ${checkAt === null}, gateway ${gatewayAt === null})`);
      await new Promise((r) => setTimeout(r, 1));
    }
  },
  async validate(a) {
    return { valid: broker.login.validateSession(a.token as string) !== null, position: broker.projections.position };
  },
  async waitPosition(a) {
    await broker.projections.waitFor(a.position as number, 10_000);
    return { position: broker.projections.position };
  },
  /** Resolves with the moment this node first refuses the session (checked every millisecond). */
  async watchRefusal(a) {
    const token = a.token as string;
    const deadline = now() + ((a.timeoutMs as number) ?? 5000);
    for (;;) {
      if (broker.login.validateSession(token) === null) return { at: now() };
      if (now() > deadline) throw new Error(`node ${name} still accepts the session`);
      await new Promise((r) => setTimeout(r, 1));
    }
  },
  /** Registers users and logs them in, 8 at a time, until the process is killed; reports progress. */
  async flood() {
    let n = 0;
    const worker = async (w: number): Promise<void> => {
      for (;;) {
        const r = await broker.users.register({ email: `flood-${name}-${w}-${n++}@example.com` }, { actor: `test:${name}` });
        await broker.login.complete({ issuer: 'local', subject: r.userId, userId: r.userId, amr: ['pwd'] } as never);
        process.send!({ progress: n });
      }
    };
    for (let w = 0; w < 8; w++) void worker(w).catch(() => {});
    return {};
  },
  async stop() {
    await broker.stop();
    await new Promise((r) => upstream.close(r));
    fs.rmSync(dataDir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', (m: Msg) => {
  const op = ops[m.op];
  (op ? op(m.args ?? {}) : Promise.reject(new Error(`unknown op ${m.op}`))).then(
    (result) => process.send!({ id: m.id, ok: true, result }),
    (err: Error & { code?: string }) =>
      process.send!({ id: m.id, ok: false, error: { name: err.name, message: err.message, code: err.code } }),
  );
});
process.send!({ ready: true });

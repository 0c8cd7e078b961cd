/**
 * A broker with password-login and passkey over real sockets, driven by an HTTP client with a
 * cookie jar and the software authenticator: the ceremonies the page script runs, without a browser.
 */
import { PasswordHasher } from '../../../adapters/crypto/password-hasher.js';
import type { RecordedEvent } from '../../../core/index.js';
import { client, field, type Client } from '../../helpers/cookie-jar.js';
import { startBroker, TEST_ARGON2, type TestBroker } from '../../helpers/broker.js';
import { SoftAuthenticator } from '../../helpers/soft-authenticator.js';

export const PW = 'correct horse battery';
/** The relying party: WebAuthn wants a domain, so the broker's base URL is http://localhost (served on 127.0.0.1). */
export const ORIGIN = 'http://localhost';

export async function startPasskeyBroker(passkeyConfig: Record<string, unknown> = {}): Promise<TestBroker> {
  return startBroker({
    plugins: [
      { name: 'password-login', config: { argon2: TEST_ARGON2 } },
      { name: 'passkey', config: passkeyConfig },
    ],
    config: { server: { host: '127.0.0.1', port: 0, baseUrl: ORIGIN, trustProxy: false, insecureCookies: true } },
  });
}

export async function addUser(t: TestBroker, email: string, admin = false): Promise<string> {
  const { userId } = await t.broker.users.register(
    { email, name: email.split('@')[0], ...(admin ? { admin: true } : {}) },
    { actor: 'test' },
  );
  const r = await t.broker.users.execute(
    userId,
    { type: 'setPassword', passwordHash: await new PasswordHasher(TEST_ARGON2).hash(PW) },
    { actor: 'test' },
  );
  await t.broker.projections.waitFor(r.position);
  return userId;
}

export const events = async (t: TestBroker, type: string): Promise<RecordedEvent[]> =>
  (await t.broker.store.readAll({ limit: 100_000 })).filter((e) => e.type === type);

export const authenticator = () => new SoftAuthenticator({ rpId: 'localhost', origin: ORIGIN });

/** The password form, filled and sent: where the browser lands (the account page, or a passkey step). */
export async function passwordLogin(c: Client, email: string) {
  const form = await c.get('/password/login?return_to=/');
  return c.postForm('/password/login', { _csrf: field(form.body, '_csrf'), lr: field(form.body, 'lr'), email, password: PW });
}

export async function postJson(c: Client, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await c.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ORIGIN, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Adds a passkey from /passkey/manage (a fresh session needed), as the page script does. */
export async function registerFromAccount(c: Client, auth: SoftAuthenticator): Promise<void> {
  const page = await c.get('/passkey/manage');
  const csrf = /data-csrf="([^"]+)"/.exec(page.body)![1];
  const options = await postJson(c, '/passkey/register/options', {}, { 'x-csrf-token': csrf });
  if (options.status !== 200) throw new Error(`register options: ${options.status} ${JSON.stringify(options.json)}`);
  const done = await postJson(
    c,
    '/passkey/register/verify',
    { response: auth.register(options.json as never), name: 'Soft key' },
    { 'x-csrf-token': csrf },
  );
  if (done.status !== 200) throw new Error(`register verify: ${done.status} ${JSON.stringify(done.json)}`);
}

/** On a /passkey/step page: options for its ticket, the authenticator's answer, the form sent. */
export async function answerStep(c: Client, stepBody: string, auth: SoftAuthenticator, opts: { counter?: number } = {}) {
  const t = field(stepBody, 't');
  const options = await postJson(c, '/passkey/step/options', { t });
  if (options.status !== 200) throw new Error(`step options: ${options.status} ${JSON.stringify(options.json)}`);
  const challenge = String(options.json.challenge);
  const response = stepBody.includes('id="passkey-enrol"') ? auth.register(options.json as never) : auth.assert(challenge, opts);
  return c.postForm(stepBody.includes('id="passkey-enrol"') ? '/passkey/step/enrol' : '/passkey/step/verify', {
    t,
    response: JSON.stringify(response),
    ...(stepBody.includes('id="passkey-enrol"') ? { name: 'Enrolled key' } : {}),
  });
}

/** A login with the passkey alone, from the login page: where it lands. */
export async function passkeyLogin(c: Client, auth: SoftAuthenticator, opts: { counter?: number } = {}) {
  const start = await c.get('/passkey/login');
  const lr = field(start.body, 'lr');
  const options = await postJson(c, '/passkey/login/options', { lr });
  return c.postForm('/passkey/login/verify', { lr, response: JSON.stringify(auth.assert(String(options.json.challenge), opts)) });
}

export { client };

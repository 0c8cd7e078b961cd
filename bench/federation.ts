// `npm run bench -- federation`: SAML responses validated per second and OIDC callbacks per
// second through the real broker over HTTP (127.0.0.1), against the same peers as the tests
// (a samlify IdP, oidc-provider), beside an Argon2id verify (@node-rs/argon2 defaults) — the
// dominant cost of a password login — measured in the same run on the same machine.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { hash, verify } from '@node-rs/argon2';
import { schemaValidator } from '../plugins/saml/entities.js';
import { machine, table } from './_bench-kit.js';
import { SamlIdpPeer } from '../test/interop/saml/saml-idp.js';
import { Browser } from '../test/interop/saml/browser.js';
import { UpstreamOidc } from '../test/interop/oidc-upstream/provider.js';
import { freePort, startBroker, loginRequest } from '../test/interop/saml/world.js';

const N_SAML = Number(process.env.N_SAML ?? 60);
const N_OIDC = Number(process.env.N_OIDC ?? 60);
const N_ARGON = Number(process.env.N_ARGON ?? 16);
const CONCURRENCY = 8;

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
  return performance.now() - t0;
}

const quiet = console.log;
console.log = () => undefined; // oidc-provider prints development notices
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const idp = await SamlIdpPeer.start();
const upstream = await UpstreamOidc.start([`${base}/oidc/corp/callback`]);
const { broker, url } = await startBroker(
  [
    {
      name: 'saml',
      config: {
        idps: [
          {
            name: 'bench',
            metadata: { xml: idp.metadata() },
            attributes: { email: 'email' },
            provisioning: { policy: 'auto' },
            idpInitiated: { enabled: true },
          },
        ],
      },
    },
    {
      name: 'oidc',
      config: {
        idps: [
          {
            name: 'corp',
            issuer: upstream.issuer,
            clientId: 'broker',
            clientSecret: 'broker-secret-0123456789',
            allowInsecureIssuer: true,
            provisioning: { policy: 'auto' },
          },
        ],
      },
    },
  ],
  [],
  port,
);
await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/bench/metadata`)).body);
const rows: Record<string, string | number>[] = [];

// --- SAML: signed unsolicited responses prepared first (signing is the IdP's cost, not ours).
const responses: string[] = [];
for (let i = 0; i < N_SAML; i++)
  responses.push(await idp.issue(null, { nameId: `user${i % 20}@bench.example`, email: `user${i % 20}@bench.example` }));
let samlOk = 0;
const samlMs = await pool(responses, CONCURRENCY, async (r) => {
  const res = await request(`${url}/saml/bench/acs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams({ SAMLResponse: r }).toString(),
  });
  await res.body.text();
  if (res.statusCode === 303) samlOk++;
});
rows.push({
  case: `SAML ACS: validate + replay-consume + login (${CONCURRENCY} concurrent)`,
  'per s': Math.round((N_SAML * 1000) / samlMs),
  'ms each': (samlMs / N_SAML).toFixed(1),
  ok: `${samlOk}/${N_SAML}`,
});

// The schema validation alone (pure-Node libxml2 in wasm): samlify runs it on every message.
const xml = Buffer.from(responses[0], 'base64').toString('utf8');
const xsdN = 10;
const t0 = performance.now();
for (let i = 0; i < xsdN; i++) await schemaValidator.validate(xml);
const xsdMs = performance.now() - t0;
rows.push({
  case: 'of which: XSD schema validation alone (node-xmllint via the broker wrapper, sequential)',
  'per s': Math.round((xsdN * 1000) / xsdMs),
  'ms each': (xsdMs / xsdN).toFixed(1),
  ok: '',
});

// --- OIDC: prepare callbacks (login at the IdP once; its SSO session answers the rest at once).
const idpBrowser = new Browser();
const callbacks: { url: string; cookie: string }[] = [];
const callbackPrefix = `${url}/oidc/corp/callback`;
for (let i = 0; i < N_OIDC; i++) {
  const b = new Browser();
  const start = await b.fetch(`${url}/oidc/corp/login?lr=${encodeURIComponent(loginRequest(broker))}`);
  const back =
    i === 0
      ? await upstream.login(idpBrowser, String(start.headers.location), 'bench-user', callbackPrefix)
      : await idpBrowser.follow(String(start.headers.location), {}, 15, callbackPrefix);
  callbacks.push({
    url: new URL(String(back.headers.location), back.url).href,
    cookie: `oidc_rp_corp=${b.cookies(url).get('oidc_rp_corp')}`,
  });
}
let oidcOk = 0;
const oidcMs = await pool(callbacks, CONCURRENCY, async (c) => {
  const res = await request(c.url, { headers: { cookie: c.cookie, accept: 'text/html' } });
  await res.body.text();
  if (res.statusCode === 200) oidcOk++;
});
rows.push({
  case: `OIDC callback: code exchange + ID token checks + login (${CONCURRENCY} concurrent)`,
  'per s': Math.round((N_OIDC * 1000) / oidcMs),
  'ms each': (oidcMs / N_OIDC).toFixed(1),
  ok: `${oidcOk}/${N_OIDC}`,
});

// --- Password login's dominant cost: Argon2id verify with @node-rs/argon2 defaults.
const h = await hash('correct horse battery staple');
const ta = performance.now();
for (let i = 0; i < N_ARGON / 4; i++) await Promise.all([0, 1, 2, 3].map(() => verify(h, 'correct horse battery staple')));
const argonMs = performance.now() - ta;
rows.push({
  case: 'Argon2id verify (@node-rs/argon2 defaults, 4 in parallel)',
  'per s': Math.round((N_ARGON * 1000) / argonMs),
  'ms each': (argonMs / N_ARGON).toFixed(1),
  ok: '',
});

console.log = quiet;
console.log(`federation bench on ${machine()}`);
table(rows);
await broker.stop();
await idp.close();
await upstream.close();
process.exit(0);

import fc from 'fast-check';

/**
 * Malformed input for every part of an HTTP request, as fast-check arbitraries. Values travel either
 * percent-encoded or raw: raw values keep stray `%`, bad escapes (`%zz`, `%C3%28`) and latin-1 bytes,
 * which undici writes as single bytes, so the broker sees invalid UTF-8 in paths, queries and headers.
 */

export interface Pair {
  k: string;
  v: unknown;
  raw: boolean;
}

export type BodyKind = 'form' | 'json' | 'jsonText' | 'bytes' | 'text' | 'multipart' | 'huge';

export interface BodySpec {
  kind: BodyKind;
  pairs: Pair[];
  text: string;
  bytes: Uint8Array;
  /** null: the kind's natural content type. */
  contentType: string | null;
}

export interface Junk {
  params: string[];
  query: Pair[] | null;
  headers: Record<string, string>;
  cookies: [string, string][] | null;
  rawCookie: string | null;
  body: BodySpec | null;
}

const b64url = (s: string): string => Buffer.from(s).toString('base64url');

/** `arb` on `percent` % of requests, else nothing: each kind of junk on some requests only, or every request would fail on the same one first. */
const sometimes = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary: arb });

/** Keys the broker's routes read, so junk lands where handlers look. */
export const KNOWN_KEYS = [
  'lr',
  'return_to',
  'nonce',
  'token',
  'SAMLRequest',
  'SAMLResponse',
  'RelayState',
  'SigAlg',
  'Signature',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'code',
  'code_challenge',
  'code_challenge_method',
  'code_verifier',
  'grant_type',
  'refresh_token',
  'token_type_hint',
  'prompt',
  'id_token_hint',
  'post_logout_redirect_uri',
  'confirm',
  'ticket',
  'csrf',
  'decision',
  'q',
  'limit',
  'offset',
  'email',
  'password',
  'name',
  'sealed',
  '_csrf',
  'reason',
  'sub',
  'request',
  'request_uri',
  'iss',
  'error',
  'id',
  'position',
  'deliveryId',
  'siteId',
  'eventId',
];

const WEIRD = [
  '',
  ' ',
  '0',
  '-1',
  '1e309',
  'NaN',
  'true',
  'null',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  '%',
  '%%',
  '%zz',
  '%C3%28',
  '%00',
  '%ff%fe',
  '%E2%82',
  '%uD800',
  '%2e%2e%2f',
  '../../etc/passwd',
  '..%2F..%2F',
  '<script>alert(1)</script>',
  '"><img src=x>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  '\r\nSet-Cookie: x=1',
  'javascript:alert(1)',
  '//evil.example',
  '/\\evil.example',
  'https://evil.example/cb',
  'https://app.example/cb',
  'https://site-a.test/cb',
  'acme',
  'crm',
  'web',
  'spa',
  'openid',
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'code',
  'S256',
  'plain',
  'none',
  'login',
  'allow',
  'deny',
  'a.b',
  'a.b.c',
  'user@example.com',
  'admin@example.com',
  'ÿþ',
  'é',
  '\u202e',
  '🦄',
  '\ufeff',
];

export const jwtLike = (issuer: string): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.oneof(
        fc.constant({ alg: 'none' }),
        fc.constant({ alg: 'none', typ: 'at+jwt' }),
        fc.constant({ alg: 'none', typ: 'JWT' }),
        fc.record({
          alg: fc.constantFrom('HS256', 'RS256', 'ES256', 'EdDSA', 'none', 'NONE', 'nOnE', '', 'dir', 'RSA-OAEP'),
          typ: fc.constantFrom('JWT', 'at+jwt', 'logout+jwt', undefined),
          kid: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
          enc: fc.constantFrom(undefined, 'A256GCM'),
        }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      fc.oneof(
        fc.record(
          {
            iss: fc.constantFrom(issuer, 'crm', 'jwtcrm', 'x'),
            sub: fc.constantFrom('web', 'x', '', 'crm'),
            aud: fc.constantFrom(issuer, `${issuer}/api`, 'wiki', `${issuer}/handoff/jwtcrm`, 'x'),
            exp: fc.oneof(fc.integer(), fc.constant(Math.floor(Date.now() / 1000) + 600)),
            iat: fc.oneof(fc.integer(), fc.constant(Math.floor(Date.now() / 1000))),
            client_id: fc.constantFrom('web', 'spa', 'x'),
            jti: fc.string({ maxLength: 10 }),
            sid: fc.string({ maxLength: 10 }),
            scope: fc.constantFrom('openid', 'openid email profile', ''),
            body_sha256: fc.string({ maxLength: 10 }),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      fc.oneof(
        fc.constant(''),
        fc.base64String({ maxLength: 120 }).map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '')),
        fc.string({ maxLength: 20 }),
      ),
      fc.constantFrom(3, 3, 3, 2, 5),
    )
    .map(([h, p, sig, parts]) =>
      [b64url(JSON.stringify(h) ?? ''), b64url(JSON.stringify(p) ?? ''), sig, 'eA', 'eA'].slice(0, parts).join('.'),
    );

/** One junk value: short strings of any alphabet, edge cases, numbers, base64, JWT-shaped strings, big values, and real tokens. */
export function junkValue(issuer: string, real: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 4, arbitrary: fc.constantFrom(...WEIRD) },
    { weight: 1, arbitrary: fc.integer().map(String) },
    { weight: 1, arbitrary: fc.double().map(String) },
    { weight: 1, arbitrary: fc.base64String({ maxLength: 200 }) },
    { weight: 2, arbitrary: jwtLike(issuer) },
    { weight: 1, arbitrary: fc.constantFrom(600, 5000, 9000, 70_000).map((n) => 'A'.repeat(n)) },
    { weight: 2, arbitrary: fc.constantFrom(...real) },
  );
}

/** Percent-encodes what undici cannot send in a request line; keeps `%` and latin-1 bytes raw. */
export function rawSafe(s: string, keep: RegExp = /[\x21-\xff]/): string {
  let out = '';
  for (const ch of s) out += keep.test(ch) && ch !== '#' ? ch : encodeURIComponent(ch.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
  return out;
}

export function encode(p: Pair): string {
  const v = typeof p.v === 'string' ? p.v : (JSON.stringify(p.v) ?? '');
  if (p.raw) return `${rawSafe(p.k, /[\x21-\xff]/)}=${rawSafe(v)}`;
  try {
    return `${encodeURIComponent(p.k)}=${encodeURIComponent(v)}`;
  } catch {
    return `${rawSafe(p.k)}=${rawSafe(v)}`; // a lone surrogate: encodeURIComponent throws
  }
}

/** Header values as undici accepts them (tab, printable ASCII and latin-1 bytes), everything else made `?`. */
export const headerSafe = (s: string): string => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

/** Parameters each route requires (its schema's `required`, or what its handler looks at first), so junk gets past the schema. */
export const ROUTE_KEYS: Record<string, string[]> = {
  '/password/login': ['email', 'password'],
  '/password/register': ['email', 'password', 'name'],
  '/password/totp': ['ticket', 'code'],
  '/password/totp/enroll': ['sealed', 'code'],
  '/admin/setup': ['token', 'email', 'password', 'sealed', 'code'],
  '/admin/users/:id/ban': ['reason'],
  '/admin/bans/redeliver': ['deliveryId', 'siteId', 'eventId'],
  '/saml/:name/acs': ['SAMLResponse', 'RelayState'],
  '/saml/:name/slo': ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'],
  '/oauth/authorize': ['client_id', 'redirect_uri', 'response_type', 'scope', 'code_challenge', 'code_challenge_method', 'prompt'],
  '/oauth/token': ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'client_id'],
  '/oauth/introspect': ['token', 'token_type_hint'],
  '/oauth/check-token': ['token'],
  '/oauth/revoke': ['token', 'client_id'],
  '/oauth/consent': ['ticket', 'csrf', 'decision'],
  '/oauth/logout': ['id_token_hint', 'post_logout_redirect_uri', 'client_id', 'confirm', 'state'],
  '/sso/:siteId': ['return_to', 'nonce'],
  '/handoff/:serverId': ['sub', 'email', 'name', 'return_to', 'lr'],
  '/handoff/:serverId/enter': ['token'],
  '/handoff/:serverId/start': ['lr'],
  '/oidc/:name/callback': ['code', 'state', 'iss', 'error'],
};

export function pairs(issuer: string, real: string[], must: string[] = []): fc.Arbitrary<Pair[]> {
  const required = must.length
    ? fc
        .option(fc.tuple(...must.map((k) => junkValue(issuer, real).map((v): Pair => ({ k, v, raw: false })))), { freq: 5 })
        .map((ps) => ps ?? [])
    : fc.constant([] as Pair[]);
  return fc.tuple(required, randomPairs(issuer, real)).map(([a, b]) => [...a, ...b]);
}

function randomPairs(issuer: string, real: string[]): fc.Arbitrary<Pair[]> {
  const key = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...KNOWN_KEYS) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__proto__',
        'constructor',
        'a[]',
        'a[0]',
        'a[b]',
        'constructor[prototype][x]',
        '',
        '=',
        '%',
        '%zz',
        'a%00b',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  return (
    fc
      .array(fc.record({ k: key, v: junkValue(issuer, real), raw: fc.boolean() }), { maxLength: 8 })
      // Repeated keys on purpose: `a=1&a=2` becomes an array in most parsers.
      .chain((ps) => (ps.length ? fc.constantFrom(ps, [...ps, { ...ps[0], v: 'again' }]) : fc.constant(ps)))
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/xml',
  'text/xml',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/JSON',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/jsonx',
  ';',
  '',
  'text/html',
  'application/problem+json',
  'application/json;;;',
  'application/json, text/plain',
  'image/png',
  '*/*',
];

const MALFORMED_JSON = [
  '{',
  '}',
  '[',
  '{"a":1,}',
  '[1,2',
  'nul',
  'tru',
  '"\\ud800"',
  '"\\u00"',
  '{"a":"\\x"}',
  "{'a':1}",
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  `{"a":${'['.repeat(3000)}`,
  '1'.repeat(400),
  '-',
  '0x10',
  'NaN',
  '',
  ' ',
  '\u0000',
  '{"a":1}{"b":2}',
];

export function body(issuer: string, real: string[], must: string[]): fc.Arbitrary<BodySpec> {
  return fc.record({
    kind: fc.constantFrom<BodyKind>('form', 'form', 'form', 'json', 'json', 'jsonText', 'bytes', 'text', 'multipart', 'huge'),
    pairs: pairs(issuer, real, must),
    text: fc.oneof(
      fc.constantFrom(...MALFORMED_JSON),
      fc.string({ maxLength: 60 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
    ),
    bytes: fc.uint8Array({ maxLength: 200 }),
    contentType: sometimes(fc.constantFrom(...CONTENT_TYPES), 20).map((c) => c ?? null),
  });
}

/** A value that JSON keeps the shape of (strings mostly; also numbers, arrays, objects, null). */
const jsonish = (v: unknown, i: number): unknown =>
  i % 5 === 1 ? [v, v] : i % 7 === 2 ? { v } : i % 11 === 3 ? null : i % 13 === 4 ? 12345 : v;

export function serialiseBody(b: BodySpec, extra: Pair[]): { body: string | Uint8Array; contentType: string } {
  const ps = [...extra, ...b.pairs];
  const natural = (ct: string, body: string | Uint8Array) => ({ body, contentType: b.contentType ?? ct });
  switch (b.kind) {
    case 'form':
      return natural('application/x-www-form-urlencoded', ps.map(encode).join('&'));
    case 'json':
      return natural(
        'application/json',
        JSON.stringify(Object.fromEntries(ps.map((p, i) => [p.k, i < extra.length ? p.v : jsonish(p.v, i)]))),
      );
    case 'jsonText':
      return natural('application/json', b.text);
    case 'bytes':
      return natural('application/x-www-form-urlencoded', b.bytes);
    case 'text':
      return natural('text/plain', b.text);
    case 'multipart':
      return natural(
        'multipart/form-data; boundary=x',
        `--x\r\nContent-Disposition: form-data; name="${ps[0]?.k ?? 'a'}"\r\n\r\n${String(ps[0]?.v ?? '')}\r\n--x--\r\n`,
      );
    case 'huge':
      return natural('application/x-www-form-urlencoded', `${ps.map(encode).join('&')}&pad=${'x'.repeat(300_000)}`);
  }
}

const COOKIE_NAMES = [
  'broker_session',
  'broker_csrf',
  'broker_saml_acme',
  'broker_saml_acmepost',
  'oidc_rp_corp',
  '__Host-broker_session',
  'x',
];

export function junk(
  issuer: string,
  real: string[],
  params: fc.Arbitrary<string>[],
  withBody: boolean,
  must: string[] = [],
): fc.Arbitrary<Junk> {
  const value = junkValue(issuer, real);
  const authorization = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc
            .tuple(fc.constantFrom('web', 'spa', 'x', '', 'web%zz', 'w%C3%28'), value)
            .map(([id, s]) => Buffer.from(`${id}:${s}`).toString('base64')),
          fc.tuple(value, value).map(([a, b]) => Buffer.from(`${a}:${b}`).toString('base64')),
          fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u).toString('base64')),
          value,
        )
        .map((s) => `Basic ${s}`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', 'Bearer'), fc.oneof(jwtLike(issuer), value))
        .map(([s, t]) => s + t),
    },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Digest ', 'Negotiate ', 'DPoP ', '', ' '), value).map(([s, t]) => s + t) },
  );
  const cookiePairs = fc.option(
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...COOKIE_NAMES), fc.string({ maxLength: 8 })), fc.oneof(value, jwtLike(issuer))), {
      maxLength: 4,
    }),
    { freq: 2 },
  );
  const rawCookie = sometimes(
    fc.oneof(
      fc.constantFrom(
        '=',
        ';;;',
        'a',
        'broker_session',
        'broker_session="unterminated',
        'broker_session=%',
        'broker_session=a; broker_session=b',
        '=x; =y',
        '$Version=1; a=b',
      ),
      value,
    ),
    15,
  ).map((c) => c ?? null);
  const headers = fc
    .record({
      accept: sometimes(fc.constantFrom('text/html', 'application/json', '*/*', 'text/html;q=0, application/json', 'x/y', ''), 70),
      authorization,
      'x-csrf-token': sometimes(value, 20),
      'x-handoff-timestamp': sometimes(
        fc.oneof(fc.constant(String(Math.floor(Date.now() / 1000))), value, fc.constantFrom('-1', '1e10', '99999999999999', '0')),
        20,
      ),
      'x-handoff-signature': sometimes(fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), value), 20),
      host: sometimes(fc.constantFrom('evil.test', '127.0.0.1:1', '[::1]', 'a b', 'broker.test'), 10),
      'content-encoding': sometimes(fc.constantFrom('gzip', 'br', 'identity', 'x', 'deflate, gzip'), 8),
      'x-forwarded-for': sometimes(value, 15),
      'x-forwarded-proto': sometimes(fc.constantFrom('https', 'gopher', ''), 15),
      origin: sometimes(fc.constantFrom('https://evil.example', 'null', ''), 15),
      'user-agent': sometimes(value, 15),
    })
    .map((h) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) if (typeof v === 'string') out[k] = headerSafe(v);
      return out;
    });
  return fc.record({
    params: params.length ? fc.tuple(...params) : fc.constant([] as string[]),
    query: fc.option(pairs(issuer, real, withBody ? [] : must), { freq: 4 }),
    headers,
    cookies: cookiePairs,
    rawCookie,
    body: withBody ? fc.option(body(issuer, real, must), { freq: 6 }) : fc.constant(null),
  });
}

/** Path parameter values: the configured ids (so handlers run) and junk (so routing and decoding are tried). */
export function paramValue(good: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...good) },
    { weight: 2, arbitrary: fc.webSegment() },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%',
        '%zz',
        '%C3%28',
        '%00',
        '%2F',
        '..',
        '%2e%2e',
        'ÿ\xfe',
        'a'.repeat(600),
        '__proto__',
        'constructor',
        'hasOwnProperty',
        ':name',
        '*',
        ';',
        '%E2%80%AE',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map((s) => rawSafe(s, /[\x21-\x2e\x30-\x3e\x40-\xff]/)),
    },
  );
}

export function wildcard(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.webPath().map((p) => p.replace(/^\//, '')),
    fc.constantFrom('', '..', '../../etc/passwd', '%2e%2e/%2e%2e', '//evil.example', 'a%00b', 'ÿ', 'a?b', '%', 'x'.repeat(3000)),
  );
}

import { request } from 'undici';
import type { World } from './world.js';

/**
 * SAML messages for the fuzzer that get past "is this base64 XML": genuine responses from the
 * samlify IdP (each bound to a real login cookie), and those responses tampered with in the ways
 * attacks and broken IdPs tamper with them, plus genuine and tampered logout requests.
 */
export interface SamlCase {
  /** The browser's login binding cookie for the AuthnRequest the response answers. */
  cookies: [string, string][];
  /** Base64 SAMLResponse to post to the ACS. */
  response: string;
  relayState?: string;
  /** Query for GET /saml/<name>/slo (an IdP-initiated LogoutRequest, redirect binding). */
  sloQuery?: string;
}

const b64 = (xml: string): string => Buffer.from(xml).toString('base64');
const xmlOf = (response: string): string => Buffer.from(response, 'base64').toString('utf8');

/** Tampered copies of a genuine response: each is a way the ACS must refuse cleanly. */
function tamper(response: string): string[] {
  const xml = xmlOf(response);
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0] ?? '';
  const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  return [
    response,
    flip(response, Math.floor(response.length / 2)),
    response.slice(0, Math.floor(response.length / 2)),
    b64(xml.replace(/alice@example\.com<\/saml:NameID>/, 'admin@example.com</saml:NameID>')),
    b64(xml.replace('alice@example.com</saml:NameID>', 'admin@example.com<!---->.evil</saml:NameID>')),
    b64(xml.replace('</samlp:Response>', `${assertion.replace(/ID="_a/, 'ID="_x')}</samlp:Response>`)),
    b64(`<!DOCTYPE r [<!ENTITY x "${'x'.repeat(50)}">]>${xml}`),
    b64(xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')),
    b64(xml.replace(/InResponseTo="[^"]*"/g, 'InResponseTo="_forged"')),
    b64(xml.replace(/<saml:Issuer>[^<]*/g, '<saml:Issuer>https://evil.example/idp')),
    b64(`<wrap>${xml}</wrap>`),
    b64(xml.replace('<samlp:Status>', `<samlp:Extensions>${'<e/>'.repeat(2000)}</samlp:Extensions><samlp:Status>`)),
    b64(xml.replace(/NotOnOrAfter="[^"]*"/g, 'NotOnOrAfter="1970-01-01T00:00:00Z"')),
    b64(xml.replace(/urn:oasis:names:tc:SAML:2\.0:status:Success/, 'urn:oasis:names:tc:SAML:2.0:status:Responder')),
    Buffer.from(xml.replace('<samlp:Response', '<samlp:Response x="\uD800\u00ff"'), 'latin1').toString('base64'),
  ];
}

/** Starts an SP-initiated login in a fresh "browser" and lets the IdP answer it. */
async function genuine(w: World, idp: 'acme' | 'acmepost'): Promise<{ cookie: [string, string]; response: string }> {
  const start = await request(`${w.url}/saml/${idp}/login`);
  const set = ([] as string[]).concat(start.headers['set-cookie'] ?? []);
  const pair = set.map((c) => c.split(';')[0]).find((c) => c.startsWith(`broker_saml_${idp}=`));
  if (!pair) throw new Error(`no SAML login binding cookie from /saml/${idp}/login (${start.statusCode})`);
  const page = await start.body.text();
  let form: string;
  if (start.statusCode === 303) {
    const at = await request(String(start.headers.location));
    form = await at.body.text();
  } else {
    // POST binding: the broker's page auto-posts SAMLRequest to the IdP.
    const action = /action="([^"]+)"/.exec(page)![1].replace(/&amp;/g, '&');
    const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(page)![1];
    const at = await request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLRequest: samlRequest }).toString(),
    });
    form = await at.body.text();
  }
  const response = /name="SAMLResponse" value="([^"]+)"/.exec(form)?.[1];
  if (!response) throw new Error(`the IdP did not answer: ${form.slice(0, 300)}`);
  const eq = pair.indexOf('=');
  return { cookie: [pair.slice(0, eq), pair.slice(eq + 1)], response };
}

export async function samlCases(w: World): Promise<SamlCase[]> {
  const out: SamlCase[] = [];
  for (const idp of ['acme', 'acmepost'] as const) {
    const g = await genuine(w, idp);
    for (const response of tamper(g.response)) out.push({ cookies: [g.cookie], response });
  }
  const unsolicited = await w.idp.issue(null);
  for (const relayState of ['/', '/elsewhere', '//evil.example', 'x'.repeat(3000)])
    out.push({ cookies: [], response: unsolicited, relayState });
  const slo = new URL(w.idp.logoutRequestUrl('alice@example.com')).search.slice(1);
  for (const q of [
    slo,
    slo.replace(/Signature=[^&]*/, 'Signature=AAAA'),
    slo.replace(/SAMLRequest=[^&]*/, 'SAMLRequest=%zz'),
    `${slo}&SAMLRequest=again`,
    slo.replace(/SigAlg=[^&]*/, 'SigAlg=none'),
  ]) {
    out.push({ cookies: [], response: unsolicited, sloQuery: q });
  }
  return out;
}

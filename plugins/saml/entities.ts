import fs from 'node:fs';
import { fetch } from 'undici';
import * as samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';
import type { SamlIdpConfig, SamlPluginConfig } from './config.js';

/**
 * Schema validation with the pure-Node validator (libxml2 compiled to asm.js): no Java, and
 * samlify refuses to parse anything until a validator is set. node-xmllint runs a fresh
 * emscripten program per call, and its exit() (a) adds a process 'uncaughtException' listener,
 * (b) adds `process.stdout.once('drain', () => process.exit(status))` — a later stdout drain would
 * end the broker — and (c) prints a blank line to stdout. The listeners also keep each program's
 * heap alive (a leak of tens of MB per message, measured). The program runs synchronously inside
 * `validate`, so everything it registers is exactly what is new right after the call: remove it,
 * and keep its console output out of the broker's (JSON) logs.
 */
export const schemaValidator = {
  validate(xml: string): Promise<unknown> {
    const watched: [NodeJS.EventEmitter, string][] = [
      [process, 'uncaughtException'],
      [process.stdout, 'drain'],
      [process.stderr, 'drain'],
    ];
    const before = watched.map(([em, ev]) => new Set(em.listeners(ev)));
    const { log, error } = console;
    console.log = () => undefined;
    console.error = () => undefined;
    try {
      return xmllint.validate(xml);
    } finally {
      console.log = log;
      console.error = error;
      watched.forEach(([em, ev], i) => {
        for (const l of em.listeners(ev)) if (!before[i].has(l)) em.removeListener(ev, l as (...a: unknown[]) => void);
      });
    }
  },
};
samlify.setSchemaValidator(schemaValidator);

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** PEM text inline, or a path to a file holding it. */
export function pem(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return value.includes('-----BEGIN') ? value : fs.readFileSync(value, 'utf8');
}

async function loadMetadata(m: SamlIdpConfig['metadata']): Promise<string> {
  if (m.xml) return m.xml;
  if (m.file) return fs.readFileSync(m.file, 'utf8');
  const res = await fetch(m.url!, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`SAML metadata ${m.url}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > 1_000_000) throw new Error(`SAML metadata ${m.url}: too large`);
  return text;
}

export interface SamlPeer {
  config: SamlIdpConfig;
  id: string;
  sp: samlify.ServiceProviderInstance;
  idp: samlify.IdentityProviderInstance;
  spEntityId: string;
  idpEntityId: string;
  acsUrl: string;
  sloUrl: string;
  metadataUrl: string;
}

/** Builds the samlify SP (the broker, as seen by this IdP) and the IdP from its metadata. */
export async function buildPeer(cfg: SamlIdpConfig, sp: SamlPluginConfig['sp'], baseUrl: string): Promise<SamlPeer> {
  const base = `${baseUrl}/saml/${cfg.name}`;
  const spEntityId = sp.entityId ?? `${base}/metadata`;
  const signingKey = pem(sp.signingKey);
  const encKey = pem(sp.encryptionKey);
  const skew = sp.clockSkewSeconds * 1000;
  const spEntity = samlify.ServiceProvider({
    entityID: spEntityId,
    authnRequestsSigned: Boolean(cfg.signRequests && signingKey),
    wantAssertionsSigned: true,
    wantMessageSigned: false,
    // SLO messages from the IdP must be signed (saml-profiles §4.4.3.1): they end sessions.
    wantLogoutRequestSigned: true,
    wantLogoutResponseSigned: true,
    privateKey: signingKey,
    signingCert: pem(sp.signingCert),
    encPrivateKey: encKey,
    encryptCert: pem(sp.encryptionCert),
    isAssertionEncrypted: Boolean(encKey),
    assertionConsumerService: [{ Binding: POST, Location: `${base}/acs` }],
    singleLogoutService: [
      { Binding: REDIRECT, Location: `${base}/slo` },
      { Binding: POST, Location: `${base}/slo` },
    ],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
    clockDrifts: [-skew, skew],
  });
  const metadata = await loadMetadata(cfg.metadata);
  // samlify reads want*Signed on the *receiving* entity when parsing (set on the SP above) and on
  // the *target* when building: the IdP entity keeps the defaults, or the broker would need a key to log out.
  // samlify decides whether to decrypt from the *sender's* entity setting.
  const idpEntity = samlify.IdentityProvider({ metadata, isAssertionEncrypted: Boolean(encKey) });
  return {
    config: cfg,
    id: `saml-${cfg.name}`,
    sp: spEntity,
    idp: idpEntity,
    spEntityId,
    idpEntityId: idpEntity.entityMeta.getEntityID(),
    acsUrl: `${base}/acs`,
    sloUrl: `${base}/slo`,
    metadataUrl: `${base}/metadata`,
  };
}

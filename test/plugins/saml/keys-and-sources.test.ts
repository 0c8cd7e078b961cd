import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser } from '../../interop/saml/browser.js';
import { startBroker, loginRequest } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';

const FIX = path.resolve(import.meta.dirname, '../../fixtures/saml');

describe('SAML metadata sources and SP keys from config', () => {
  let plain: SamlIdpPeer;
  let strict: SamlIdpPeer;
  let broker: Broker;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    plain = await SamlIdpPeer.start();
    // This IdP refuses unsigned AuthnRequests (samlify checks the redirect-binding signature).
    strict = await SamlIdpPeer.start({ wantAuthnRequestsSigned: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'saml-md-'));
    fs.writeFileSync(path.join(dir, 'idp.xml'), plain.metadata());
    ({ broker, url } = await startBroker([
      {
        name: 'saml',
        config: {
          sp: { signingKey: path.join(FIX, 'sp-key.pem'), signingCert: path.join(FIX, 'sp-cert.pem') },
          idps: [
            { name: 'byurl', metadata: { url: `${plain.url}/metadata` }, provisioning: { policy: 'auto' } },
            { name: 'byfile', metadata: { file: path.join(dir, 'idp.xml') }, provisioning: { policy: 'auto' } },
            { name: 'signed', metadata: { url: `${strict.url}/metadata` }, signRequests: true, provisioning: { policy: 'auto' } },
          ],
        },
      },
    ]));
  });
  afterAll(async () => {
    await broker?.stop();
    await plain?.close();
    await strict?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function login(idp: SamlIdpPeer, name: string) {
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/${name}/metadata`)).body);
    idp.user = { nameId: `${name}@example.com` };
    const b = new Browser();
    const toIdp = await b.follow(`${url}/saml/${name}/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    const form = Browser.form(toIdp);
    return form ? b.submit(form) : toIdp;
  }

  it('loads IdP metadata from a URL and from a file', async () => {
    expect((await login(plain, 'byurl')).body).toMatch(/user=[\w-]+/);
    expect((await login(plain, 'byfile')).body).toMatch(/user=[\w-]+/);
  });

  it('signs AuthnRequests with the configured SP key (the IdP verifies them against the SP metadata)', async () => {
    const meta = (await new Browser().fetch(`${url}/saml/signed/metadata`)).body;
    expect(meta).toContain('AuthnRequestsSigned="true"');
    expect(meta).toContain(fs.readFileSync(path.join(FIX, 'sp-cert.pem'), 'utf8').split('\n')[1]);
    const start = await new Browser().fetch(`${url}/saml/signed/login?lr=${encodeURIComponent(loginRequest(broker))}`);
    expect(String(start.headers.location)).toMatch(/[?&]Signature=/);
    await strict.useServiceProvider(meta);
    const stripped = new URL(String(start.headers.location));
    stripped.searchParams.delete('Signature');
    expect((await new Browser().fetch(stripped.href)).status).toBe(500); // the IdP refuses it: the signature is what it checks
    expect((await login(strict, 'signed')).body).toMatch(/user=[\w-]+/);
  });
});

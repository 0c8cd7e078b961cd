import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { SamlIdpPeer } from '../../interop/saml/saml-idp.js';
import { Browser } from '../../interop/saml/browser.js';
import { startBroker, loginRequest, events } from '../../interop/saml/world.js';
import type { Broker } from '../../../adapters/kernel/boot.js';
import { b64 } from './xsw.js';

const FIX = path.resolve(import.meta.dirname, '../../fixtures/saml');

describe('SAML encrypted assertions (SP encryption key from config)', () => {
  let idp: SamlIdpPeer;
  let broker: Broker;
  let url: string;

  beforeAll(async () => {
    idp = await SamlIdpPeer.start({ encryptAssertions: true });
    ({ broker, url } = await startBroker([
      {
        name: 'saml',
        config: {
          sp: { encryptionKey: path.join(FIX, 'sp-key.pem'), encryptionCert: path.join(FIX, 'sp-cert.pem') },
          idps: [{ name: 'enc', metadata: { xml: idp.metadata() }, attributes: { email: 'email' }, provisioning: { policy: 'auto' } }],
        },
      },
    ]));
    await idp.useServiceProvider((await new Browser().fetch(`${url}/saml/enc/metadata`)).body);
  });
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  const start = async () => {
    const b = new Browser();
    return { b, form: Browser.form(await b.follow(`${url}/saml/enc/login?lr=${encodeURIComponent(loginRequest(broker))}`))! };
  };

  it('decrypts the assertion, applies the same checks, and logs in', async () => {
    idp.user = { nameId: 'nina@enc.example', email: 'nina@enc.example' };
    const { b, form } = await start();
    const xml = b64.decode(form.fields.SAMLResponse);
    expect(xml).toContain('EncryptedAssertion');
    expect(xml).not.toContain('nina@enc.example');
    const done = await b.submit(form);
    expect(done.status).toBe(200);
    expect((await events(broker, 'LoginSucceeded')).at(-1)!.data).toMatchObject({ subject: 'nina@enc.example' });
  });

  it('refuses a second encrypted assertion added beside the genuine one', async () => {
    const { b, form } = await start();
    const other = (await start()).form;
    const xml = b64.decode(form.fields.SAMLResponse);
    const extra = /<saml:EncryptedAssertion[\s\S]*<\/saml:EncryptedAssertion>/.exec(b64.decode(other.fields.SAMLResponse))![0];
    const doubled = xml.replace('<saml:EncryptedAssertion', `${extra}<saml:EncryptedAssertion`);
    const page = await b.submit({ action: form.action, fields: { SAMLResponse: b64.encode(doubled) } });
    expect(page.status).toBe(400);
    expect(((await events(broker, 'LoginFailed')).at(-1)!.data as { reason: string }).reason).toBe('saml_signature_wrapping');
  });
});

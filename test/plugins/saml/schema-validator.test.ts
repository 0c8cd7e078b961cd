import { describe, it, expect } from 'vitest';
import { schemaValidator } from '../../../plugins/saml/entities.js';

const valid =
  '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0" IssueInstant="2020-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>';

describe('SAML schema validator wrapper (node-xmllint)', () => {
  it('validates against the SAML schemas and leaves no process or stdout listeners behind', async () => {
    const before = [
      process.listenerCount('uncaughtException'),
      process.stdout.listenerCount('drain'),
      process.stderr.listenerCount('drain'),
    ];
    for (let i = 0; i < 3; i++) await expect(schemaValidator.validate(valid)).resolves.toBeTruthy();
    await expect(
      schemaValidator.validate('<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>'),
    ).rejects.toBeTruthy();
    // node-xmllint's exit() registers stdout.once('drain', () => process.exit()) per call: none may survive.
    expect([
      process.listenerCount('uncaughtException'),
      process.stdout.listenerCount('drain'),
      process.stderr.listenerCount('drain'),
    ]).toEqual(before);
  });
});

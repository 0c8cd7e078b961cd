import { ConfigError } from '../../plugin/index.js';

/** Relying-party settings (WebAuthn §5.1.4.1 / §13.4.9) derived from the broker's base URL. */
export interface RelyingParty {
  /** The RP ID: the base URL's host name (a registrable domain suffix of the origin). */
  id: string;
  /** The exact origin assertions must come from. */
  origin: string;
  name: string;
}

/** A ConfigError: the CLI prints it and exits 2, without a stack trace. */
export class PasskeyConfigError extends ConfigError {}

/**
 * Browsers offer WebAuthn only in secure contexts: https, or http on localhost. An RP ID cannot be
 * an IP address either (§5.1.4.1: a valid domain). Refusing at start beats a login page whose
 * button fails in every browser.
 */
export function relyingParty(baseUrl: string, opts: { rpId?: string; name?: string } = {}): RelyingParty {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new PasskeyConfigError(`passkey: server.baseUrl ${JSON.stringify(baseUrl)} is not a URL`);
  }
  const host = url.hostname;
  const local = host === 'localhost' || host.endsWith('.localhost');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local))
    throw new PasskeyConfigError(`passkey: browsers offer passkeys only on https (or http://localhost); server.baseUrl is ${url.origin}`);
  if (/^[\d.]+$/.test(host) || host.startsWith('['))
    throw new PasskeyConfigError(
      `passkey: the relying party ID must be a domain name, not the IP address ${host}; serve the broker under a host name`,
    );
  const id = opts.rpId ?? host;
  if (host !== id && !host.endsWith(`.${id}`))
    throw new PasskeyConfigError(`passkey: rpId ${id} is not ${host} or a parent domain of it (WebAuthn §5.1.4.1)`);
  return { id, origin: url.origin, name: opts.name ?? 'Identity broker' };
}

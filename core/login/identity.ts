/**
 * What every identity provider produces, whatever its protocol: the only thing the core needs
 * to link, provision and log a person in. `issuer` + `subject` is the identity (`sub@iss`).
 */
export interface AuthenticatedIdentity {
  issuer: string;
  subject: string;
  /** Set when the provider already knows the broker user (the password form). */
  userId?: string;
  email?: string | null;
  emailVerified?: boolean;
  name?: string | null;
  attributes?: Record<string, unknown>;
  groups?: string[];
  tenant?: string | null;
  /** Authentication methods (RFC 8176): `pwd`, `otp`, `mfa`, `fed`, `hwk`... */
  amr: string[];
}

/** How an identity provider lets strangers in. */
export interface ProvisioningSettings {
  /** `auto`, `explicit`, `gated`, or the name of a plugin-provided policy. */
  policy: string;
  /** For `gated`: the claim or group condition that must hold. */
  condition?: { group?: string; claim?: string; equals?: string | number | boolean; includes?: string };
  /** Link to an existing user with the same email, only when the IdP asserts it verified. */
  linkByEmail?: boolean;
}

import type { ProvisioningPolicy } from '../kernel/extension-points.js';

/** `auto`: anyone the IdP vouches for gets an account on first login. */
export const autoPolicy: ProvisioningPolicy = { name: 'auto', decide: () => ({ allow: true }) };

/** `explicit`: only identities an admin pre-provisioned or linked may enter. */
export const explicitPolicy: ProvisioningPolicy = {
  name: 'explicit',
  decide: () => ({ allow: false, reason: 'identity_not_provisioned' }),
};

/** `gated`: like auto, but only when a group or claim condition holds (seed 002). */
export const gatedPolicy: ProvisioningPolicy = {
  name: 'gated',
  decide(identity, settings) {
    const c = settings.condition;
    if (!c) return { allow: false, reason: 'gate_not_configured' };
    if (c.group !== undefined && !(identity.groups ?? []).includes(c.group)) return { allow: false, reason: 'group_required' };
    if (c.claim !== undefined) {
      const v = identity.attributes?.[c.claim];
      if (c.equals !== undefined && v !== c.equals) return { allow: false, reason: 'claim_mismatch' };
      if (c.includes !== undefined && !(Array.isArray(v) ? v.includes(c.includes) : v === c.includes)) {
        return { allow: false, reason: 'claim_mismatch' };
      }
      if (c.equals === undefined && c.includes === undefined && (v === undefined || v === null || v === false)) {
        return { allow: false, reason: 'claim_missing' };
      }
    }
    return { allow: true };
  },
};

export const builtinPolicies = [autoPolicy, explicitPolicy, gatedPolicy];

import type { AccessRule, AlternateUpstream, GatewayRoute } from './config.js';
import type { GatewayIdentity } from './identity.js';

/** Whether the identity may enter an app (every condition given must hold). */
export function mayEnter(rule: AccessRule | undefined, who: GatewayIdentity): boolean {
  if (!rule) return true;
  if (rule.require === 'admin' && !who.admin) return false;
  if (rule.roles?.length && !rule.roles.some((r) => who.roles.includes(r))) return false;
  if (rule.tenants?.length && !(who.tenant && rule.tenants.includes(who.tenant))) return false;
  return true;
}

function matches(alt: AlternateUpstream, who: GatewayIdentity): boolean {
  const w = alt.when;
  const value: unknown =
    w.attribute === 'roles'
      ? who.roles
      : w.attribute === 'tenant'
        ? who.tenant
        : w.attribute === 'email'
          ? who.email
          : w.attribute === 'admin'
            ? who.admin
            : who.userId;
  if (w.equals !== undefined && value !== w.equals) return false;
  if (w.includes !== undefined && !(Array.isArray(value) ? value.includes(w.includes) : value === w.includes)) return false;
  if (w.notIncludes !== undefined && (Array.isArray(value) ? value.includes(w.notIncludes) : value === w.notIncludes)) return false;
  return true;
}

/** Seed 002's per-user routing: the first matching alternate wins, else the route's upstream. */
export function pickUpstream(route: GatewayRoute, who: GatewayIdentity | undefined): string {
  if (who) for (const alt of route.alternates ?? []) if (matches(alt, who)) return alt.upstream;
  return route.upstream;
}

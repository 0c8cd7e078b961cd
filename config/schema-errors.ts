import type { ErrorObject } from 'ajv';
import { formatPath } from './interpolate.js';

/** Ajv's JSON pointer `/sites/1/returnUrls/0` as `['sites', 1, 'returnUrls', 0]`. */
export function pathOf(pointer: string): (string | number)[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * One schema error as `key.path: what is wrong`, the path under `prefix` (`['plugins', 2, 'config']`
 * for a plugin's section), naming the key itself for an unknown or a missing key. Null for an error
 * another one already says (a failing `if`: its `then` branch says what is wrong).
 */
export function describeSchemaError(e: ErrorObject, prefix: (string | number)[] = []): string | null {
  const at = [...prefix, ...pathOf(e.instancePath)];
  switch (e.keyword) {
    case 'if':
      return null;
    case 'additionalProperties':
      return `${formatPath([...at, (e.params as { additionalProperty: string }).additionalProperty])}: is not a known setting`;
    case 'required':
      return `${formatPath([...at, (e.params as { missingProperty: string }).missingProperty])}: is required`;
    case 'enum':
      return `${formatPath(at)}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
    default:
      return `${formatPath(at)}: ${e.message}`;
  }
}

/** Every error of a failed validation, described once each (Ajv with `allErrors`). */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined, prefix: (string | number)[] = []): string[] {
  return [...new Set((errors ?? []).map((e) => describeSchemaError(e, prefix)).filter((m): m is string => !!m))];
}

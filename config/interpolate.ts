import { ConfigError } from './errors.js';

/** `${NAME}` or `${NAME:-default}`; `$${` is a literal `${`. */
const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** `a.b[2].c` from path segments, the way every config error names a value. */
export function formatPath(segments: (string | number)[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out || '(root)';
}

/**
 * Replaces environment references in every string value of a parsed YAML tree. Done on values,
 * not on the file text, so a reference can never inject YAML structure (a secret containing
 * `\n admin: true` stays one string) and a missing variable is reported with its config path.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REF, (m, name: string | undefined, fallback: string | undefined) => {
      if (m === '$${') return '${';
      const v = env[name!];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${formatPath(path)}: environment variable ${name} is not set (write \${${name}:-default} for a default)`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, [...path, k]);
    return out;
  }
  return value;
}

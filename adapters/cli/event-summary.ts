import type { RecordedEvent } from '../../core/index.js';

// Values that must never be shown even to an operator: hashes of passwords and codes, ciphertexts, tokens.
const SECRET_KEY = /hash|secret|cipher|token|password|code/i;

/** Event data with secret-looking fields masked, for `audit user --json` and the table. */
export function redactData(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(redactData);
  if (!data || typeof data !== 'object') return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactData(v);
  return out;
}

/** One readable line for an event: its scalar data fields other than the user id, secrets masked. */
export function summarize(e: RecordedEvent): string {
  const data = redactData(e.data) as Record<string, unknown> | null;
  if (!data || typeof data !== 'object') return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (k === 'userId' || v === undefined || v === null) continue;
    const shown = typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${k}=${shown.length > 60 ? shown.slice(0, 57) + '...' : shown}`);
  }
  return parts.join(' ');
}

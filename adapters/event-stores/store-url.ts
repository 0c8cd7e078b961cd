import type { StoreConfig } from '../../config/types.js';

export class StoreUrlError extends Error {
  override readonly name = 'StoreUrlError';
  constructor(url: string, why: string) {
    super(
      `bad store URL ${JSON.stringify(redactStoreUrl(url))}: ${why} ` +
        '(expected sqlite:<file>, postgres://user@host/db[?schema=s&poolMax=n], esdb://host:2113, esdb+discover://hosts, or memory:)',
    );
  }
}

/**
 * A store named by one URL (`broker events copy --from <url> --to <url>`):
 * - `sqlite:./broker.db`, `sqlite:/var/lib/broker.db`, `sqlite:///var/lib/broker.db`, `?synchronous=NORMAL|FULL`;
 * - `postgres://user:pass@host:5432/db?schema=broker&poolMax=10` (also `postgresql://`); `schema`
 *   and `poolMax` are ours and are taken out of the URL handed to `pg`;
 * - `esdb://host:2113?tls=false` or `esdb+discover://a:2113,b:2113` (EventStoreDB connection string, as is);
 * - `memory:` (empty, in-process; only useful in tests).
 */
export function parseStoreUrl(url: string): StoreConfig {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      if (!/^memory:(\/\/)?$/i.test(url)) throw new StoreUrlError(url, 'memory: takes nothing after the colon');
      return { kind: 'memory' };
    case 'sqlite': {
      let rest = url.slice('sqlite:'.length);
      const q = rest.indexOf('?');
      const query = new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '');
      if (q >= 0) rest = rest.slice(0, q);
      // sqlite:///abs/path (URL style) and sqlite://rel/path both mean the path after the slashes' authority.
      if (rest.startsWith('//')) rest = rest.slice(2);
      if (!rest) throw new StoreUrlError(url, 'no file path');
      const cfg: StoreConfig = { kind: 'sqlite', path: decodeURIComponent(rest) };
      const sync = query.get('synchronous');
      if (sync !== null) {
        const s = sync.toUpperCase();
        if (s !== 'FULL' && s !== 'NORMAL') throw new StoreUrlError(url, 'synchronous must be FULL or NORMAL');
        cfg.synchronous = s;
      }
      for (const k of query.keys()) if (k !== 'synchronous') throw new StoreUrlError(url, `unknown parameter ${k}`);
      return cfg;
    }
    case 'postgres':
    case 'postgresql': {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new StoreUrlError(url, 'not a valid URL');
      }
      if (!u.hostname && !u.searchParams.get('host')) throw new StoreUrlError(url, 'no host');
      const cfg: StoreConfig = { kind: 'postgres', url: '' };
      const schema = u.searchParams.get('schema');
      if (schema !== null) {
        if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new StoreUrlError(url, 'schema must be a lower-case identifier');
        cfg.schema = schema;
        u.searchParams.delete('schema');
      }
      const poolMax = u.searchParams.get('poolMax');
      if (poolMax !== null) {
        if (!/^[1-9]\d{0,3}$/.test(poolMax)) throw new StoreUrlError(url, 'poolMax must be a positive integer');
        cfg.poolMax = Number(poolMax);
        u.searchParams.delete('poolMax');
      }
      cfg.url = u.toString();
      return cfg;
    }
    case 'esdb':
    case 'esdb+discover':
      if (url.length <= scheme.length + 3 || !url.slice(scheme.length).startsWith('://')) throw new StoreUrlError(url, 'no host');
      return { kind: 'eventstoredb', url };
    default:
      throw new StoreUrlError(url, scheme ? `unknown scheme ${scheme}:` : 'no scheme');
  }
}

/** The URL with any password replaced, for messages and logs. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

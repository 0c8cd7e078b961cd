import { describe, expect, it } from 'vitest';
import { StoreUrlError, parseStoreUrl, redactStoreUrl } from '../../../adapters/event-stores/store-url.js';

describe('parseStoreUrl', () => {
  it('reads every store kind', () => {
    expect(parseStoreUrl('memory:')).toEqual({ kind: 'memory' });
    expect(parseStoreUrl('sqlite:./data/broker.db')).toEqual({ kind: 'sqlite', path: './data/broker.db' });
    expect(parseStoreUrl('sqlite:///var/lib/broker.db?synchronous=normal')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/broker.db',
      synchronous: 'NORMAL',
    });
    expect(parseStoreUrl('postgres://broker:s3cret@db.internal:5432/idp?schema=broker_a&poolMax=20&sslmode=require')).toEqual({
      kind: 'postgres',
      url: 'postgres://broker:s3cret@db.internal:5432/idp?sslmode=require',
      schema: 'broker_a',
      poolMax: 20,
    });
    expect(parseStoreUrl('postgresql://postgres@127.0.0.1/test')).toEqual({
      kind: 'postgres',
      url: 'postgresql://postgres@127.0.0.1/test',
    });
    expect(parseStoreUrl('esdb://127.0.0.1:2113?tls=false')).toEqual({ kind: 'eventstoredb', url: 'esdb://127.0.0.1:2113?tls=false' });
    expect(parseStoreUrl('esdb+discover://a:2113,b:2113,c:2113')).toEqual({
      kind: 'eventstoredb',
      url: 'esdb+discover://a:2113,b:2113,c:2113',
    });
  });

  it('refuses what it cannot use, naming the problem but never the password', () => {
    for (const [url, why] of [
      ['mysql://x/y', /unknown scheme mysql/],
      ['broker.db', /no scheme/],
      ['sqlite:', /no file path/],
      ['sqlite:a.db?synchronous=OFF', /FULL or NORMAL/],
      ['sqlite:a.db?journal=x', /unknown parameter journal/],
      ['postgres://u@h/db?schema=Bad-Name', /lower-case identifier/],
      ['postgres://u@h/db?poolMax=0', /positive integer/],
      ['esdb://', /no host/],
      ['memory:x', /nothing after/],
    ] as const) {
      expect(() => parseStoreUrl(url), url).toThrow(StoreUrlError);
      expect(() => parseStoreUrl(url), url).toThrow(why);
    }
    expect(() => parseStoreUrl('postgres://u:hunter2@h/db?schema=X')).toThrow(/postgres:\/\/u:\*\*\*@h/);
    expect(() => parseStoreUrl('postgres://u:hunter2@h/db?schema=X')).not.toThrow(/hunter2/);
    expect(redactStoreUrl('esdb://admin:changeit@es:2113')).toBe('esdb://admin:***@es:2113');
  });
});

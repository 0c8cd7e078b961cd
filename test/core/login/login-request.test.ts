import { describe, it, expect } from 'vitest';
import { LoginRequestCodec, LoginRequestInvalid, MAX_LOGIN_REQUEST_LENGTH } from '../../../core/index.js';

describe('LoginRequestCodec', () => {
  const codec = new LoginRequestCodec(Buffer.alloc(32, 1));
  const now = new Date('2026-01-01T00:00:00Z');
  const request = (returnTo: string) => ({ protocol: 'return_to', params: { return_to: returnTo } });

  it('round-trips a request', () => {
    const token = codec.encode(request('/apps/wiki/page?x=1'), now, 'j1');
    expect(codec.decode(token, now)).toMatchObject({ protocol: 'return_to', params: { return_to: '/apps/wiki/page?x=1' }, jti: 'j1' });
  });

  // Found by test/fuzz/routes.test.ts: a long return address was encoded into a token that decode
  // refuses, sent as a redirect too long for clients, and the login could never come back.
  it('refuses to encode a request whose token decode would refuse, with a clear invalid_input error', () => {
    expect(() => codec.encode(request(`/${'a'.repeat(MAX_LOGIN_REQUEST_LENGTH)}`), now, 'j2')).toThrow(LoginRequestInvalid);
    let longest = '';
    for (let n = 5000; ; n += 10) {
      try {
        longest = codec.encode(request(`/${'a'.repeat(n)}`), now, 'j3');
      } catch (e) {
        if (!(e instanceof LoginRequestInvalid)) throw e;
        break;
      }
    }
    expect(longest.length).toBeLessThanOrEqual(MAX_LOGIN_REQUEST_LENGTH);
    expect(codec.decode(longest, now).protocol).toBe('return_to');
  });
});

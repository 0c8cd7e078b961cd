import { describe, it, expect } from 'vitest';
import { safeReturnTo, returnToProtocol } from '../../../adapters/http/return-to.js';

describe('return_to (open-redirect defence)', () => {
  it('keeps same-origin paths with their query and fragment', () => {
    expect(safeReturnTo('/')).toBe('/');
    expect(safeReturnTo('/admin/users?q=a%20b#top')).toBe('/admin/users?q=a%20b#top');
    expect(safeReturnTo('/a/../b')).toBe('/b');
  });

  it.each([
    '//evil.example/',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    'evil.example',
    '/.//evil.example',
    '/a/..//evil.example',
    '/%2e//evil.example',
    '/\tevil',
    '/x\r\nSet-Cookie: a=b',
    '',
    'x'.repeat(3000),
  ])('refuses %j', (v) => {
    expect(safeReturnTo(v)).toBeNull();
  });

  it('refuses non-strings', () => {
    expect(safeReturnTo(undefined)).toBeNull();
    expect(safeReturnTo(['/'])).toBeNull();
  });

  it('resumes to / when a signed request somehow carries an off-site target', async () => {
    const r = await returnToProtocol.resume(
      { protocol: 'return_to', params: { return_to: '/.//evil.example' }, iat: 0, exp: 0, jti: 'x' },
      {} as never,
    );
    expect(r).toEqual({ kind: 'redirect', location: '/' });
  });
});

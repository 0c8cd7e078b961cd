import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/index.js';
import { Challenges } from '../../../plugins/passkey/challenges.js';
import { PasskeyConfigError, relyingParty } from '../../../plugins/passkey/rp.js';

describe('passkey challenges', () => {
  it('are single use: the second consume (a replayed answer) gets nothing', () => {
    const c = new Challenges(new ManualClock(Date.now()));
    c.issue('abc', { purpose: 'login', flow: 'f1', lr: '' });
    expect(c.consume('abc', 'login', 'f1')).toMatchObject({ purpose: 'login', flow: 'f1' });
    expect(c.consume('abc', 'login', 'f1')).toBeUndefined();
  });

  it('expire after their time to live', () => {
    const clock = new ManualClock(Date.now());
    const c = new Challenges(clock, 120_000);
    c.issue('abc', { purpose: 'register', flow: 'f1', userId: 'u1' });
    clock.advance(120_001);
    expect(c.consume('abc', 'register', 'f1')).toBeUndefined();
  });

  it('answered from another browser flow or for the other ceremony, are refused and spent', () => {
    const c = new Challenges(new ManualClock(Date.now()));
    c.issue('a', { purpose: 'login', flow: 'victim', lr: '' });
    expect(c.consume('a', 'login', 'attacker')).toBeUndefined();
    expect(c.consume('a', 'login', 'victim')).toBeUndefined();
    c.issue('b', { purpose: 'login', flow: 'f', lr: '' });
    expect(c.consume('b', 'register', 'f')).toBeUndefined();
  });

  it('stay bounded: past the maximum the oldest go first', () => {
    const c = new Challenges(new ManualClock(Date.now()), 120_000, 3);
    for (const k of ['1', '2', '3', '4']) c.issue(k, { purpose: 'login', flow: 'f', lr: '' });
    expect(c.size).toBe(3);
    expect(c.consume('1', 'login', 'f')).toBeUndefined();
    expect(c.consume('4', 'login', 'f')).toBeDefined();
  });
});

describe('passkey relying party from the base URL', () => {
  it('derives the RP ID and origin', () => {
    expect(relyingParty('https://login.example.com')).toMatchObject({ id: 'login.example.com', origin: 'https://login.example.com' });
    expect(relyingParty('https://login.example.com/', { rpId: 'example.com' }).id).toBe('example.com');
    expect(relyingParty('http://localhost:4000').origin).toBe('http://localhost:4000');
  });

  it('refuses at start what no browser would accept', () => {
    expect(() => relyingParty('http://login.example.com')).toThrow(PasskeyConfigError);
    expect(() => relyingParty('https://10.0.0.5')).toThrow(/IP address/);
    expect(() => relyingParty('http://127.0.0.1:4000')).toThrow(PasskeyConfigError);
    expect(() => relyingParty('https://login.example.com', { rpId: 'other.com' })).toThrow(/parent domain/);
  });
});

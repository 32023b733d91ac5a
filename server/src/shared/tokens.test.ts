import { describe, expect, it } from 'vitest';
import { hashIp, signToken, verifyToken } from './tokens.ts';

const secret = 'k'.repeat(40);
const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-02T00:00:00Z');

describe('tokens', () => {
  it('round-trips a subject before expiry', () => {
    const t = signToken(secret, 'confirm', 'abc-123', later);
    expect(verifyToken(secret, 'confirm', t, now)).toEqual({ ok: true, subject: 'abc-123', expiresAt: later });
  });
  it('reports expiry', () => {
    const t = signToken(secret, 'confirm', 'abc', now);
    expect(verifyToken(secret, 'confirm', t, later)).toEqual({ ok: false, reason: 'expired' });
  });
  it('refuses another purpose, another key, and any tampering', () => {
    const t = signToken(secret, 'confirm', 'abc', later);
    expect(verifyToken(secret, 'unsubscribe', t, now).ok).toBe(false);
    expect(verifyToken('x'.repeat(40), 'confirm', t, now).ok).toBe(false);
    const forged = Buffer.from(`other.${Math.floor(later.getTime() / 1000)}`).toString('base64url') + t.slice(t.indexOf('.'));
    expect(verifyToken(secret, 'confirm', forged, now)).toEqual({ ok: false, reason: 'invalid' });
  });
  it.each(['', 'a', 'a.b', '../../etc', 'x'.repeat(600), 'abc.' + 'A'.repeat(31) + '!'])('refuses garbage %j', (t) => {
    expect(verifyToken(secret, 'confirm', t, now)).toEqual({ ok: false, reason: 'invalid' });
  });
  it('hashes IPs stably and without revealing them', () => {
    expect(hashIp(secret, '203.0.113.5')).toBe(hashIp(secret, '203.0.113.5'));
    expect(hashIp(secret, '203.0.113.5')).not.toContain('203');
    expect(hashIp(secret, '203.0.113.5')).not.toBe(hashIp(secret, '203.0.113.6'));
  });
});

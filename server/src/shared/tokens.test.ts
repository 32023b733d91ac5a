import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKey } from './hmac-key.ts';
import { hashIp, hashNetwork, networkOf, signToken, verifyToken } from './tokens.ts';

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

  it('names the /24 or /64 network of an address, however it is spelled', () => {
    expect(networkOf('203.0.113.9')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.9')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:0DB8:0001:0002:ffff:0:0:1')).toBe('2001:db8:1:2::/64');
    expect(networkOf('::1')).toBe('0:0:0:0::/64');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(networkOf('not an address')).toBeNull();
    expect(networkOf('')).toBeNull();
  });
  it('hashes networks with the key, apart from address hashes', () => {
    expect(hashNetwork(secret, '203.0.113.9')).toBe(hashNetwork(secret, '203.0.113.200'));
    expect(hashNetwork(secret, '203.0.113.9')).not.toBe(hashNetwork(secret, '203.0.114.9'));
    expect(hashNetwork(secret, '203.0.113.9')).not.toBe(hashNetwork('x'.repeat(40), '203.0.113.9'));
    expect(hashNetwork(secret, '203.0.113.9')).toMatch(/^[0-9a-f]{32}$/);
    expect(hashNetwork(secret, '203.0.113.0')).not.toBe(hashIp(secret, '203.0.113.0/24'));
    expect(hashNetwork(secret, 'nonsense')).toBeNull();
  });
});

describe('hmacKey (HMAC keys held as KeyObjects)', () => {
  it('gives the very HMAC of the string key, for every secret, ASCII or not', () => {
    for (const secret of ['bench-secret-key-bench-secret-key-0123456789', 'ключ-секрет-ü', 'x'.repeat(200)]) {
      const want = createHmac('sha256', secret).update('ip\n203.0.113.7').digest('hex');
      expect(createHmac('sha256', hmacKey(secret)).update('ip\n203.0.113.7').digest('hex')).toBe(want);
      expect(hmacKey(secret)).toBe(hmacKey(secret));
    }
  });

  it('keeps address hashes as they were: stored hashes still match', () => {
    const secret = 'test-secret-0123456789-test-secret';
    expect(hashIp(secret, '198.51.100.4')).toBe(createHmac('sha256', secret).update('ip\n198.51.100.4').digest('hex').slice(0, 32));
    expect(hashNetwork(secret, '198.51.100.4')).toBe(createHmac('sha256', secret).update('net\n198.51.100.0/24').digest('hex').slice(0, 32));
  });
});

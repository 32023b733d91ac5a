// Signed, expiring tokens for emailed links. Stateless: the link carries the id and expiry,
// and an HMAC under SECRET_KEY proves we issued it. Nothing needs storing per email sent.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { hmacKey } from './hmac-key.ts';

export type TokenCheck =
  | { ok: true; subject: string; expiresAt: Date }
  | { ok: false; reason: 'invalid' | 'expired' };

function mac(secret: string, purpose: string, body: string): string {
  return createHmac('sha256', hmacKey(secret)).update(`${purpose}\n${body}`).digest('base64url').slice(0, 32);
}

export function signToken(secret: string, purpose: string, subject: string, expiresAt: Date): string {
  const body = Buffer.from(`${subject}.${Math.floor(expiresAt.getTime() / 1000)}`).toString('base64url');
  return `${body}.${mac(secret, purpose, body)}`;
}

export function verifyToken(secret: string, purpose: string, token: string, now: Date): TokenCheck {
  if (typeof token !== 'string' || token.length > 512 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32}$/.test(token)) {
    return { ok: false, reason: 'invalid' };
  }
  const [body, given] = token.split('.') as [string, string];
  const expected = mac(secret, purpose, body);
  if (!timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return { ok: false, reason: 'invalid' };
  const decoded = Buffer.from(body, 'base64url').toString('utf8');
  const dot = decoded.lastIndexOf('.');
  const subject = decoded.slice(0, dot);
  const exp = Number(decoded.slice(dot + 1));
  if (dot <= 0 || !Number.isSafeInteger(exp)) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(exp * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, subject, expiresAt };
}

/** Keyed hash of an IP address: comparable for abuse checks, not reversible without the key. */
export function hashIp(secret: string, ip: string): string {
  return createHmac('sha256', hmacKey(secret)).update(`ip\n${ip}`).digest('hex').slice(0, 32);
}

/**
 * The network an address belongs to: its /24 for IPv4 (and IPv4-mapped IPv6), its /64 for
 * IPv6. Abuse often rotates addresses inside one network; this names the network.
 * Returns null for something that is not an IP address.
 */
export function networkOf(ip: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped ? mapped[1]! : ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(ip)) return null;
  const bare = ip.split('%')[0]!.toLowerCase();
  const [head, tail = ''] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = bare.includes('::') && tail ? tail.split(':') : [];
  // an embedded IPv4 tail takes two groups; only the first four groups matter here
  const tailGroups = tailParts.flatMap((p) => (p.includes('.') ? ['0', '0'] : [p]));
  const missing = 8 - headParts.length - tailGroups.length;
  const groups = [...headParts, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

/** Keyed hash of an address's network (networkOf), with the same key as hashIp. */
export function hashNetwork(secret: string, ip: string): string | null {
  const net = networkOf(ip);
  return net === null ? null : createHmac('sha256', hmacKey(secret)).update(`net\n${net}`).digest('hex').slice(0, 32);
}

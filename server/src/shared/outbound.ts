// Requests to addresses given from outside (webhook endpoints) must never reach inside: no
// loopback, private, link-local, shared (CGNAT), multicast, unspecified, documentation or
// reserved address, in any spelling (0x7f000001, 2130706433, 127.1, [::ffff:127.0.0.1],
// [::1], 64:ff9b::a00:1, 2002:a00:1::, ...), and no name that resolves to one.
//
// - Literal addresses are read by the WHATWG URL parser (which turns 0x7f000001, 2130706433
//   and 127.1 into 127.0.0.1) and then by ipaddr.js, which knows the special ranges.
// - IPv4 is allowed only in ipaddr.js's "unicast" range (none of the special ones). IPv6 is
//   allowed only in global unicast (2000::/3) outside every special range; an IPv6 address
//   that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-translated, NAT64 64:ff9b::/96,
//   6to4 2002::/16) is judged by the IPv4 address it carries; local-use NAT64 (64:ff9b:1::/48)
//   and Teredo are refused.
// - A name is resolved once, every address it answers is checked, and the connection goes to
//   a checked address (the lookup is pinned): a second lookup could answer otherwise (DNS
//   rebinding). No redirect is followed.
// - An explicit allow-list (WEBHOOK_ALLOW_PRIVATE: CIDR ranges) lets an internal CRM through.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface OutboundPolicy {
  /** ranges let through although they are internal (an internal CRM) */
  allow: [Address, number][];
}

/** Parses the allow-list setting: CIDR ranges or single addresses. Throws on anything else. */
export function outboundPolicy(allow: readonly string[] = []): OutboundPolicy {
  return {
    allow: allow.map((entry) => {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const a = ipaddr.parse(entry);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as [Address, number];
    }),
  };
}

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** The IPv4 address an IPv6 one carries, for the forms that carry one. */
function embeddedIPv4(a: ipaddr.IPv6): ipaddr.IPv4 | null {
  const range = a.range();
  const bytes = a.toByteArray();
  if (range === 'ipv4Mapped' || range === 'rfc6145') return ipaddr.fromByteArray(bytes.slice(12)) as ipaddr.IPv4;
  // NAT64 well-known prefix (64:ff9b::/96) carries it in the last 32 bits
  if (range === 'rfc6052' && a.match(ipaddr.parseCIDR('64:ff9b::/96'))) return ipaddr.fromByteArray(bytes.slice(12)) as ipaddr.IPv4;
  // 6to4 (2002:AABB:CCDD::/48) carries it in bits 16-47
  if (range === '6to4') return ipaddr.fromByteArray(bytes.slice(2, 6)) as ipaddr.IPv4;
  return null;
}

function allowed(a: Address, policy: OutboundPolicy): boolean {
  return policy.allow.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
}

/**
 * Why this address may not be reached ("loopback", "private", ...), or null when it may. The
 * reason names a range, never what is listening there.
 */
export function refusalOf(address: string, policy: OutboundPolicy): string | null {
  let a: Address;
  try {
    a = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  } catch {
    return 'not an address';
  }
  if (allowed(a, policy)) return null;
  if (a.kind() === 'ipv6') {
    const v6 = a as ipaddr.IPv6;
    const v4 = embeddedIPv4(v6);
    if (v4) {
      // judged by the IPv4 address it carries (and the allow-list's IPv4 ranges)
      const inner = refusalOf(v4.toString(), policy);
      return inner === null ? null : `${v6.range()} of ${inner}`;
    }
    const range = v6.range();
    if (range !== 'unicast') return range;
    if (!v6.match(GLOBAL_UNICAST)) return 'reserved';
    return null;
  }
  const range = (a as ipaddr.IPv4).range();
  return range === 'unicast' ? null : range;
}

/** The host of a URL as an address, when it is one (brackets of IPv6 removed); null for a name. */
function literalAddress(hostname: string): string | null {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(bare) ? bare : null;
}

/** localhost and *.localhost (RFC 6761) mean this machine, whatever DNS says */
function isLocalName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.+$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

export type Resolution = { ok: true; addresses: LookupAddress[] } | { ok: false; refusal: string };

/**
 * Resolves the URL's host once and checks every address it answers. A refusal says which
 * range, and is the same whether anything listens there or not (nothing is connected to).
 */
export async function resolveOutbound(
  url: URL,
  policy: OutboundPolicy,
  lookup: (host: string) => Promise<LookupAddress[]> = (host) => dnsLookup(host, { all: true, verbatim: true }),
): Promise<Resolution> {
  const literal = literalAddress(url.hostname);
  const addresses = literal
    ? [{ address: literal, family: ipaddr.parse(literal).kind() === 'ipv4' ? 4 : 6 }]
    : isLocalName(url.hostname)
      ? null
      : await lookup(url.hostname);
  if (addresses === null) {
    // names that mean this machine are refused without asking DNS, unless it is allowed
    const local = await lookup('localhost').catch(() => []);
    if (local.length === 0 || local.some((a) => refusalOf(a.address, policy))) return { ok: false, refusal: `${url.hostname} is this machine (loopback)` };
    return { ok: true, addresses: local };
  }
  if (addresses.length === 0) return { ok: false, refusal: `${url.hostname} has no address` };
  for (const a of addresses) {
    const why = refusalOf(a.address, policy);
    if (why) return { ok: false, refusal: `${literal ? `${url.hostname} is` : `${url.hostname} resolves to`} an internal address (${why})` };
  }
  return { ok: true, addresses };
}

/**
 * Checks a URL given from outside when it is registered: a literal internal address or a
 * local name is refused at once; a name that resolves now to an internal address too. A name
 * that does not resolve now is let through (it is checked again at every request).
 */
export async function checkOutboundUrl(raw: string, policy: OutboundPolicy, timeoutMs = 3_000): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const res = await Promise.race([
      resolveOutbound(url, policy),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs).unref())),
    ]);
    return res && !res.ok ? res.refusal : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** A lookup that answers the addresses already checked, whatever name it is asked for. */
function pinnedLookup(checked: LookupAddress[]) {
  return (_host: string, options: LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    if (options?.all) cb(null, checked);
    else cb(null, checked[0]!.address, checked[0]!.family);
  };
}

export type OutboundResult =
  | { kind: 'answered'; status: number }
  | { kind: 'refused'; refusal: string }
  | { kind: 'error'; error: string };

/**
 * POSTs `body` to `url` if every address of its host may be reached, connecting only to the
 * addresses that were checked (no second lookup), following no redirect, reading none of the
 * answer's body. A refusal is answered without connecting.
 */
export async function postOutbound(
  rawUrl: string,
  opts: { headers: Record<string, string>; body: string; timeoutMs: number; policy: OutboundPolicy; lookup?: (host: string) => Promise<LookupAddress[]> },
): Promise<OutboundResult> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { kind: 'refused', refusal: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'refused', refusal: 'not an http(s) URL' };
  let resolved: Resolution;
  try {
    resolved = await resolveOutbound(url, opts.policy, opts.lookup);
  } catch (err) {
    return { kind: 'error', error: `could not resolve ${url.hostname}: ${(err as { code?: string }).code ?? 'error'}` };
  }
  if (!resolved.ok) return { kind: 'refused', refusal: resolved.refusal };
  const checked = resolved.addresses;

  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<OutboundResult>((resolve) => {
    const req = send(
      {
        protocol: url.protocol,
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) },
        // a fresh connection each time, to the checked addresses only: the pinned lookup
        agent: false,
        lookup: pinnedLookup(checked),
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        // the status is all we need; the body is dropped unread
        resolve({ kind: 'answered', status: res.statusCode ?? 0 });
        res.destroy();
      },
    );
    req.on('error', (err: Error & { code?: string }) => {
      resolve({ kind: 'error', error: err.name === 'AbortError' || err.name === 'TimeoutError' || err.code === 'ABORT_ERR' ? 'timed out' : err.message.slice(0, 500) });
    });
    req.end(opts.body);
  });
}

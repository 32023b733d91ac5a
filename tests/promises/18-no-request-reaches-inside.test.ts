// Promise 18: no request from outside can make Chorus reach an internal address. Tried as an
// attacker with an admin's session (or a stolen one) would: register webhook endpoints on
// internal addresses in every spelling, and, for endpoints already stored (registered before
// this check, or through a name whose DNS answer changed), make an event and watch what the
// worker does. A real HTTP receiver listens on 127.0.0.1 (and a closed port beside it): it
// must receive nothing, and the delivery log must read the same for the open and the closed
// port. An explicit allow-list (WEBHOOK_ALLOW_PRIVATE) lets one internal receiver through.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealSecret, deliverWebhook, emitEvent } from '../../server/src/webhook/webhook.service.ts';
import { outboundPolicy, refusalOf, resolveOutbound } from '../../server/src/shared/outbound.ts';
import { asStaff, createHarness, staffSession, type Harness } from '../../server/src/testing/harness.ts';

let h: Harness;
let allowing: Harness;
let admin: { id: string; cookie: string };
let receiver: Server;
let port: number;
let closedPort: number;
const hits: string[] = [];

beforeAll(async () => {
  h = await createHarness();
  allowing = await createHarness({ env: { WEBHOOK_ALLOW_PRIVATE: '127.0.0.1/32' } });
  admin = await staffSession(h.db, 'ADMIN');
  receiver = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    // a redirect to an internal address must not be followed either
    if (req.url?.startsWith('/redirect')) return void res.writeHead(307, { location: `http://127.0.0.1:${port}/followed` }).end();
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  port = (receiver.address() as AddressInfo).port;
  // a port nothing listens on: taken and given back
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(async () => {
  await h?.db.pool.query(`UPDATE webhook_endpoints SET disabled_at = now() WHERE disabled_at IS NULL`).catch(() => {});
  receiver?.close();
  await allowing?.close();
  await h?.close();
});

/** every spelling of an internal address the issue and the RFCs give; `${port}` is the live receiver */
const internal = () => [
  `http://127.0.0.1:${port}/`,
  `http://0x7f000001:${port}/`,
  `http://2130706433:${port}/`,
  `http://127.1:${port}/`,
  `http://0177.0.0.1:${port}/`,
  `http://0x7f.0.0.1:${port}/`,
  `http://127.000.000.001:${port}/`,
  `http://[::ffff:127.0.0.1]:${port}/`,
  `http://[::ffff:7f00:1]:${port}/`,
  `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/`,
  `http://[::ffff:0:127.0.0.1]:${port}/`,
  `http://[::127.0.0.1]:${port}/`,
  `http://[::1]:6379/`,
  `http://[0:0:0:0:0:0:0:1]:${port}/`,
  `http://localhost:5432/`,
  `http://LOCALHOST:${port}/`,
  `http://localhost.:${port}/`,
  `http://anything.localhost:${port}/`,
  `http://0.0.0.0:${port}/`,
  `http://0:${port}/`,
  `http://[::]:${port}/`,
  `http://169.254.169.254/latest/meta-data/`,
  `http://[fe80::1]/`,
  `http://[fe80::a9fe:a9fe]/`,
  `http://10.0.0.1/`,
  `http://172.16.0.1/`,
  `http://172.31.255.255/`,
  `http://192.168.1.1/`,
  `http://100.64.0.1/`,
  `http://100.127.255.254/`,
  `http://224.0.0.1/`,
  `http://239.255.255.250:1900/`,
  `http://255.255.255.255/`,
  `http://240.0.0.1/`,
  `http://192.0.0.8/`,
  `http://192.0.2.1/`,
  `http://198.18.0.1/`,
  `http://[fc00::1]/`,
  `http://[fd12:3456:789a::1]/`,
  `http://[ff02::1]/`,
  `http://[fec0::1]/`,
  `http://[64:ff9b::7f00:1]:${port}/`,
  `http://[64:ff9b::a9fe:a9fe]/`,
  `http://[64:ff9b::10.0.0.1]/`,
  `http://[64:ff9b:1::a00:1]/`,
  `http://[2002:7f00:1::]:${port}/`,
  `http://[2002:c0a8:101::1]/`,
  `http://[2002:a9fe:a9fe::]/`,
  `http://[2001::1]/`,
  `http://[2001:db8::1]/`,
  `http://[100::1]/`,
  `https://127.0.0.1:${port}/`,
  `http://user:pass@127.0.0.1:${port}/`,
];

const register = (who: Harness, url: string) =>
  asStaff(who.app, admin.cookie, { method: 'POST', url: '/api/admin/webhooks', payload: { url, events: ['answer.published'], description: 'probe' } });

describe('registering an endpoint', () => {
  it('refuses every spelling of an internal address with a clear 422, and stores nothing', async () => {
    const before = (await h.db.pool.query(`SELECT count(*)::int AS n FROM webhook_endpoints`)).rows[0].n;
    for (const url of internal()) {
      const res = await register(h, url);
      expect([url, res.statusCode], res.body).toEqual([url, 422]);
      expect(res.json()).toMatchObject({ code: 'webhook_url_internal', issues: [{ path: 'url' }] });
      expect(res.json().message).toMatch(/internal address|this machine/);
    }
    expect((await h.db.pool.query(`SELECT count(*)::int AS n FROM webhook_endpoints`)).rows[0].n).toBe(before);
    expect(hits).toEqual([]);
  });

  it('takes public addresses, including IPv6 forms that carry a public IPv4 address', async () => {
    for (const url of ['http://8.8.8.8/hook', 'https://[2606:4700:4700::1111]/hook', 'http://[64:ff9b::808:808]/hook', 'http://[2002:808:808::1]/hook']) {
      const res = await register(h, url);
      expect([url, res.statusCode]).toEqual([url, 201]);
    }
  });

  it('takes an internal receiver only when WEBHOOK_ALLOW_PRIVATE lists it, and nothing beside it', async () => {
    expect((await register(allowing, `http://127.0.0.1:${port}/crm`)).statusCode).toBe(201);
    expect((await register(allowing, `http://[::ffff:127.0.0.1]:${port}/crm`)).statusCode).toBe(201);
    for (const url of [`http://127.0.0.2:${port}/`, `http://[::1]:${port}/`, 'http://10.0.0.1/', 'http://169.254.169.254/']) {
      expect([url, (await register(allowing, url)).statusCode]).toEqual([url, 422]);
    }
  });
});

describe('sending to an endpoint stored with an internal address', () => {
  /** an endpoint as an older version, or a raw database write, might have left it */
  async function stored(url: string): Promise<string> {
    const { rows } = await h.db.pool.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (url, description, events, secret, created_by) VALUES ($1, 'stored', '{answer.published}', $2, $3) RETURNING id`,
      [url, sealSecret(h.secret, 'whsec_test'), admin.id],
    );
    return rows[0]!.id;
  }

  async function attempt(endpointId: string, allow: string[] = []) {
    await emitEvent(h.db.pool, 'answer.published', { responseId: randomUUID() });
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC LIMIT 1`, [endpointId]);
    const outcome = await deliverWebhook({ pool: h.db.pool, appSecret: h.secret, clock: () => new Date(), timeoutMs: 2_000, outbound: outboundPolicy(allow) }, rows[0]!.id);
    await h.db.pool.query(`UPDATE webhook_endpoints SET disabled_at = now() WHERE id = $1`, [endpointId]);
    const d = (await h.db.pool.query(`SELECT status, last_status, last_error FROM webhook_deliveries WHERE id = $1`, [rows[0]!.id])).rows[0];
    const a = (await h.db.pool.query(`SELECT status, error, ok FROM webhook_attempts WHERE delivery_id = $1`, [rows[0]!.id])).rows;
    return { outcome, delivery: d, attempts: a };
  }

  it('connects to none of them: refused, recorded as refused, failed at once', async () => {
    for (const url of internal()) {
      const r = await attempt(await stored(url));
      expect([url, r.outcome, r.delivery.status, r.delivery.last_status]).toEqual([url, 'failed', 'FAILED', null]);
      expect(r.attempts).toEqual([{ status: null, ok: false, error: expect.stringMatching(/^refused: .*(internal address|this machine)/) }]);
    }
    expect(hits).toEqual([]);
  });

  it('an open and a closed internal port read the same in the delivery log', async () => {
    const open = await attempt(await stored(`http://127.0.0.1:${port}/scan`));
    const closed = await attempt(await stored(`http://127.0.0.1:${closedPort}/scan`));
    const strip = (s: string) => s.replace(String(port), 'P').replace(String(closedPort), 'P');
    expect(strip(open.attempts[0].error)).toBe(strip(closed.attempts[0].error));
    expect(open.delivery.status).toBe(closed.delivery.status);
    expect(hits).toEqual([]);
  });

  it('with the allow-list, the listed receiver gets the POST, and a redirect to inside is not followed', async () => {
    const ok = await attempt(await stored(`http://127.0.0.1:${port}/crm`), ['127.0.0.1/32']);
    expect(ok.outcome).toBe('delivered');
    expect(hits).toEqual(['POST /crm']);
    const redirected = await attempt(await stored(`http://127.0.0.1:${port}/redirect`), ['127.0.0.1/32']);
    expect(redirected.attempts[0]).toMatchObject({ status: 307, ok: false });
    expect(hits).toEqual(['POST /crm', 'POST /redirect']);
  });

  it('a name is resolved once, every address checked, and the connection pinned to a checked one', async () => {
    const policy = outboundPolicy();
    // a name with one public and one internal answer is refused as a whole
    const mixed = await resolveOutbound(new URL('http://crm.example.org/'), policy, async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ]);
    expect(mixed).toMatchObject({ ok: false, refusal: expect.stringContaining('crm.example.org resolves to an internal address (private)') });
    for (const address of ['127.0.0.1', '::1', '::ffff:169.254.169.254', '64:ff9b::a00:1', 'fd00::1']) {
      const r = await resolveOutbound(new URL('http://rebind.example.org/'), policy, async () => [{ address, family: address.includes(':') ? 6 : 4 }]);
      expect([address, r.ok]).toEqual([address, false]);
    }
    // DNS rebinding: the first answer is checked (allowed here), the second would be internal;
    // the connection goes to the first, because the address is resolved once and pinned
    let lookups = 0;
    const { postOutbound } = await import('../../server/src/shared/outbound.ts');
    const result = await postOutbound(`http://rebind.example.org:${port}/pinned`, {
      headers: {},
      body: '{}',
      timeoutMs: 2_000,
      policy: outboundPolicy(['127.0.0.1/32']),
      lookup: async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.9.9.9', family: 4 }]),
    });
    expect(result).toEqual({ kind: 'answered', status: 200 });
    expect(lookups).toBe(1);
    expect(hits.at(-1)).toBe('POST /pinned');
  });

  it('the classification itself, address by address', () => {
    const none = outboundPolicy();
    for (const a of ['127.0.0.1', '10.0.0.1', '100.64.0.1', '169.254.0.1', '::1', '::ffff:10.0.0.1', 'fe80::1', 'fc00::1', 'fd00::1', '::', '0.0.0.0', '64:ff9b::c0a8:1', '2002:c0a8:1::1', 'ff05::1', '2001:db8::1']) {
      expect([a, refusalOf(a, none)]).toEqual([a, expect.any(String)]);
    }
    for (const a of ['93.184.216.34', '2606:4700:4700::1111', '64:ff9b::5db8:d822', '2002:5db8:d822::1']) {
      expect([a, refusalOf(a, none)]).toEqual([a, null]);
    }
  });
});

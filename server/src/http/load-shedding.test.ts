import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, newSignature, signBody, type Harness } from '../testing/harness.ts';
import { SHARED_FOR_A_SECOND } from './routes/actions.ts';
import { SignatureWriter } from '../signature/signature.repository.ts';
import { EventLoopLag, InFlight, shedReason } from './load-shedding.ts';
import { signaturesShed } from '../shared/metrics.ts';

const opts = { maxEventLoopLagMs: 50, maxWriterWaitMs: 150, retryAfterSeconds: 1 };

describe('EventLoopLag', () => {
  it('counts lag only while this process is itself busy', async () => {
    const lag = new EventLoopLag(10).start();
    try {
      // idle, but late: as when other processes hold the CPU
      await new Promise((r) => setTimeout(r, 200));
      expect(lag.lagMs).toBe(0);
      // busy: 50 ms of work at a time, yielding only for an instant (a timer's minimum wait
      // would add idle time that a machine busy with other processes stretches)
      for (let i = 0; i < 8; i++) {
        const until = performance.now() + 50;
        while (performance.now() < until);
        await new Promise((r) => setImmediate(r));
      }
      expect(lag.utilisation).toBeGreaterThan(0.9);
      expect(lag.lagMs).toBeGreaterThan(20);
    } finally {
      lag.stop();
    }
  });
});

describe('shedReason', () => {
  it('admits while both signals are under their limits, and names the one that is not', () => {
    const writer = (ms: number) => ({ oldestWaitMs: () => ms });
    expect(shedReason({ lag: { lagMs: 10 }, writer: writer(20) }, opts)).toBeNull();
    expect(shedReason({ lag: { lagMs: 51 }, writer: writer(0) }, opts)).toBe('event_loop_lag');
    expect(shedReason({ lag: { lagMs: 0 }, writer: writer(151) }, opts)).toBe('writer_backlog');
  });
});

describe('the shed counter (chorus_signatures_shed_total)', () => {
  const shedCount = async (reason: string) => (await signaturesShed.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('counts each refusal once, under the reason it was refused for, where it is decided', async () => {
    const writer = (ms: number) => ({ oldestWaitMs: () => ms });
    const before = { lag: await shedCount('event_loop_lag'), backlog: await shedCount('writer_backlog'), inFlight: await shedCount('in_flight') };
    const shed: Record<string, number> = {};
    expect(shedReason({ lag: { lagMs: 10 }, writer: writer(20), shed }, opts)).toBeNull();
    expect(shedReason({ lag: { lagMs: 51 }, writer: writer(0), shed }, opts)).toBe('event_loop_lag');
    expect(shedReason({ lag: { lagMs: 51 }, writer: writer(0), shed }, opts)).toBe('event_loop_lag');
    expect(shedReason({ lag: { lagMs: 0 }, writer: writer(151), shed }, opts)).toBe('writer_backlog');
    const f = new InFlight();
    f.admit();
    expect(shedReason({ lag: { lagMs: 0 }, writer: writer(0), inFlight: f, shed }, { ...opts, inFlightLatencyMs: 150, minInFlight: 1 })).toBe('in_flight');
    expect(shed).toEqual({ event_loop_lag: 2, writer_backlog: 1, in_flight: 1 });
    expect(await shedCount('event_loop_lag')).toBe(before.lag + 2);
    expect(await shedCount('writer_backlog')).toBe(before.backlog + 1);
    expect(await shedCount('in_flight')).toBe(before.inFlight + 1);
  });
});

describe('InFlight', () => {
  it('caps signatures in flight at the answer rate times the latency budget, never below the floor', () => {
    const f = new InFlight();
    const budget = { inFlightLatencyMs: 150, minInFlight: 10 };
    expect(f.limit(budget)).toBe(10);
    f.capacity = 2000;
    expect(f.limit(budget)).toBe(300);
    expect(f.limit({})).toBe(Infinity);
    const writer = { oldestWaitMs: () => 0 };
    f.count = 299;
    expect(shedReason({ lag: { lagMs: 0 }, writer, inFlight: f }, { ...opts, ...budget })).toBeNull();
    f.count = 300;
    expect(shedReason({ lag: { lagMs: 0 }, writer, inFlight: f }, { ...opts, ...budget })).toBe('in_flight');
  });

  it('learns the answer rate from what it answers, and keeps the capacity while fewer are answered', async () => {
    const f = new InFlight(20).start();
    try {
      for (let i = 0; i < 50; i++) {
        f.admit();
        f.done();
      }
      expect(f.count).toBe(0);
      await new Promise((r) => setTimeout(r, 30));
      expect(f.rate).toBeGreaterThan(0);
      const peak = f.capacity;
      expect(peak).toBeGreaterThanOrEqual(f.rate);
      // nothing answered for a few windows: the rate falls fast, the capacity slowly
      await new Promise((r) => setTimeout(r, 100));
      expect(f.rate).toBeLessThan(peak / 4);
      expect(f.capacity).toBeGreaterThan(peak / 2);
    } finally {
      f.stop();
    }
  });
});

describe('the writer reports how long its oldest unanswered signature has waited', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => h.close());

  it('is 0 when idle, grows while a write is pending, and is 0 again once answered', async () => {
    const { action } = await createAction(h.db);
    const writer = new SignatureWriter(h.db.pool, { maxBatch: 256, maxWaitMs: 50, maxQueued: 100 });
    expect(writer.oldestWaitMs()).toBe(0);
    const email = `shed-${Date.now()}@example.org`;
    const pending = writer.write(newSignature(action.id, email));
    await new Promise((r) => setTimeout(r, 20));
    expect(writer.oldestWaitMs()).toBeGreaterThanOrEqual(15);
    await pending;
    expect(writer.oldestWaitMs()).toBe(0);
  });
});

describe('POST /api/actions/:slug/signatures sheds load', () => {
  let h: Harness;
  // the lag signal is ours to move (EventLoopLag itself is tested above)
  const lag = { lagMs: 0 };
  beforeAll(async () => {
    h = await createHarness({ shedding: { ...opts, lag } });
  });
  afterAll(async () => h.close());

  it('answers 503 with Retry-After while the server lags, keeps serving reads, and admits again at once after', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const sign = () =>
      h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });

    expect((await sign()).statusCode).toBe(202);

    lag.lagMs = 200;
    const shed = await sign();
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.json()).toMatchObject({ statusCode: 503, code: 'overloaded' });
    // reads are served from memory and are never shed
    expect((await h.app.inject({ url: `/api/actions/${action.slug}/count` })).statusCode).toBe(200);

    // a form post is shed the same way (before its body is read)
    const form = await h.app.inject({
      method: 'POST',
      url: `/api/actions/${action.slug}/signatures`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'firstName=Ana',
    });
    expect(form.statusCode).toBe(503);

    // as soon as the lag is gone, signing is admitted again
    lag.lagMs = 0;
    expect((await sign()).statusCode).toBe(202);
  });

  it('admits at most the floor of signatures in flight while none is answered, and admits again once they are', async () => {
    const capped = await createHarness({ shedding: { ...opts, lag: { lagMs: 0 }, inFlightLatencyMs: 150, minInFlight: 3, maxWriterWaitMs: 60_000 } });
    const blocker = await capped.db.pool.connect();
    try {
      const { action } = await createAction(capped.db);
      await capped.cache.refresh();
      const sign = () => capped.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });
      // hold every signature write until released
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE signatures IN EXCLUSIVE MODE');
      const held = [sign(), sign(), sign()];
      await new Promise((r) => setTimeout(r, 100));
      const refused = await Promise.all([sign(), sign()]);
      expect(refused.map((r) => r.statusCode)).toEqual([503, 503]);
      expect(refused[0]!.headers['retry-after']).toBe('1');
      await blocker.query('COMMIT');
      expect((await Promise.all(held)).map((r) => r.statusCode)).toEqual([202, 202, 202]);
      // the three answered leave room again
      expect((await sign()).statusCode).toBe(202);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
      await capped.close();
    }
  });

  it('does not count requests whose body has not arrived: slow bodies cannot hold signing shut', async () => {
    const capped = await createHarness({ shedding: { ...opts, lag: { lagMs: 0 }, inFlightLatencyMs: 150, minInFlight: 3, maxWriterWaitMs: 60_000 } });
    const sockets: Socket[] = [];
    try {
      const { action } = await createAction(capped.db);
      await capped.cache.refresh();
      await capped.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (capped.app.server.address() as { port: number }).port;
      // ten times the cap of connections, each announcing a body and sending one byte of it
      const opened = Array.from({ length: 30 }, () =>
        new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => {
            s.write(
              `POST /api/actions/${action.slug}/signatures HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
              () => resolve(),
            );
          });
          s.on('error', reject);
          sockets.push(s);
        }),
      );
      await Promise.all(opened);
      // the server has read every header by the time it answers a request sent after them
      expect((await fetch(`http://127.0.0.1:${port}/api/actions/${action.slug}/count`)).status).toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/api/actions/${action.slug}/signatures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(signBody()),
      });
      expect(res.status).toBe(202);
    } finally {
      for (const s of sockets) s.destroy();
      await capped.close();
    }
  });

  it('refuses before routing on a real socket, with the same answer and headers as the routed refusal', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as { port: number };
    const post = () =>
      fetch(`http://127.0.0.1:${port}/api/actions/${action.slug}/signatures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(signBody()),
      });
    lag.lagMs = 200;
    try {
      const early = await post();
      const routed = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });
      expect(early.status).toBe(503);
      expect(await early.json()).toEqual(routed.json());
      for (const name of ['content-type', 'retry-after', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy']) {
        expect(early.headers.get(name), name).toBe(String(routed.headers[name]));
      }
      // the answer came before routing: a slug longer than the router takes is refused the same way
      // (routed, it is a 414)
      const long = `/api/actions/${'a'.repeat(1500)}/signatures`;
      expect((await h.app.inject({ method: 'POST', url: long, payload: signBody() })).statusCode).toBe(414);
      expect((await fetch(`http://127.0.0.1:${port}${long}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(503);
      // reads go through as usual, and so does signing once the lag is gone
      expect((await fetch(`http://127.0.0.1:${port}/api/actions/${action.slug}/count`)).status).toBe(200);
      lag.lagMs = 0;
      expect((await post()).status).toBe(202);
    } finally {
      lag.lagMs = 0;
    }
  });

  it('serves the public count from memory', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const res = await h.app.inject({ url: `/api/actions/${action.slug}/count` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe(SHARED_FOR_A_SECOND);
    expect(res.json()).toEqual({ slug: action.slug, count: 0, goal: 100 });
    expect((await h.app.inject({ url: '/api/actions/no-such-action/count' })).json()).toMatchObject({ statusCode: 404, code: 'action_not_found' });
  });
});

// The retention job against the real test database, with a clock the test moves: what is
// removed when, and what stays (confirmed signatures, delivered ones, anything younger).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { runRetention } from './retention.service.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { indexOfEmail } from '../testing/sealed.ts';

const DAY = 86_400_000;
let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function sign(slug: string, email: string, extra: Record<string, unknown> = {}) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email, ...extra }) });
  expect(res.statusCode).toBe(202);
}

async function state(email: string) {
  const { rows } = await h.db.pool.query<{ supporter: string | null; signature: string | null; status: string | null; ip_hash: string | null; consents: number }>(
    `SELECT su.id AS supporter, s.id AS signature, s.status, s.ip_hash,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = su.id) AS consents
     FROM supporters su LEFT JOIN signatures s ON s.supporter_id = su.id WHERE su.email_index = $1`,
    [indexOfEmail(email)],
  );
  return rows[0] ?? null;
}

describe('retention job', () => {
  it('clears IP hashes after 7 days, deletes unconfirmed and invalidated signatures (and their supporters) after 30, keeps confirmed ones', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const [pending, confirmed, flagged, both] = ['ret-pending', 'ret-confirmed', 'ret-flagged', 'ret-both'].map((n) => uniqueEmail(n));
    const other = await createAction(h.db);
    await h.cache.refresh();
    await sign(fx.action.slug, pending!);
    await sign(fx.action.slug, confirmed!);
    await sign(fx.action.slug, flagged!, { website: 'http://spam.example' });
    await sign(fx.action.slug, both!); // stays pending here ...
    await sign(other.action.slug, both!); // ... and confirmed there
    // confirmed through the confirmation link, which records the consents
    const { rows: toConfirm } = await h.db.pool.query<{ id: string }>(
      `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id
       WHERE p.email_index = $1 OR (p.email_index = $2 AND s.action_id = $3)`,
      [indexOfEmail(confirmed!), indexOfEmail(both!), other.action.id],
    );
    expect(toConfirm).toHaveLength(2);
    for (const { id } of toConfirm) {
      const token = confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, id);
      expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
    }
    for (const e of [pending, confirmed, flagged]) expect((await state(e!))!.ip_hash).toMatch(/^[0-9a-f]{32}$/);
    const t0 = Date.now();
    // the job works in bounded chunks, and other tests' rows are in this database too: run it
    // until a run has nothing left to do, as its timer would
    const run = async (days: number) => {
      for (let i = 0; i < 200; i++) {
        const r = await runRetention({ pool: h.db.pool, clock: () => new Date(t0 + days * DAY), ipHashDays: 7, unconfirmedDays: 30, chunk: 20_000 });
        if (r.ipHashesCleared + r.signaturesDeleted + r.supportersDeleted === 0) return;
      }
    };

    // day 6: nothing of ours changes
    await run(6);
    for (const e of [pending, confirmed, flagged]) expect((await state(e!))!.ip_hash).not.toBeNull();

    // day 8: IP hashes gone, everything else still there
    await run(8);
    for (const e of [pending, confirmed, flagged]) {
      const s = (await state(e!))!;
      expect(s.ip_hash).toBeNull();
      expect(s.signature).not.toBeNull();
    }

    // day 29: still there
    await run(29);
    expect((await state(pending!))?.signature).toBeTruthy();

    // day 31: the unconfirmed and the honeypot signature are gone with their supporters and consents
    let total = { ipHashesCleared: 0, signaturesDeleted: 0, supportersDeleted: 0 };
    // bounded chunks: run until nothing is left to do (other tests' rows are in this database too)
    for (let i = 0; i < 200; i++) {
      const r = await runRetention({ pool: h.db.pool, clock: () => new Date(t0 + 31 * DAY), ipHashDays: 7, unconfirmedDays: 30, chunk: 20_000 });
      total = { ipHashesCleared: total.ipHashesCleared + r.ipHashesCleared, signaturesDeleted: total.signaturesDeleted + r.signaturesDeleted, supportersDeleted: total.supportersDeleted + r.supportersDeleted };
      if (r.signaturesDeleted + r.supportersDeleted + r.ipHashesCleared === 0) break;
    }
    expect(total.signaturesDeleted).toBeGreaterThanOrEqual(3);
    expect(await state(pending!)).toBeNull();
    expect(await state(flagged!)).toBeNull();
    const { rows: orphanConsents } = await h.db.pool.query(
      `SELECT 1 FROM ${CONSENT_RECORDS} c WHERE NOT EXISTS (SELECT 1 FROM supporters s WHERE s.id = c.supporter_id)`,
    );
    expect(orphanConsents).toHaveLength(0);
    // confirmed stays whole; the supporter with a confirmed signature elsewhere keeps it and loses only the pending one
    const kept = (await state(confirmed!))!;
    expect(kept.status).toBe('CONFIRMED');
    expect(kept.consents).toBe(5);
    const { rows: bothRows } = await h.db.pool.query<{ action_id: string; status: string }>(
      `SELECT s.action_id, s.status FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(both!)],
    );
    expect(bothRows).toEqual([{ action_id: other.action.id, status: 'CONFIRMED' }]);
    // the whole suite's rows are this job's work too, hence the time allowed
  }, 180_000);
});

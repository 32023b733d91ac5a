// Promise 9: a signer can see, export, change and erase their data themselves; erasure is final.
// Seeing, downloading, changing a consent and erasing through the emailed link are walked in a
// real browser in tests/e2e/member-pages.test.ts, and the erase endpoint's own rows are checked in
// server/src/supporter/supporter.api.test.ts. Here the erasure is attacked from the places the
// person's data travelled to before they erased it: the letter's packet (page data, CSV) that an
// official can still open, the public wall, every table of the database, and every "my data"
// link they were ever sent (a replayed older link must show nothing either).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBatch } from '../../server/src/delivery/batch.service.ts';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { myDataToken } from '../../server/src/supporter/supporter.service.ts';
import { createAction, createHarness, signBody, uniqueEmail, type Harness } from '../../server/src/testing/harness.ts';
import { indexOfEmail, openedSignatures, supporterByEmail } from '../../server/src/testing/sealed.ts';
import { sealedSupporter } from '../support/sealed-checks.ts';

const HOUR = 3_600_000;
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

describe('promise 9: erasure is final', () => {
  it('a sign-up not yet confirmed when the person erased their data can never be confirmed by its old link', async () => {
    const fx = await createAction(h.db, { kind: 'PETITION', deliveryPolicy: 'IMMEDIATE', targets: [{ country: 'UZ', language: 'en' }] });
    await h.cache.refresh();
    const email = uniqueEmail('erase-pending');
    const first = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, country: 'UZ' }) });
    expect(first.statusCode).toBe(202);
    // a second action, signed and confirmed, so the person has a "my data" page to erase from
    const other = await createAction(h.db);
    await h.cache.refresh();
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${other.action.slug}/signatures`, payload: signBody({ email }) })).statusCode).toBe(202);
    const { rows } = await h.db.pool.query<{ id: string; action_id: string; supporter_id: string }>(
      `SELECT s.id, s.action_id, s.supporter_id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(email)],
    );
    const pending = rows.find((r) => r.action_id === fx.action.id)!;
    const tokenDeps = { secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 24 };
    const oldLink = confirmationToken(tokenDeps, pending.id);

    const myData = myDataToken({ secret: h.secret, clock: () => new Date() }, pending.supporter_id);
    const erased = await h.app.inject({ method: 'POST', url: `/api/my-data/${myData}/erase`, payload: { confirm: true } });
    expect(erased.statusCode).toBe(200);

    // the confirmation email is still in their mailbox: its link must change nothing
    const late = await h.app.inject({ method: 'POST', url: `/api/confirmations/${oldLink}`, payload: {} });
    expect(late.statusCode).toBeGreaterThanOrEqual(400);
    expect(late.statusCode).toBeLessThan(500);
    const after = await h.db.pool.query(`SELECT status, confirmed_at FROM signatures WHERE id = $1`, [pending.id]);
    expect(after.rows[0]).toMatchObject({ status: 'INVALIDATED', confirmed_at: null });
    // nothing owed to officials for them
    const batch = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    expect(batch).toBeNull();
  });

  it('after erasure nothing of the person is in the packet, the CSV, the wall, any table, or behind any old link', async () => {
    const fx = await createAction(h.db, { kind: 'LETTER', deliveryPolicy: 'ON_CLOSE', targets: [{ country: 'FR', language: 'en' }] });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', fx.action.id).execute();
    await h.cache.refresh();
    const marker = Math.random().toString(36).slice(2, 10);
    const person = {
      email: uniqueEmail(`erase${marker}`),
      firstName: `Zofia${marker}`,
      lastName: `Wronska${marker}`,
      sentence: `Please free my brother ${marker}.`,
    };
    const sign = await h.app.inject({
      method: 'POST',
      url: `/api/actions/${fx.action.slug}/signatures`,
      payload: signBody({
        email: person.email,
        firstName: person.firstName,
        lastName: person.lastName,
        country: 'DE',
        consentNamed: true,
        consentWall: true,
        consentContact: true,
        letterSubject: 'My own subject',
        letterBody: `Dear Minister,\n\n${person.sentence}`,
      }),
    });
    expect(sign.statusCode).toBe(202);
    const { rows } = await h.db.pool.query<{ id: string; supporter_id: string }>(
      `SELECT s.id, s.supporter_id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(person.email)],
    );
    const { id: signatureId, supporter_id: supporterId } = rows[0]!;
    const tokenDeps = (at: number) => ({ secret: h.secret, clock: () => new Date(at), confirmLinkTtlHours: 24 });
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${confirmationToken(tokenDeps(Date.now()), signatureId)}`, payload: {} })).statusCode).toBe(200);

    // the letter goes out, naming them, with their own words; the packet link stays valid for the official
    const batch = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const letterId = batch!.letterIds[0]!;
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now(), attempts = 1 WHERE id = $1`, [letterId]);
    const packet = packetToken(h.secret, letterId, new Date());
    const everything = async () => {
      const page = await h.app.inject({ url: `/api/packets/${packet}` });
      const csv = await h.app.inject({ url: `/api/packets/${packet}/packet.csv` });
      await h.cache.refresh();
      const action = await h.app.inject({ url: `/api/actions/${fx.action.slug}` });
      expect([page.statusCode, csv.statusCode, action.statusCode]).toEqual([200, 200, 200]);
      return `${page.body}\n${csv.body}\n${action.body}`;
    };
    const traces = new RegExp([person.email, person.firstName, person.lastName, marker].join('|'), 'i');
    // the check sees the person while their data is there (so it can fail)
    expect(await everything()).toMatch(new RegExp(person.lastName));

    // two "my data" links: one from an older email, one fresh; the fresh one erases
    // stored sealed under their data key, which opens it while they are there
    expect(await sealedSupporter(h.db.pool, supporterId)).toMatchObject({ email: person.email, first_name: person.firstName, last_name: person.lastName });
    expect((await openedSignatures(h.db.pool, `s.id = $1`, [signatureId]))[0]).toMatchObject({ letter_body: `Dear Minister,\n\n${person.sentence}` });
    const older = myDataToken(tokenDeps(Date.now() - 2 * HOUR), supporterId);
    const fresh = myDataToken(tokenDeps(Date.now()), supporterId);
    expect(older).not.toBe(fresh);
    expect((await h.app.inject({ url: `/api/my-data/${older}` })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: `/api/my-data/${fresh}/erase`, payload: { confirm: true } })).statusCode).toBe(200);

    expect(await everything()).not.toMatch(traces);
    for (const token of [older, fresh]) {
      for (const url of [`/api/my-data/${token}`, `/api/my-data/${token}?download=1`]) {
        const res = await h.app.inject({ url });
        expect(res.statusCode, url).toBe(404);
        expect(res.body).not.toMatch(traces);
      }
      const change = await h.app.inject({ method: 'POST', url: `/api/my-data/${token}/consents`, payload: { purpose: 'CONTACT', granted: true } });
      expect(change.statusCode).toBe(404);
      expect((await h.app.inject({ method: 'POST', url: `/api/my-data/${token}/erase`, payload: { confirm: true } })).statusCode).toBe(404);
    }
    // no table holds the address, the names or the letter's words
    const { rows: tables } = await h.db.pool.query<{ name: string }>(
      `SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const holding: string[] = [];
    for (const { name } of tables) {
      const { rows: hit } = await h.db.pool.query(`SELECT 1 FROM ${name} t WHERE t::text ILIKE $1 LIMIT 1`, [`%${marker}%`]);
      if (hit.length) holding.push(name);
    }
    expect(holding).toEqual([]);
    // their data key is destroyed: nothing sealed under it opens any more, and the address no longer finds them
    expect(await sealedSupporter(h.db.pool, supporterId)).toMatchObject({ data_key: null, email: null, first_name: null, last_name: null });
    expect(await supporterByEmail(h.db.pool, person.email)).toBeNull();
    expect((await openedSignatures(h.db.pool, `s.id = $1`, [signatureId]))[0]).toMatchObject({ letter_subject: null, letter_body: null, pending_first_name: null });
    // and the erased signature is still counted: erasure takes the person, not the count
    expect((await h.db.pool.query(`SELECT status FROM signatures WHERE id = $1`, [signatureId])).rows[0].status).toBe('CONFIRMED');
  });
});

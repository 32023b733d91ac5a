// Promise 16: never a 5xx crash. Tried as an attacker found it: a person confirms a pending
// sign-up at the very moment another sign-up with the same address arrives (she signs again,
// or someone signs in her name). Confirming locked the signature and then the supporter; a
// sign-up locks the supporter and then the signature; PostgreSQL found the deadlock and killed
// one of them, which answered 500 {"code":"internal"} (the sign-up 14 times in 25, the
// confirmation too with three sign-ups at once). Through the real app (inject), database and
// Redis: rounds of one confirmation against one or three sign-ups and the mail worker sending
// the email, their starts staggered by a few milliseconds so that every interleaving comes up.
// No answer may be a 5xx, and what is stored must be what the answers said.
import type { QueryResult } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { sendConfirmation } from '../../server/src/signature/confirmation.service.ts';
import { confirmationToken, signupDetails, signupVersion, type SignupRow } from '../../server/src/signature/signature.service.ts';
import { confirmationMailDeps, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});

/** the mail worker's part, as the workers run it: it too locks the supporter, then the signatures */
const workerSends = (signatureId: string) =>
  sendConfirmation(confirmationMailDeps(h, mailer, { budget: { perWindow: 5, windowMs: 600_000 } }), signatureId);

const ROUNDS = 30;
const later = <T>(ms: number, fn: () => Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => fn().then(resolve, reject), ms));

/** The sign-ups of the address for the action: names and letters opened (and checked to be held only sealed), with their consent records counted. */
async function stored(actionId: string, email: string): Promise<QueryResult['rows']> {
  const opened = await openedSignatures(h.db.pool, `s.action_id = $1 AND p.email_index = $2`, [actionId, indexOfEmail(email)]);
  const { rows } = await h.db.pool.query(
    `SELECT s.id,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) AS consents,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = s.supporter_id) AS supporter_consents
     FROM signatures s WHERE s.id = ANY($1::uuid[])`,
    [opened.map((r) => r.id)],
  );
  const counts = new Map(rows.map((r) => [r.id, r]));
  return opened.map((r) => {
    expectSignatureSealed(r);
    return { ...r, ...counts.get(r.id) };
  });
}

describe('a confirmation and sign-ups of the same person at the same moment', () => {
  it(`${ROUNDS} rounds: never a 5xx, and the stored signature is what the answers said`, { timeout: 180_000 }, async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const answers: number[] = [];
    let confirmed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const email = uniqueEmail('race');
      expect((await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: '198.51.100.60', payload: signBody({ email }) })).statusCode).toBe(202);
      const [row] = await stored(action.id, email);
      // half the rounds with the link as the email carries it (bound to the details it showed),
      // half with a bare link to the signature
      const versioned = round % 2 === 0;
      const token = confirmationToken(
        { secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 1 },
        row.id,
        versioned ? signupVersion(signupDetails(row as SignupRow, row.supporter_data_key)) : undefined,
      );
      const signUps = round % 3 === 2 ? 3 : 1;
      const stagger = round % 6;
      const names = Array.from({ length: signUps }, (_, i) => `Other${i}`);
      const worker = later(stagger, () => workerSends(row.id));
      const [confirm, ...signs] = await Promise.all([
        h.app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} }),
        ...names.map((firstName, i) =>
          later(stagger + i, () =>
            h.app.inject({
              method: 'POST',
              url: `/api/actions/${action.slug}/signatures`,
              remoteAddress: `198.51.100.${61 + i}`,
              payload: signBody({ email, firstName }),
            }),
          ),
        ),
      ]);
      // the email of the first sign-up, sent meanwhile (or found replaced, confirmed, ...): never a failure
      expect(['sent', 'already-signed-sent', 'nothing-owed', 'deferred']).toContain(await worker);
      for (const res of [confirm!, ...signs]) answers.push(res.statusCode);
      expect(signs.map((s) => s.statusCode), `round ${round}: ${signs.map((s) => s.body).join(' ')}`).toEqual(names.map(() => 202));
      expect([200, 409], `round ${round}: ${confirm!.body}`).toContain(confirm!.statusCode);

      // her link confirms her sign-up, whatever came in meanwhile: the other sign-ups wait beside
      // it (they never take its place), and confirming sets aside those it finds
      expect(confirm!.statusCode, `round ${round}: ${confirm!.body}`).toBe(200);
      expect(confirm!.json().status).toBe('confirmed');
      confirmed++;
      const rows = await stored(action.id, email);
      const mine = rows.filter((r) => r.id === row.id);
      expect(mine).toHaveLength(1);
      // confirmed once, whole: what it confirmed became hers, and the sign-ups around it changed nothing of it
      expect(mine[0]).toMatchObject({ status: 'CONFIRMED', pending_first_name: null, pending_last_name: null, pending_contact: null, consents: 5, supporter_consents: 5, first_name: 'Ana' });
      expect(mine[0].confirmed_at).not.toBeNull();
      // every other sign-up is set aside by her confirmation, what it said in her name wiped, or
      // was never written (it came after, and only asked for the "already signed" note): none is
      // left waiting beside her signature to ask her to confirm again
      for (const other of rows.filter((r) => r.id !== row.id)) {
        expect(other, `round ${round}`).toMatchObject({ status: 'INVALIDATED', pending_first_name: null, letter_body: null, consents: 0, confirmed_at: null });
      }
    }
    expect(answers.filter((s) => s >= 500)).toEqual([]);
    const { rows } = await h.db.pool.query(`SELECT count(*)::int AS n FROM signatures WHERE action_id = $1 AND status = 'CONFIRMED'`, [action.id]);
    expect(rows[0].n).toBe(confirmed);
    expect(confirmed).toBe(ROUNDS);
  });
});

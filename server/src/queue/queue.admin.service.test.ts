// What the queue view says the database owes, against real rows: confirmation emails never sent
// or asked for again since, letters PENDING or SUBMITTING, and of those the ones due now.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, type Harness } from '../testing/harness.ts';
import { owedWork } from './queue.admin.service.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('owedWork', () => {
  it('counts owed confirmations, open letters and due letters, and nothing else', async () => {
    const before = await owedWork(h.db.pool);
    const { action, targets } = await createAction(h.db, {
      targets: ['UZ', 'KZ', 'TJ', 'KG'].map((country) => ({ country, language: 'en' })),
    });

    const emails = [1, 2, 3, 4].map(() => signBody().email as string);
    for (const email of emails) {
      const res = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ email }) });
      expect(res.statusCode, res.body).toBe(202);
    }
    const id = async (email: string) =>
      (await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`, [indexOfEmail(email)])).rows[0]!.id;
    // emails[0]: never emailed (owed); emails[1]: emailed after it was asked for (not owed);
    // emails[2]: asked for again since its email went (owed); emails[3]: confirmed (not owed)
    await h.db.pool.query(`UPDATE confirmation_emails SET requested_at = now() - interval '1 minute', sent_at = now() WHERE signature_id = $1`, [await id(emails[1]!)]);
    await h.db.pool.query(`UPDATE confirmation_emails SET sent_at = now() - interval '1 hour', requested_at = now() WHERE signature_id = $1`, [await id(emails[2]!)]);
    await h.db.pool.query(`UPDATE signatures SET status = 'CONFIRMED', confirmed_at = now() WHERE id = $1`, [await id(emails[3]!)]);

    const batch = await h.db.pool.query<{ id: string }>(
      `INSERT INTO delivery_batches (action_id, reason, signature_count, total_count) VALUES ($1, 'test', 1, 1) RETURNING id`,
      [action.id],
    );
    const letter = (targetId: string, status: string, nextAttempt: string) =>
      h.db.pool.query(
        `INSERT INTO letters (batch_id, target_id, status, signature_count, locale, message_id, next_attempt_at, sent_at)
         VALUES ($1, $2, $3::"LetterStatus", 1, 'en', $4, now() + $5::interval, $6)`,
        [batch.rows[0]!.id, targetId, status, `<${randomUUID()}@test>`, nextAttempt, status === 'SENT' ? new Date() : null],
      );
    await letter(targets[0]!.id, 'PENDING', '-1 second'); // due
    await letter(targets[1]!.id, 'PENDING', '1 hour'); // open, not yet due
    await letter(targets[2]!.id, 'SUBMITTING', '-1 second'); // open, being sent
    await letter(targets[3]!.id, 'SENT', '-1 second'); // done

    const after = await owedWork(h.db.pool);
    expect(after).toEqual({
      confirmations: before.confirmations + 2,
      letters: before.letters + 3,
      lettersDue: before.lettersDue + 1,
    });
  });
});

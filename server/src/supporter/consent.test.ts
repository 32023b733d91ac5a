// The current choice on being contacted, and the history, from consents (one row per confirmed
// signature) and consent_events (later changes): what exports, integrations and answer emails
// decide by (promise 10).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qb, SignatureStatus } from '../db/db.ts';
import { createAction, createHarness, newSignature, uniqueEmail, type Harness } from '../testing/harness.ts';
import { recordConfirmations, writeSignatures } from '../signature/signature.repository.ts';
import { consentHistory, latestContactConsent } from './consent.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

async function signAndConfirm(actionId: string, email: string, contact: boolean, at: Date) {
  const [w] = await writeSignatures(h.db.pool, [newSignature(actionId, email, { contact })]);
  await recordConfirmations(h.db.pool, [w!.signatureId], at);
  return w!.signatureId;
}

async function contactOf(email: string): Promise<boolean | null> {
  const row = await qb(h.db.pool)
    .selectFrom('supporters as p')
    .select((eb) => latestContactConsent(eb.ref('p.id')).as('contact'))
    .where('p.email_index', '=', indexOfEmail(email))
    .executeTakeFirstOrThrow();
  return row.contact;
}

describe('the latest choice on being contacted', () => {
  it('is the latest confirmation’s, and stays so when staff later set that signature aside (an older yes does not come back)', async () => {
    const first = await createAction(h.db);
    const second = await createAction(h.db);
    const email = uniqueEmail('consent');
    await signAndConfirm(first.action.id, email, true, new Date(Date.now() - 60_000));
    expect(await contactOf(email)).toBe(true);
    const later = await signAndConfirm(second.action.id, email, false, new Date());
    expect(await contactOf(email)).toBe(false);
    await qb(h.db.pool)
      .updateTable('signatures')
      .set({ status: SignatureStatus.INVALIDATED, invalidated_at: new Date(), invalid_reason: 'staff' })
      .where('id', '=', later)
      .execute();
    expect(await contactOf(email)).toBe(false);
  });

  it('takes no yes from a signature staff set aside (found to be fraud, say)', async () => {
    const { action } = await createAction(h.db);
    const email = uniqueEmail('fraud');
    const id = await signAndConfirm(action.id, email, true, new Date());
    expect(await contactOf(email)).toBe(true);
    await qb(h.db.pool)
      .updateTable('signatures')
      .set({ status: SignatureStatus.INVALIDATED, invalidated_at: new Date(), invalid_reason: 'fraud' })
      .where('id', '=', id)
      .execute();
    expect(await contactOf(email)).toBeNull();
  });

  it('is nothing for a sign-up never confirmed, whatever it said', async () => {
    const { action } = await createAction(h.db);
    const email = uniqueEmail('pending');
    await writeSignatures(h.db.pool, [newSignature(action.id, email, { contact: true })]);
    expect(await contactOf(email)).toBeNull();
  });

  it('follows a later change on the data page, and the history lists every record in order', async () => {
    const { action } = await createAction(h.db);
    const email = uniqueEmail('history');
    const at = new Date(Date.now() - 60_000);
    const id = await signAndConfirm(action.id, email, true, at);
    const { supporter_id } = await qb(h.db.pool).selectFrom('signatures').select('supporter_id').where('id', '=', id).executeTakeFirstOrThrow();
    await qb(h.db.pool)
      .insertInto('consent_events')
      .values({ supporter_id, signature_id: null, purpose: 'CONTACT', granted: false, wording_version: 'test', created_at: new Date() })
      .execute();
    expect(await contactOf(email)).toBe(false);
    const history = await consentHistory(qb(h.db.pool), supporter_id);
    expect(history.map((r) => [r.purpose, r.granted])).toEqual([
      ['COUNT', true],
      ['NAMED_DISCLOSURE', false],
      ['NAMED_TO_OWN_COUNTRY', false],
      ['PUBLIC_WALL', false],
      ['CONTACT', true],
      ['CONTACT', false],
    ]);
    expect(history[0]!.actionSlug).toBe(action.slug);
    expect(history[5]!.actionSlug).toBeNull();
  });

  it('moves the updated_at of the person’s other confirmed signatures when it changes, so the incremental sync sees it', async () => {
    const first = await createAction(h.db);
    const second = await createAction(h.db);
    const email = uniqueEmail('sync');
    const earlier = await signAndConfirm(first.action.id, email, true, new Date(Date.now() - 60_000));
    const updatedAt = async (id: string) =>
      (await qb(h.db.pool).selectFrom('signatures').select('updated_at').where('id', '=', id).executeTakeFirstOrThrow()).updated_at.getTime();
    const before = await updatedAt(earlier);
    const later = await signAndConfirm(second.action.id, email, false, new Date());
    const moved = await updatedAt(earlier);
    expect(moved).toBeGreaterThan(before);
    // and a change on the data page moves both
    const { supporter_id } = await qb(h.db.pool).selectFrom('signatures').select('supporter_id').where('id', '=', later).executeTakeFirstOrThrow();
    const laterBefore = await updatedAt(later);
    await qb(h.db.pool)
      .insertInto('consent_events')
      .values({ supporter_id, signature_id: null, purpose: 'CONTACT', granted: true, wording_version: 'test', created_at: new Date() })
      .execute();
    expect(await updatedAt(earlier)).toBeGreaterThan(moved);
    expect(await updatedAt(later)).toBeGreaterThan(laterBefore);
  });
});

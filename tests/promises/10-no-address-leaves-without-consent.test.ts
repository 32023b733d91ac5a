// Promise 10: a signer who did not consent to contact is not emailed beyond their confirmation
// and reminder, and their address does not leave Chorus in an export. Tried as a careless
// campaigner (ticking "names and emails"), an attacker (a pending sign-up with the victim's
// address and "contact me" ticked), and a campaigner reaching for the admins' wider export.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, confirmSignatures, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness } from '../../server/src/testing/harness.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';

let h: Harness;
let campaigner: { id: string; cookie: string };
let admin: { id: string; cookie: string };

beforeAll(async () => {
  h = await createHarness();
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  admin = await staffSession(h.db, 'ADMIN');
});
afterAll(async () => h?.close());

async function sign(slug: string, email: string, contact: boolean, confirm = true) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email, consentContact: contact }) });
  expect(res.statusCode).toBe(202);
  if (confirm) {
    await confirmSignatures(h.db.pool, `p.email_index = $1 AND s.action_id = (SELECT id FROM actions WHERE slug = $2)`, [indexOfEmail(email), slug]);
  }
}

async function exportAs(who: { cookie: string }, payload: Record<string, unknown>) {
  const start = await asStaff(h.app, who.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'SIGNATURES', includePersonal: true, ...payload } });
  if (start.statusCode !== 202) return { start, rows: null, jobId: null };
  const jobId = start.json().job.id as string;
  await expect
    .poll(async () => (await asStaff(h.app, who.cookie, { method: 'GET', url: `/api/admin/exports/${jobId}` })).json().job.status, { timeout: 20_000, interval: 50 })
    .toBe('DONE');
  const file = await asStaff(h.app, who.cookie, { method: 'GET', url: `/api/admin/exports/${jobId}/download` });
  expect(file.statusCode).toBe(200);
  return { start, rows: parse(file.body, { columns: true }) as Record<string, string>[], jobId, body: file.body };
}

describe('a staff export with names and emails', () => {
  let action: { id: string; slug: string };
  const agreed = uniqueEmail('agreed');
  const silent = uniqueEmail('silent');
  const unsubscribed = uniqueEmail('unsubscribed');
  const victim = uniqueEmail('victim');

  beforeAll(async () => {
    ({ action } = await createAction(h.db));
    const { action: other } = await createAction(h.db);
    await h.cache.refresh();
    await sign(action.slug, agreed, true);
    await sign(action.slug, silent, false);
    await sign(action.slug, unsubscribed, true);
    await h.db.pool.query('UPDATE supporters SET unsubscribed_at = now() WHERE email_index = $1', [indexOfEmail(unsubscribed)]);
    // the victim never agreed; an attacker then signs another action with her address and "contact me" ticked
    await sign(action.slug, victim, false);
    await sign(other.slug, victim, true, false);
  });

  it('carries the address only of signers who agreed to be contacted, and the consent as a column', async () => {
    const { rows, body } = await exportAs(campaigner, { actionId: action.id });
    const byName = Object.fromEntries(rows!.map((r) => [r.email || r.signature_id, r]));
    expect(rows).toHaveLength(4);
    expect(Object.keys(rows![0]!)).toEqual(expect.arrayContaining(['first_name', 'last_name', 'contact_consent', 'email']));
    expect(byName[agreed]).toMatchObject({ contact_consent: 'yes', email: agreed });
    expect(body).not.toContain(silent);
    expect(body).not.toContain(unsubscribed);
    expect(body).not.toContain(victim);
    expect(rows!.filter((r) => r.email === '').map((r) => r.contact_consent)).toEqual(['no', 'no', 'no']);
  });

  it('every address is refused to a campaigner (403), and nothing is started', async () => {
    const before = await h.db.pool.query('SELECT count(*)::int AS n FROM export_jobs WHERE staff_id = $1', [campaigner.id]);
    const { start } = await exportAs(campaigner, { actionId: action.id, emailsWithoutConsent: true, reason: 'I would like to write to everyone' });
    expect(start.statusCode).toBe(403);
    expect(start.json().code).toBe('admin_only');
    const after = await h.db.pool.query('SELECT count(*)::int AS n FROM export_jobs WHERE staff_id = $1', [campaigner.id]);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('an admin needs a stated reason (422 without one), which is stored with the job and audited', async () => {
    for (const reason of [undefined, '', 'because', 'two\nlines of reason']) {
      const { start } = await exportAs(admin, { actionId: action.id, emailsWithoutConsent: true, ...(reason === undefined ? {} : { reason }) });
      expect(start.statusCode, String(reason)).toBe(422);
    }
    // and only with names and emails, and only for signatures
    expect((await exportAs(admin, { actionId: action.id, includePersonal: false, emailsWithoutConsent: true, reason: 'Court order 2026/17 for the list' })).start.statusCode).toBe(422);

    const reason = 'Data subject access request: court order 2026/17';
    const { rows, jobId } = await exportAs(admin, { actionId: action.id, emailsWithoutConsent: true, reason });
    expect(rows!.map((r) => r.email).sort()).toEqual([agreed, silent, unsubscribed, victim].sort());
    expect(rows!.find((r) => r.email === silent)!.contact_consent).toBe('no');
    const job = await h.db.pool.query('SELECT filter FROM export_jobs WHERE id = $1', [jobId]);
    expect(job.rows[0].filter).toMatchObject({ emailsWithoutConsent: true, reason });
    const audit = await h.db.pool.query(`SELECT verb, staff_id, after FROM audit_log WHERE entity = 'export' AND entity_id = $1 ORDER BY id`, [jobId]);
    expect(audit.rows[0]).toMatchObject({ verb: 'export_started', staff_id: admin.id, after: { emailsWithoutConsent: true, reason } });
    expect(audit.rows.map((r) => r.verb)).toEqual(['export_started', 'export_completed', 'export_downloaded']);
  });
});

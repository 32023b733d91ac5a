// Promise 17: staff see only what their role allows, and every look at personal data is
// audited. Tried as a curious viewer (and a careless campaigner) would: asking the fraud
// search whether an address, a name or a domain signed, listing a wall with its hidden
// entries, searching every action at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashIp } from '../../server/src/shared/tokens.ts';
import { asStaff, confirmSignatures, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness } from '../../server/src/testing/harness.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';

let h: Harness;
let viewer: { id: string; cookie: string };
let campaigner: { id: string; cookie: string };
let admin: { id: string; cookie: string };

beforeAll(async () => {
  h = await createHarness();
  viewer = await staffSession(h.db, 'VIEWER');
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  admin = await staffSession(h.db, 'ADMIN');
});
afterAll(async () => h?.close());

const auditOf = async (staffId: string) =>
  (
    await h.db.pool.query<{ verb: string; entity: string; entity_id: string | null; before: unknown; after: unknown }>(
      'SELECT verb, entity, entity_id, before, after FROM audit_log WHERE staff_id = $1 ORDER BY id',
      [staffId],
    )
  ).rows;

/** A confirmed signer on the action's wall, signing from `ip`. */
async function signer(slug: string, ip: string, firstName: string) {
  const email = uniqueEmail('signer');
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, remoteAddress: ip, payload: signBody({ email, firstName, consentWall: true }) });
  expect(res.statusCode).toBe(202);
  await confirmSignatures(h.db.pool, `p.email_index = $1`, [indexOfEmail(email)]);
}

describe('a viewer asks whether an address signed', () => {
  it('is refused (403) by address, by name, by domain and on the wall, with or without an action; nothing is answered', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const ip = '192.0.2.77';
    await signer(action.slug, ip, 'Dilnoza');
    for (const q of [`ip=${ip}`, `actionId=${action.id}&ip=${ip}`, `actionId=${action.id}&namePattern=Diln`, `actionId=${action.id}&emailDomain=example.org`, `actionId=${action.id}&ipHash=${hashIp(h.secret, ip).slice(0, 32)}`]) {
      const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?${q}` });
      expect(res.statusCode, q).toBe(403);
      expect(res.body, q).not.toMatch(/Dilnoza|example\.org|"count"/);
    }
    const wall = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/fraud/wall?actionId=${action.id}` });
    expect(wall.statusCode).toBe(403);
    expect(wall.body).not.toContain('Dilnoza');
  });
});

describe('campaigners and admins look within one action, and every look is audited', () => {
  it('a search across every action is a clear 422, not an answer', async () => {
    const before = (await auditOf(campaigner.id)).length;
    for (const q of ['ip=192.0.2.77', 'emailDomain=example.org', 'namePattern=Dilnoza', 'actionId=&ip=192.0.2.77']) {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?${q}` });
      expect(res.statusCode, q).toBe(422);
      expect(res.json().issues.map((i: { path: string }) => i.path), q).toContain('actionId');
    }
    const invalidate = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: '/api/admin/fraud/invalidate',
      payload: { filter: { emailDomain: 'example.org' }, asOf: new Date().toISOString(), expectedCount: 1 },
    });
    expect(invalidate.statusCode).toBe(422);
    expect((await auditOf(campaigner.id)).length).toBe(before);
  });

  it('a preview by address leaves an audit row with who, which action, what matched and which signatures were shown; never the address', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const ip = '192.0.2.78';
    await signer(action.slug, ip, 'Aziza');
    await signer(action.slug, ip, 'Bahodir');
    h.now.value = new Date(); // the console's clock: a preview counts what was made up to now
    const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&ip=${ip}` });
    expect(res.statusCode).toBe(200);
    const preview = res.json();
    expect(preview.count).toBe(2);
    const looks = (await auditOf(campaigner.id)).filter((r) => r.verb === 'fraud_previewed' && r.entity_id === action.id);
    expect(looks).toHaveLength(1);
    expect(looks[0]).toMatchObject({ entity: 'action', before: { filter: { actionId: action.id, ipTyped: true } }, after: { matched: 2 } });
    expect((looks[0]!.after as { shown: string[] }).shown.sort()).toEqual(preview.sample.map((r: { id: string }) => r.id).sort());
    expect(JSON.stringify(looks[0])).not.toContain(ip);

    // each look is one row: the same preview again is audited again, by whoever looks
    await asStaff(h.app, admin.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&ip=${ip}` });
    await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&ip=${ip}` });
    expect((await auditOf(campaigner.id)).filter((r) => r.verb === 'fraud_previewed' && r.entity_id === action.id)).toHaveLength(2);
    expect((await auditOf(admin.id)).filter((r) => r.verb === 'fraud_previewed' && r.entity_id === action.id)).toHaveLength(1);
  });

  it('listing the wall (hidden entries and exact times are not public) is audited', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    await signer(action.slug, '192.0.2.79', 'Gulnora');
    const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/wall?actionId=${action.id}` });
    expect(res.statusCode).toBe(200);
    const entries = res.json().entries as { signatureId: string }[];
    expect(entries).toHaveLength(1);
    const looks = (await auditOf(campaigner.id)).filter((r) => r.verb === 'wall_listed' && r.entity_id === action.id);
    expect(looks).toHaveLength(1);
    expect(looks[0]!.entity).toBe('action');
    expect(looks[0]!.after).toEqual({ shown: [entries[0]!.signatureId] });
  });
});

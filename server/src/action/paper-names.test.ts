// Paper signers' names in the console: sealed in the database under the import's data key, shown
// to campaigners and admins (each look audited, promise 17), never to a viewer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createAction, createHarness, staffSession, type Harness } from '../testing/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const FILE = ['sheet,line,first_name,last_name,country', 'A,1,Imelda,Papernamecheck,PH', 'A,2,,,'].join('\n');

describe('paper signers’ names', () => {
  it('are sealed at rest, shown to campaigners with an audit entry, and never to a viewer', async () => {
    const fx = await createAction(h.db, { targets: [{ country: null, language: 'en' }] });
    const campaigner = await staffSession(h.db, 'CAMPAIGNER');
    const viewer = await staffSession(h.db, 'VIEWER');
    const preview = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: `/api/admin/actions/${fx.action.id}/paper-imports`,
      payload: { filename: 'stall.csv', event: 'Stall', collectedOn: '2026-11-28', consentVersion: 'v1', namesToOfficials: false, csv: FILE },
    });
    expect(preview.statusCode, preview.body).toBe(201);
    const importId = preview.json().id as string;

    // at rest: no name in clear in the row, nor in its name key
    const { rows } = await h.db.pool.query(`SELECT * FROM paper_signatures WHERE import_id = $1 ORDER BY seq`, [importId]);
    expect(JSON.stringify(rows)).not.toContain('Papernamecheck');
    expect(rows[0].name).toBeInstanceOf(Buffer);
    expect(rows[0].has_name).toBe(true);
    expect(rows[0].name_key).not.toContain('papernamecheck');
    expect(rows[1]).toMatchObject({ name: null, has_name: false, name_key: null });

    const audits = async () =>
      (await h.db.pool.query(`SELECT staff_id FROM audit_log WHERE verb = 'paper_names_viewed' AND entity_id = $1`, [fx.action.id])).rows.map((r) => r.staff_id);

    // a viewer sees the import and where its signatures are on paper, not who signed
    for (const url of [`/api/admin/actions/${fx.action.id}/paper-imports`, `/api/admin/paper-imports/${importId}`]) {
      const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain('Papernamecheck');
      const view = res.json().imports?.[0] ?? res.json();
      expect(view.sample.map((s: { sheet: string; line: number; firstName: string | null }) => [s.sheet, s.line, s.firstName])).toEqual([
        ['A', 1, null],
        ['A', 2, null],
      ]);
    }
    expect(await audits()).toEqual([]);

    // a campaigner sees the names, and the look is recorded
    const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/paper-imports/${importId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json().sample[0]).toMatchObject({ firstName: 'Imelda', lastName: 'Papernamecheck', country: 'PH' });
    expect(await audits()).toEqual([campaigner.id]);
  });
});

// A date far outside what PostgreSQL stores (the schemas accept any date JavaScript can hold) is
// the request's fault: a clear 422, never a 500, on every route that filters by date.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createAction, createHarness, staffSession, type Harness } from '../testing/harness.ts';

let h: Harness;
let admin: { cookie: string };
let actionId: string;
beforeAll(async () => {
  h = await createHarness();
  admin = await staffSession(h.db, 'ADMIN');
  actionId = (await createAction(h.db)).action.id;
});
afterAll(() => h.close());

describe('dates outside what the database stores', () => {
  for (const date of ['-004713-01-01', '-271821-04-20', '-100000-01-01T00:00:00Z']) {
    it(`${date}: 422 date_out_of_range on the audit log, export counts and fraud filters`, async () => {
      const q = encodeURIComponent(date);
      for (const url of [
        `/api/admin/audit?from=${q}`,
        `/api/admin/exports/count?kind=SIGNATURES&from=${q}`,
        `/api/admin/fraud/signatures?actionId=${actionId}&from=${q}`,
        `/api/admin/fraud/signatures?actionId=${actionId}&to=${q}`,
      ]) {
        const res = await asStaff(h.app, admin.cookie, { method: 'GET', url });
        expect(res.statusCode, url).toBe(422);
        expect(res.json(), url).toMatchObject({ code: 'date_out_of_range' });
      }
    });
  }
});

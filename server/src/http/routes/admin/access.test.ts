// Every staff-console API route refuses a stranger (401) and every role it does not list
// (403), and lets in the roles it lists. The list of routes is the one the server itself
// registered (adminRouteTable), so a new route is covered the moment it exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createHarness, staffSession, type Harness } from '../../../testing/harness.ts';
import { STAFF_ROLES, type StaffRole } from '../../../staff/staff.schema.ts';
import { adminRouteTable, type AdminRouteInfo } from './index.ts';

const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

/** The staff routes that predate /api/admin, with the roles they allow. */
const STAFF_ROUTES: AdminRouteInfo[] = [
  { method: 'GET', url: '/api/staff/me', roles: STAFF_ROLES },
  { method: 'POST', url: '/api/staff/me/totp/setup', roles: STAFF_ROLES },
  { method: 'POST', url: '/api/staff/me/totp/confirm', roles: STAFF_ROLES },
  { method: 'GET', url: '/api/staff/users', roles: ['ADMIN'] },
  { method: 'POST', url: '/api/staff/users', roles: ['ADMIN'] },
  { method: 'POST', url: '/api/staff/users/:id/disable', roles: ['ADMIN'] },
  { method: 'POST', url: '/api/staff/users/:id/enable', roles: ['ADMIN'] },
  { method: 'POST', url: '/api/staff/users/:id/reset-password', roles: ['ADMIN'] },
];

let h: Harness;
const cookies = {} as Record<StaffRole, string>;

beforeAll(async () => {
  h = await createHarness();
  for (const role of STAFF_ROLES) cookies[role] = (await staffSession(h.db, role)).cookie;
});
afterAll(async () => h?.close());

function concrete(url: string): string {
  return url.replace(/:[A-Za-z]+/g, SAMPLE_ID);
}

function routes(): AdminRouteInfo[] {
  return [...adminRouteTable(), ...STAFF_ROUTES];
}

describe('staff console API access', () => {
  it('has routes under /api/admin, each declaring its roles', () => {
    const table = adminRouteTable();
    expect(table.length).toBeGreaterThan(0);
    for (const r of table) {
      expect(r.url.startsWith('/api/admin/'), r.url).toBe(true);
      expect(r.roles.length, `${r.method} ${r.url}`).toBeGreaterThan(0);
    }
  });

  it('refuses every route without a session: 401 unauthenticated', async () => {
    for (const r of routes()) {
      const res = await asStaff(h.app, null, { method: r.method as 'GET', url: concrete(r.url), payload: r.method === 'GET' ? undefined : {} });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(res.json().code).toBe('unauthenticated');
    }
  });

  it('refuses a forged or expired session cookie: 401', async () => {
    for (const r of routes()) {
      const res = await asStaff(h.app, `chorus_staff=${'A'.repeat(43)}`, { method: r.method as 'GET', url: concrete(r.url), payload: r.method === 'GET' ? undefined : {} });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
    }
  });

  for (const role of STAFF_ROLES) {
    it(`answers a ${role.toLowerCase()} as each route's roles say`, async () => {
      for (const r of routes()) {
        const res = await asStaff(h.app, cookies[role], { method: r.method as 'GET', url: concrete(r.url), payload: r.method === 'GET' ? undefined : {} });
        const label = `${role} ${r.method} ${r.url} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (r.roles.includes(role)) {
          expect(res.statusCode, label).not.toBe(401);
          expect(res.statusCode === 403 && res.json().code === 'forbidden', label).toBe(false);
          expect(res.statusCode, label).toBeLessThan(500);
        } else {
          expect(res.statusCode, label).toBe(403);
          expect(res.json().code, label).toBe('forbidden');
        }
      }
    });
  }

  it('refuses state changes without the CSRF header or a same-origin Origin, even with a session', async () => {
    for (const r of routes().filter((x) => x.method !== 'GET')) {
      const res = await h.app.inject({ method: r.method as 'POST', url: concrete(r.url), headers: { cookie: cookies.ADMIN, origin: 'https://evil.example' }, payload: {} });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(403);
      expect(res.json().code).toBe('csrf');
    }
  });
});

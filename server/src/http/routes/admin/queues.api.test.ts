// The queue view against real Redis (BullMQ) and PostgreSQL: a delayed letter job shows with
// its letter id and due time; pause and resume act on the queue and are audited.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createHarness, staffSession, type Harness } from '../../../testing/harness.ts';

let h: Harness;
let admin: { id: string; cookie: string };

beforeAll(async () => {
  h = await createHarness();
  admin = await staffSession(h.db, 'ADMIN');
});
afterAll(async () => {
  await h.queues.delivery.resume();
  await h?.close();
});

describe('queue view', () => {
  it('shows each queue with counts and its latest jobs, ids only, and what the database owes', async () => {
    const letterId = randomUUID();
    await h.queues.enqueueLetters([{ id: letterId, attempts: 0, delayMs: 3_600_000 }]);
    try {
      const res = await asStaff(h.app, admin.cookie, { method: 'GET', url: '/api/admin/queues' });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.queues.map((q: { name: string }) => q.name)).toEqual(['chorus-mail', 'chorus-delivery']);
      const delivery = body.queues[1];
      expect(delivery.counts.delayed).toBeGreaterThanOrEqual(1);
      const job = delivery.jobs.find((j: { id: string }) => j.id === `letter-${letterId}-0`);
      expect(job).toMatchObject({ state: 'delayed', name: 'letter', data: { letterId } });
      expect(new Date(job.runAt).getTime()).toBeGreaterThan(Date.now() + 3_500_000);
      expect(body.owed).toEqual({ confirmations: expect.any(Number), letters: expect.any(Number), lettersDue: expect.any(Number) });
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await h.queues.delivery.remove(`letter-${letterId}-0`);
    }
  });

  it('pauses and resumes a queue, audited; an unknown queue is 404 and a bad name 422', async () => {
    const paused = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/queues/chorus-delivery/pause' });
    expect(paused.statusCode, paused.body).toBe(200);
    expect(await h.queues.delivery.isPaused()).toBe(true);
    const resumed = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/queues/chorus-delivery/resume' });
    expect(resumed.json()).toEqual({ name: 'chorus-delivery', paused: false });
    expect(await h.queues.delivery.isPaused()).toBe(false);
    const { rows } = await h.db.pool.query(`SELECT verb, staff_id FROM audit_log WHERE entity = 'queue' AND staff_id = $1 ORDER BY id`, [admin.id]);
    expect(rows.map((r) => r.verb)).toEqual(['queue_paused', 'queue_resumed']);

    expect((await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/queues/chorus-nothing/pause' })).statusCode).toBe(404);
    const bad = await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/queues/${encodeURIComponent('../../x')}/pause` });
    expect([404, 422]).toContain(bad.statusCode);
    expect((await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/queues/${'a'.repeat(500)}/pause` })).statusCode).toBe(422);
  });
});

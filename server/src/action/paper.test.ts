// Paper signatures against the real database and a real SMTP server: a CSV checked line by line
// and kept as a preview that counts nowhere; counting it adds to the public count, apart, and
// sends it to the officials in a delivery of its own, named only where the paper form asked;
// repeats within and across imports are left out; withdrawing takes them out of the count and
// of the packets; every step is audited; hostile input is refused with what is wrong.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { deliverLetter, renderLetter } from '../letter/letter.service.ts';
import { packetToken, viewPacket } from '../delivery/packet.service.ts';
import { asStaff, createAction, createHarness, letterConfig, staffSession, startTestMail, type Harness } from '../testing/harness.ts';

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
beforeEach(() => mailbox.clear());

const FILE = [
  'sheet,line,first_name,last_name,country',
  'A,1,Maria,Santos,PH',
  'A,2,,,',
  'A,3,José,Rizal,PH',
  'A,2,Someone,Else,PH', // the same place on paper as line 3 of the file: a repeat
  'B,1,maria,SANTOS,ph', // the same name and country as the first: a repeat
  'B,2,Ana,López,MX',
].join('\n');

describe('paper signatures', () => {
  it('are previewed, counted apart, carried to the officials named only as the paper form allows, deduplicated and withdrawn', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, { targets: [{ country: 'PH', language: 'en' }, { country: null, language: 'en' }] });
    const [philippines, un] = fx.targets as [(typeof fx.targets)[0], (typeof fx.targets)[0]];
    const post = (url: string, payload?: Record<string, unknown>) => asStaff(h.app, staff.cookie, { method: 'POST', url, payload });
    const publicCount = async () => {
      await h.cache.refresh();
      const a = (await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json();
      return { count: a.count, paperCount: a.paperCount };
    };

    const preview = await post(`/api/admin/actions/${fx.action.id}/paper-imports`, {
      filename: 'manila-march.csv',
      event: 'March in Manila',
      collectedOn: '2026-11-28',
      consentVersion: 'paper form 2026-11 v2',
      namesToOfficials: true,
      csv: FILE,
    });
    expect(preview.statusCode, preview.body).toBe(201);
    expect(preview.json()).toMatchObject({ status: 'PREVIEW', rows: 6, repeats: 2, willCount: 4, counted: 0, event: 'March in Manila', collectedOn: '2026-11-28' });
    expect(preview.json().sample.filter((r: { duplicate: boolean }) => r.duplicate).map((r: { sheet: string; line: number }) => `${r.sheet}/${r.line}`).sort()).toEqual(['A/2', 'B/1']);
    // a preview counts nowhere
    expect(await publicCount()).toEqual({ count: 0, paperCount: 0 });

    const id = preview.json().id;
    const counted = await post(`/api/admin/paper-imports/${id}/count`);
    expect(counted.statusCode, counted.body).toBe(200);
    expect(counted.json()).toMatchObject({ status: 'COUNTED', counted: 4 });
    expect(await publicCount()).toEqual({ count: 4, paperCount: 4 });
    // counted once only
    expect((await post(`/api/admin/paper-imports/${id}/count`)).statusCode).toBe(409);
    // the names on paper are stored only sealed (under the import's data key), the name key keyed
    const { rows: stored } = await h.db.pool.query(`SELECT name, has_name, name_key, first_name_clear, last_name_clear FROM paper_signatures WHERE import_id = $1`, [id]);
    expect(stored).toHaveLength(6);
    for (const r of stored) {
      expect(r).toMatchObject({ first_name_clear: null, last_name_clear: null });
      expect(r.has_name).toBe(r.name !== null);
      if (r.name) for (const clear of ['Maria', 'Santos', 'José', 'Rizal', 'López']) expect((r.name as Buffer).includes(Buffer.from(clear))).toBe(false);
      // a keyed hash (43 characters of base64url), not the name
      if (r.name_key) expect(r.name_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(stored.filter((r) => r.has_name)).toHaveLength(5);

    // a delivery of their own: a letter to each target, saying where and when
    const { rows: letters } = await h.db.pool.query<{ id: string; target_id: string; signature_count: number }>(
      `SELECT l.id, l.target_id, l.signature_count FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1 AND b.reason = 'paper'`,
      [fx.action.id],
    );
    expect(letters.map((l) => l.signature_count)).toEqual([4, 4]);
    await h.db.pool.query(`UPDATE letters SET next_attempt_at = now() WHERE id = ANY($1::uuid[])`, [letters.map((l) => l.id)]);
    const letterDeps = { pool: h.db.pool, mailer, mailFrom: 'Chorus <actions@chorus.example.org>', organisation: 'Chorus Test', staleSubmittingMs: 60_000, clock: () => new Date(), queues: { enqueueLetters: async () => {} }, ...letterConfig(h) };
    for (const l of letters) expect(await deliverLetter(letterDeps, l.id)).toBe('sent');
    const toUn = mailbox.messages().find((m) => m.envelope.to.includes(un.email))!;
    const toPhilippines = mailbox.messages().find((m) => m.envelope.to.includes(philippines.email))!;
    // 4 is fewer than the public country minimum: where and when they signed could point at them, and is not said
    expect(letterConfig(h).countryMin).toBeGreaterThan(4);
    expect(toUn.text).toContain('4 people signed this request on paper.');
    expect(toUn.text).not.toContain('March in Manila');
    // a group as large as the minimum is told where and when
    const unId = letters.find((l) => l.target_id === un.id)!.id;
    const told = await renderLetter(h.db.pool, unId, 'Chorus Test', { secret: h.secret, publicBaseUrl: 'http://chorus.test', countryMin: 4 });
    expect(told!.mail.text).toContain('4 people signed this request on paper (March in Manila, November 28, 2026).');
    // but never to the officials of a country the signers are from: it would locate them
    const phId = letters.find((l) => l.target_id === philippines.id)!.id;
    const untold = await renderLetter(h.db.pool, phId, 'Chorus Test', { secret: h.secret, publicBaseUrl: 'http://chorus.test', countryMin: 4 });
    expect(untold!.mail.text).toContain('4 people signed this request on paper.');
    expect(untold!.mail.text).not.toContain('March in Manila');
    // names where the paper form asked: to the UN, but never to the officials of the signers' own country
    expect(toUn.text).toContain('Maria Santos');
    expect(toUn.text).toContain('José Rizal');
    expect(toPhilippines.text).not.toContain('Maria Santos');
    expect(toPhilippines.text).toContain('Ana López');

    // the packets list them the same way
    const packetDeps = { pool: h.db.pool, secret: h.secret, clock: () => new Date(), countryMin: 1 };
    const unLetter = letters.find((l) => l.target_id === un.id)!;
    const phLetter = letters.find((l) => l.target_id === philippines.id)!;
    const unPacket = await viewPacket(packetDeps, packetToken(h.secret, unLetter.id, new Date()));
    expect(unPacket.signers.map((s) => s.name ?? '(unnamed)').sort()).toEqual(['(unnamed)', 'Ana López', 'José Rizal', 'Maria Santos']);
    expect(unPacket.signers.every((s) => s.confirmedAt === '2026-11-28')).toBe(true);
    const phPacket = await viewPacket(packetDeps, packetToken(h.secret, phLetter.id, new Date()));
    expect(phPacket.signers.map((s) => s.name).filter(Boolean)).toEqual(['Ana López']);

    // a second file repeating counted lines: only the new one counts
    const second = await post(`/api/admin/actions/${fx.action.id}/paper-imports`, {
      event: 'Concert',
      collectedOn: '2026-11-30',
      consentVersion: 'paper form 2026-11 v2',
      namesToOfficials: false,
      csv: 'sheet,line,first_name,last_name,country\nA,1,,,\nC,1,Jose,Rizal,PH\nC,2,Liza,Cruz,PH\n',
    });
    expect(second.json()).toMatchObject({ rows: 3, repeats: 2, willCount: 1 });
    await post(`/api/admin/paper-imports/${second.json().id}/count`);
    expect(await publicCount()).toEqual({ count: 5, paperCount: 5 });
    // a form that did not ask: no name goes to any official
    const { rows: secondLetters } = await h.db.pool.query<{ id: string }>(`SELECT l.id FROM letters l JOIN paper_imports i ON i.batch_id = l.batch_id WHERE i.id = $1`, [second.json().id]);
    const secondPacket = await viewPacket(packetDeps, packetToken(h.secret, secondLetters[0]!.id, new Date()));
    expect(secondPacket.signers.map((s) => s.name)).toEqual([null]);

    // a signer whose country the paper does not say may be of any country: named to the UN, never to a government
    const third = await post(`/api/admin/actions/${fx.action.id}/paper-imports`, {
      event: 'Vigil',
      collectedOn: '2026-11-30',
      consentVersion: 'paper form 2026-11 v2',
      namesToOfficials: true,
      csv: 'sheet,line,first_name,last_name,country\nD,1,Rosa,Reyes,\n',
    });
    await post(`/api/admin/paper-imports/${third.json().id}/count`);
    expect(await publicCount()).toEqual({ count: 6, paperCount: 6 });
    const { rows: thirdLetters } = await h.db.pool.query<{ id: string; target_id: string; status: string }>(
      `SELECT l.id, l.target_id, l.status FROM letters l JOIN paper_imports i ON i.batch_id = l.batch_id WHERE i.id = $1`,
      [third.json().id],
    );
    const named = async (targetId: string) => (await viewPacket(packetDeps, packetToken(h.secret, thirdLetters.find((l) => l.target_id === targetId)!.id, new Date()))).signers.map((s) => s.name);
    expect(await named(un.id)).toEqual(['Rosa Reyes']);
    expect(await named(philippines.id)).toEqual([null]);
    // withdrawn before its letters went: they are not sent, and the delivery is gone
    expect(thirdLetters.map((l) => l.status)).toEqual(['PENDING', 'PENDING']);
    await post(`/api/admin/paper-imports/${third.json().id}/withdraw`);
    const { rows: gone } = await h.db.pool.query(`SELECT 1 FROM letters WHERE id = ANY($1::uuid[])`, [thirdLetters.map((l) => l.id)]);
    expect(gone).toEqual([]);
    expect(await deliverLetter(letterDeps, thirdLetters[0]!.id)).toBe('not-owed');
    expect(await publicCount()).toEqual({ count: 5, paperCount: 5 });

    // withdrawn: out of the count and of the packets
    const withdrawn = await post(`/api/admin/paper-imports/${id}/withdraw`);
    expect(withdrawn.json()).toMatchObject({ status: 'WITHDRAWN' });
    expect(await publicCount()).toEqual({ count: 1, paperCount: 1 });
    expect((await viewPacket(packetDeps, packetToken(h.secret, unLetter.id, new Date()))).signers).toEqual([]);
    expect((await post(`/api/admin/paper-imports/${id}/withdraw`)).json().status).toBe('WITHDRAWN');
    expect(await publicCount()).toEqual({ count: 1, paperCount: 1 });

    const { rows: audit } = await h.db.pool.query(`SELECT verb FROM audit_log WHERE entity_id = $1 ORDER BY id`, [fx.action.id]);
    expect(audit.map((r) => r.verb)).toEqual(['paper_previewed', 'paper_counted', 'paper_previewed', 'paper_counted', 'paper_previewed', 'paper_counted', 'paper_withdrawn', 'paper_withdrawn']);
  });

  it('reports every bad line of a file, stores nothing, and refuses bad settings and unknown imports', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, {});
    const url = `/api/admin/actions/${fx.action.id}/paper-imports`;
    const base = { event: 'Stall', collectedOn: '2026-11-01', consentVersion: 'v1', csv: 'sheet,line\nA,1\n' };
    const post = (payload: Record<string, unknown>) => asStaff(h.app, staff.cookie, { method: 'POST', url, payload });

    const bad = await post({ ...base, csv: 'sheet,line,first_name,country\nA,1,Ana,MX\nA,zero,Ana,MX\n,3,Bo,PH\nA,4,<b>x</b>,PH\nA,5,Li,XX\nA,0x10,Li,PH\nA,7,Sam\u061c 12 34,PH\nA,8,\u3164,PH\nA,9,Li,ZZ\n' });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('csv_invalid');
    // a number in digits only; a name without characters that reorder or hide text (the Arabic letter mark, fillers); a country the sign form knows
    expect(bad.json().issues.map((i: { path: string }) => i.path)).toEqual(['line 3: line', 'line 4: sheet', 'line 5: first_name', 'line 6: country', 'line 7: line', 'line 8: first_name', 'line 9: first_name', 'line 10: country']);
    for (const payload of [
      { ...base, csv: 'name,email\nA,b\n' },
      { ...base, csv: 'sheet,line,line\nA,1,2\n' },
      { ...base, csv: 'sheet,line,__proto__\nA,1,x\n' },
      { ...base, filename: 'a\u0000b.csv' },
      { ...base, filename: 'evil\u202egnp.csv' },
      { ...base, csv: 'sheet,line\n' },
      { ...base, csv: '\u0000\u0001\u0002' },
      { ...base, csv: 'sheet,line\n"A,1\n' },
      { ...base, csv: `sheet,line\n${Array.from({ length: 10_001 }, (_, i) => `S,${i + 1}`).join('\n')}` },
      { ...base, collectedOn: '2999-01-01' },
      { ...base, collectedOn: '1999-12-31' },
      { ...base, collectedOn: '28/11/2026' },
      { ...base, event: '' },
      { ...base, consentVersion: 'x'.repeat(101) },
      { ...base, namesToOfficials: 'yes' },
      { ...base, extra: 1 },
      { ...base, csv: 42 },
    ]) {
      const res = await post(payload);
      expect([400, 422], JSON.stringify(payload).slice(0, 100)).toContain(res.statusCode);
      expect(res.json().message).toBeTruthy();
    }
    const { rows } = await h.db.pool.query(`SELECT count(*)::int AS n FROM paper_imports WHERE action_id = $1`, [fx.action.id]);
    expect(rows[0].n).toBe(0);
    for (const id of ['nope', '00000000-0000-4000-8000-000000000000']) {
      const res = await asStaff(h.app, staff.cookie, { method: 'POST', url: `/api/admin/paper-imports/${id}/count` });
      expect([404, 422]).toContain(res.statusCode);
    }
    const viewer = await staffSession(h.db, 'VIEWER');
    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url, payload: base })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });
});

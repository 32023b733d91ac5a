// Seeds the demo campaign. Safe to run again: rows that exist (by slug) are left as they
// are, so staff edits to the demo survive a restart.
import { createDb } from '../server/src/db/db.ts';
import { prismaOn } from '../server/src/db/prisma.ts';
import { createStaff } from '../server/src/staff/staff.service.ts';
import type pg from 'pg';
import { nextOfficeOpening } from '../server/src/delivery/office-hours.ts';
import { batchLeaves, commitBatch } from '../server/src/delivery/delivery-roots.ts';
import { actions, campaign, targets } from './seed-data.ts';
import { countPaperImport, previewPaperImport } from '../server/src/action/paper.service.ts';
import { publishUpdate } from '../server/src/action/update.service.ts';
import { newSealedReceipt, newSealedSupporter } from '../server/src/privacy/sealed-rows.ts';
import { unwrapDataKey } from '../server/src/privacy/personal-data.ts';

/** The demo admin (no two-step sign-in). Change its password on any shared machine. */
export const DEMO_ADMIN = { email: 'admin@chorus.example.org', name: 'Demo Admin', password: 'chorus-demo-admin' } as const;

export async function seed(databaseUrl: string): Promise<{ created: number }> {
  const db = createDb(databaseUrl, { max: 2, applicationName: 'chorus-seed' });
  const prisma = prismaOn(db.pool);
  let created = 0;
  try {
    const c = await prisma.campaign.upsert({ where: { slug: campaign.slug }, update: {}, create: { slug: campaign.slug } });
    await prisma.campaignText.createMany({
      data: Object.entries(campaign.texts).map(([locale, t]) => ({ campaignId: c.id, locale, ...t })),
      skipDuplicates: true,
    });

    const targetIds = new Map<string, string>();
    for (const t of targets) {
      const existing = await prisma.target.findUnique({ where: { slug: t.slug } });
      const row = existing ?? (await prisma.target.create({ data: { ...t, lastVerifiedAt: new Date('2026-10-01T00:00:00Z') } }));
      if (!existing) created++;
      // a directory seeded before targets had names per language gets them (staff's own are kept)
      else if (JSON.stringify(existing.names) === '{}' && !existing.nameIsOfficial) {
        await prisma.target.update({ where: { id: existing.id }, data: { names: t.names, nameIsOfficial: t.nameIsOfficial ?? false } });
      }
      targetIds.set(t.slug, row.id);
    }

    for (const a of actions) {
      if (await prisma.action.findUnique({ where: { slug: a.slug } })) continue;
      created++;
      await prisma.action.create({
        data: {
          slug: a.slug,
          kind: a.kind,
          status: 'PUBLISHED',
          goal: a.goal,
          milestones: a.milestones,
          defaultLocale: a.defaultLocale,
          allowPersonalisation: a.allowPersonalisation ?? false,
          // demo deliveries go out as soon as the batcher sees a confirmation, but for the actions
          // whose signers live under the government they write to (seed-data.ts)
          deliveryPolicy: a.deliveryPolicy ?? 'IMMEDIATE',
          replyTo: 'campaigns@chorus.example.org',
          publishedAt: new Date(),
          campaign: { connect: { id: c.id } },
          texts: {
            create: Object.entries(a.texts).map(([locale, t]) => ({
              locale,
              title: t.title,
              summary: t.summary,
              body: t.body,
              letterSubject: t.letterSubject ?? '',
              officialRequest: t.officialRequest,
              shareText: t.shareText ?? '',
            })),
          },
          targets: { create: a.targetSlugs.map((slug, position) => ({ targetId: targetIds.get(slug)!, position })) },
          stats: { create: { confirmedCount: 0 } },
        },
      });
    }

    created += await seedDemoDelivery(db.pool);
    created += await seedDemoThresholds(db.pool);

    if (!(await prisma.staffUser.findUnique({ where: { email: DEMO_ADMIN.email } }))) {
      // a seed running at the same time may have made it first (email_taken): that is fine
      const made = await createStaff({ pool: db.pool, clock: () => new Date() }, null, { ...DEMO_ADMIN, role: 'ADMIN' }).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'email_taken') return null;
        throw err;
      });
      if (made) created++;
    }
    created += await seedDemoPaper(db.pool);
    created += await seedDemoUpdate(db.pool);
  } finally {
    await db.close();
  }
  return { created };
}

/** The demo's daily digest action, delivered once to its officials, with one published answer. */
export const DEMO_DIGEST_ACTION = 'lawyers-and-doctors-in-detention';
// fixed ids: what makes the demo delivery a one-time step that a second run recognises
const DEMO_BATCH = '0d3e0000-0000-4000-8000-00000000d1a1';
const DEMO_ANSWER = '0d3e0000-0000-4000-8000-00000000a001';
const DEMO_PENDING_ANSWER = '0d3e0000-0000-4000-8000-00000000a002';
const DEMO_SIGNERS = [
  { email: 'demo.amina@example.org', first: 'Amina', last: 'Diallo', country: 'SN', locale: 'fr', named: true, contact: true },
  { email: 'demo.lucia@example.org', first: 'Lucía', last: 'Romero', country: 'AR', locale: 'es', named: true, contact: true },
  { email: 'demo.oleg@example.org', first: 'Oleg', last: 'Petrov', country: 'KZ', locale: 'ru', named: false, contact: false },
  { email: 'demo.sarah@example.org', first: 'Sarah', last: 'Jones', country: 'GB', locale: 'en', named: true, contact: true },
];

/**
 * One-time demo of the delivery engine on DEMO_DIGEST_ACTION: the action is switched to a
 * daily digest, four demo signers are confirmed, and yesterday's digest is recorded as
 * accepted by each official's mail server at the opening of their office hours. The UN
 * Special Rapporteur opened the packet and answered; the answer is published (its emails
 * recorded as sent to the two signers who opted in). A second answer awaits review.
 * Nothing here is sent: it is the record of a delivery, so `npm start` shows the ledger,
 * the console's deliveries and answers pages, and the answer on the public page at once.
 * Done only when the demo batch does not exist yet, so staff changes to the action survive.
 */
async function seedDemoDelivery(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: actionRows } = await client.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1 FOR UPDATE`, [DEMO_DIGEST_ACTION]);
    const action = actionRows[0];
    const exists = await client.query(`SELECT 1 FROM delivery_batches WHERE id = $1`, [DEMO_BATCH]);
    if (!action || exists.rows.length > 0) {
      await client.query('ROLLBACK');
      return 0;
    }
    let created = 0;
    const now = Date.now();
    await client.query(`UPDATE actions SET delivery_policy = 'DAILY_DIGEST' WHERE id = $1`, [action.id]);
    const { rows: targetRows } = await client.query<{ id: string; slug: string; timezone: string; office_opens_at: number; office_closes_at: number }>(
      `SELECT t.id, t.slug, t.timezone, t.office_opens_at, t.office_closes_at FROM action_targets at JOIN targets t ON t.id = at.target_id
       WHERE at.action_id = $1 ORDER BY at.position`,
      [action.id],
    );
    // yesterday's digest, or the last one before it whose letters all reached their officials
    // at an opening in the past, a day before now at least: the answer that followed (a day
    // later at most) is then in the past too, whatever day of the week the seed runs on
    const openingAfter = (at: Date, t: (typeof targetRows)[number]) => nextOfficeOpening(at, { timezone: t.timezone, opensAt: t.office_opens_at, closesAt: t.office_closes_at });
    let batchAt = new Date(now - 48 * 3_600_000);
    while (targetRows.some((t) => openingAfter(batchAt, t).getTime() > now - 30 * 3_600_000)) batchAt = new Date(batchAt.getTime() - 24 * 3_600_000);
    const confirmedAt = new Date(batchAt.getTime() - 12 * 3_600_000);
    const signatureIds: string[] = [];
    for (const p of DEMO_SIGNERS) {
      // sealed as the signature writer seals them: a data key of their own, the address and name under it
      const sealed = newSealedSupporter(p.email, p.first, p.last);
      const sup = await client.query<{ id: string; data_key: Buffer }>(
        `INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, name, country, locale) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (email_index) DO UPDATE SET email_index = EXCLUDED.email_index RETURNING id, data_key`,
        [sealed.id, sealed.email_index, sealed.email_domain_index, sealed.data_key, sealed.email, sealed.name, p.country, p.locale],
      );
      const supporterId = sup.rows[0]!.id;
      const receipt = newSealedReceipt(unwrapDataKey('supporter', supporterId, sup.rows[0]!.data_key), supporterId);
      const sig = await client.query<{ id: string }>(
        `INSERT INTO signatures (action_id, supporter_id, status, country, locale, named_disclosure, confirmed_at, source, receipt_leaf, receipt_sealed, created_at)
         VALUES ($1, $2, 'CONFIRMED', $3, $4, $5, $6, 'demo', $7, $8, $6::timestamptz - interval '10 minutes')
         ON CONFLICT (action_id, supporter_id) WHERE confirmed_at IS NOT NULL DO NOTHING RETURNING id`,
        [action.id, supporterId, p.country, p.locale, p.named, confirmedAt, receipt.receipt_leaf, receipt.receipt_sealed],
      );
      if (!sig.rows[0]) continue;
      created++;
      signatureIds.push(sig.rows[0].id);
      await client.query(
        `INSERT INTO consents (signature_id, supporter_id, named_disclosure, named_to_own_country, public_wall, contact, wording_version, created_at)
         VALUES ($1, $2, $3, false, false, $4, 'demo-seed', $5)`,
        [sig.rows[0].id, sup.rows[0]!.id, p.named, p.contact, confirmedAt],
      );
    }
    const total = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM signatures WHERE action_id = $1 AND status = 'CONFIRMED'`, [action.id]);
    await client.query(
      `INSERT INTO delivery_batches (id, action_id, reason, signature_count, total_count, created_at) VALUES ($1, $2, 'daily_digest', $3, $4, $5)`,
      [DEMO_BATCH, action.id, signatureIds.length, Math.max(total.rows[0]!.n, signatureIds.length), batchAt],
    );
    await client.query(`UPDATE signatures SET batch_id = $1 WHERE id = ANY($2::uuid[])`, [DEMO_BATCH, signatureIds]);
    // committed to its signatures' receipts as the batcher commits every delivery (delivery-roots.ts)
    await commitBatch(client, action.id, DEMO_BATCH, await batchLeaves(client, DEMO_BATCH));
    created++;
    let unLetter: { id: string; targetId: string; sentAt: Date } | null = null;
    let otherLetter: { id: string; targetId: string; sentAt: Date } | null = null;
    for (const [i, t] of targetRows.entries()) {
      // the digest reached each official at the opening of their office hours
      const sentAt = openingAfter(batchAt, t);
      const id = `0d3e0000-0000-4000-8000-0000000010${String(i).padStart(2, '0')}`;
      await client.query(
        `INSERT INTO letters (id, batch_id, target_id, status, signature_count, locale, message_id, attempts, next_attempt_at, submitting_at, sent_at, smtp_response, opened_at, created_at)
         VALUES ($1, $2, $3, 'SENT', $4, 'en', $5, 1, $6, $6, $6, '250 2.0.0 Ok: queued (demo)', $7, $8)`,
        [id, DEMO_BATCH, t.id, signatureIds.length, `<letter.${id}@chorus.example.org>`, sentAt, t.slug === 'un-sr-torture' ? new Date(sentAt.getTime() + 3_600_000) : null, batchAt],
      );
      created++;
      if (t.slug === 'un-sr-torture') unLetter = { id, targetId: t.id, sentAt };
      else if (!otherLetter) otherLetter = { id, targetId: t.id, sentAt };
    }
    if (unLetter) {
      const received = new Date(unLetter.sentAt.getTime() + 5 * 3_600_000);
      await client.query(
        `INSERT INTO answers (id, action_id, target_id, letter_id, status, body, public_summary, received_at, published_at, reviewed_at)
         VALUES ($1, $2, $3, $4, 'PUBLISHED', $5, $6, $7, $8, $8)`,
        [
          DEMO_ANSWER,
          action.id,
          unLetter.targetId,
          unLetter.id,
          'Thank you for your letter. The Special Rapporteur has taken note of the concerns raised about access to lawyers and independent doctors in detention, and will raise them with the States concerned in the communications procedure.',
          'The Special Rapporteur has taken note of the concerns and will raise them with the States concerned.',
          received,
          new Date(received.getTime() + 3_600_000),
        ],
      );
      // the "an official answered" emails, recorded as sent to the signers who opted in
      await client.query(
        `INSERT INTO answer_notifications (answer_id, supporter_id, locale, requested_at, sent_at)
         SELECT $1, s.supporter_id, s.locale, $2, $2 FROM signatures s JOIN consents c ON c.signature_id = s.id AND c.contact
         WHERE s.id = ANY($3::uuid[]) ON CONFLICT DO NOTHING`,
        [DEMO_ANSWER, new Date(received.getTime() + 3_600_000), signatureIds],
      );
      created++;
    }
    if (otherLetter) {
      await client.query(
        `INSERT INTO answers (id, action_id, target_id, letter_id, status, body, received_at) VALUES ($1, $2, $3, $4, 'RECEIVED', $5, $6)`,
        [
          DEMO_PENDING_ANSWER,
          action.id,
          otherLetter.targetId,
          otherLetter.id,
          // an acknowledgement of receipt, as the packet page marks one: not an answer (the clock of a threshold goes on)
          '[acknowledgement of receipt]\n\nWe acknowledge receipt of your letter and will reply in due course.',
          new Date(otherLetter.sentAt.getTime() + 20 * 3_600_000),
        ],
      );
      created++;
    }
    await client.query('COMMIT');
    return created;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** The demo's action with paper signatures. */
export const DEMO_PAPER_ACTION = 'philippines-enforce-anti-torture-law';

/**
 * Paper signatures on DEMO_PAPER_ACTION: 120 collected at a stall a week ago, some named (the
 * paper form asked whether names may go to the officials), previewed and counted by the demo
 * admin through the same code as the console. Counting writes their delivery, which the workers
 * send to the two Philippine officials (the demo mailbox shows the letters). Once only.
 */
async function seedDemoPaper(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ id: string; imports: number }>(
    `SELECT a.id, (SELECT count(*)::int FROM paper_imports i WHERE i.action_id = a.id) AS imports FROM actions a WHERE a.slug = $1`,
    [DEMO_PAPER_ACTION],
  );
  const admin = await pool.query<{ id: string }>(`SELECT id FROM staff_users WHERE email = $1`, [DEMO_ADMIN.email]);
  if (!rows[0] || rows[0].imports > 0 || !admin.rows[0]) return 0;
  const firsts = ['Maria', 'Jose', 'Ana', 'Ramon', 'Liza', 'Paolo', 'Grace', 'Mark', 'Joy', 'Carlo'];
  const lasts = ['Santos', 'Reyes', 'Cruz', 'Bautista', 'Garcia', 'Mendoza', 'Villanueva', 'Aquino', 'Ramos', 'Dela Cruz'];
  const lines = ['sheet,line,first_name,last_name,country'];
  for (let i = 0; i < 120; i++) {
    // a third of the signers gave their name (each a different one); the others only their country
    const k = i / 3;
    const named = i % 3 === 0;
    lines.push(`S${Math.floor(i / 20) + 1},${(i % 20) + 1},${named ? firsts[k % 10] : ''},${named ? lasts[(k + Math.floor(k / 10)) % 10] : ''},PH`);
  }
  const collectedOn = new Date(Date.now() - 8 * 86_400_000).toISOString().slice(0, 10);
  const deps = { pool, clock: () => new Date(), mailDomain: 'chorus.example.org' };
  const preview = await previewPaperImport(deps, admin.rows[0].id, rows[0].id, {
    filename: 'quezon-city-stall.csv',
    event: 'Human Rights Day stall, Quezon City',
    collectedOn,
    consentVersion: 'paper form 2026-11, version 2',
    namesToOfficials: true,
    csv: lines.join('\n'),
  });
  await countPaperImport(deps, admin.rows[0].id, preview.id);
  return 1;
}

/**
 * A case update on DEMO_DIGEST_ACTION, published by the demo admin through the same code as the
 * console: shown on the page, and emailed by the workers to the demo signers who opted in (the
 * demo mailbox shows it in French, Spanish and English). Once only.
 */
async function seedDemoUpdate(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ id: string; updates: number }>(
    `SELECT a.id, (SELECT count(*)::int FROM action_updates u WHERE u.action_id = a.id) AS updates FROM actions a WHERE a.slug = $1`,
    [DEMO_DIGEST_ACTION],
  );
  const admin = await pool.query<{ id: string }>(`SELECT id FROM staff_users WHERE email = $1`, [DEMO_ADMIN.email]);
  if (!rows[0] || rows[0].updates > 0 || !admin.rows[0]) return 0;
  await publishUpdate({ pool, clock: () => new Date() }, admin.rows[0].id, rows[0].id, {
    texts: {
      en: {
        title: 'Your letters were read: the UN will raise access to lawyers and doctors',
        body: 'After your letters, the UN Special Rapporteur on torture told us he will raise access to lawyers and independent doctors in detention with the States concerned.\n\nWe will keep writing until everyone detained can see a lawyer and an independent doctor from the first hour.',
      },
      es: {
        title: 'Tus cartas fueron leídas: la ONU planteará el acceso a abogados y médicos',
        body: 'Tras tus cartas, el Relator Especial de la ONU sobre la tortura nos dijo que planteará a los Estados concernidos el acceso a abogados y a médicos independientes en la detención.\n\nSeguiremos escribiendo hasta que toda persona detenida pueda ver a un abogado y a un médico independiente desde la primera hora.',
      },
      fr: {
        title: 'Vos lettres ont été lues : l’ONU soulèvera l’accès aux avocats et aux médecins',
        body: 'Après vos lettres, le Rapporteur spécial des Nations unies sur la torture nous a dit qu’il soulèvera auprès des États concernés l’accès aux avocats et à des médecins indépendants en détention.\n\nNous continuerons d’écrire jusqu’à ce que toute personne détenue puisse voir un avocat et un médecin indépendant dès la première heure.',
      },
      ru: {
        title: 'Ваши письма прочитаны: ООН поднимет вопрос о доступе к адвокатам и врачам',
        body: 'После ваших писем специальный докладчик ООН по вопросу о пытках сообщил нам, что поднимет перед соответствующими государствами вопрос о доступе задержанных к адвокатам и независимым врачам.\n\nМы будем писать, пока каждый задержанный не сможет с первого часа увидеть адвоката и независимого врача.',
      },
    },
  });
  return 1;
}

const DEMO_THRESHOLD_BATCH = '0d3e0000-0000-4000-8000-00000000d1b1';

/**
 * Answers owed by a date, on DEMO_DIGEST_ACTION: a threshold of 3 signatures, reached when the
 * demo signers confirmed (60 hours ago, or earlier: see below), with 1 day to answer (a demo cannot wait 30), and a
 * second one of 1,000 not reached yet. Every target was sent its formal request a minute
 * later; the UN Special Rapporteur's published answer came after it, so it answered; the EEAS only
 * acknowledged receipt, which stops no clock, so it is late with the two others. The signers who opted in
 * were told of the threshold (recorded as sent); the workers find the late ones on their first
 * look and email those signers (the demo mailbox shows it).
 */
async function seedDemoThresholds(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string; default_locale: string; locales: string[] }>(
      `SELECT a.id, a.default_locale, ARRAY(SELECT t.locale FROM action_texts t WHERE t.action_id = a.id) AS locales FROM actions a WHERE a.slug = $1 FOR UPDATE`,
      [DEMO_DIGEST_ACTION],
    );
    const action = rows[0];
    const exists = await client.query(`SELECT 1 FROM delivery_batches WHERE id = $1`, [DEMO_THRESHOLD_BATCH]);
    if (!action || exists.rows.length > 0) {
      await client.query('ROLLBACK');
      return 0;
    }
    // The UN's published answer (seedDemoDelivery) must come after the formal request to count as
    // its answer. It came five hours after the digest reached Geneva, and office hours move the
    // digest back over a weekend: on a Monday morning it went on the Thursday or Friday, before
    // "60 hours ago". So the threshold was reached 60 hours ago, or an hour before that answer.
    const answer = await client.query<{ received_at: Date }>(`SELECT received_at FROM answers WHERE id = $1`, [DEMO_ANSWER]);
    const sixtyHoursAgo = Date.now() - 60 * 3_600_000;
    const reachedAt = new Date(Math.min(sixtyHoursAgo, (answer.rows[0]?.received_at.getTime() ?? sixtyHoursAgo) - 3_600_000));
    const sentAt = new Date(reachedAt.getTime() + 60_000);
    await client.query(`UPDATE actions SET respond_within_days = 1 WHERE id = $1`, [action.id]);
    const threshold = await client.query<{ id: string }>(
      `INSERT INTO action_thresholds (action_id, count, reached_at, created_at) VALUES ($1, 3, $2, $2) RETURNING id`,
      [action.id, reachedAt],
    );
    await client.query(`INSERT INTO action_thresholds (action_id, count, created_at) VALUES ($1, 1000, $2)`, [action.id, reachedAt]);
    await client.query(
      `INSERT INTO delivery_batches (id, action_id, reason, signature_count, total_count, created_at) VALUES ($1, $2, 'threshold', 0, 3, $3)`,
      [DEMO_THRESHOLD_BATCH, action.id, reachedAt],
    );
    const { rows: targetRows } = await client.query<{ id: string; language: string }>(
      `SELECT t.id, t.language FROM action_targets at JOIN targets t ON t.id = at.target_id WHERE at.action_id = $1 ORDER BY at.position`,
      [action.id],
    );
    for (const [i, t] of targetRows.entries()) {
      const id = `0d3e0000-0000-4000-8000-0000000020${String(i).padStart(2, '0')}`;
      await client.query(
        `INSERT INTO letters (id, batch_id, target_id, status, signature_count, locale, message_id, attempts, next_attempt_at, submitting_at, sent_at, smtp_response, created_at)
         VALUES ($1, $2, $3, 'SENT', 0, $4, $5, 1, $6, $6, $6, '250 2.0.0 Ok: queued (demo)', $7)`,
        [id, DEMO_THRESHOLD_BATCH, t.id, action.locales.includes(t.language) ? t.language : action.default_locale, `<threshold.${id}@chorus.example.org>`, sentAt, reachedAt],
      );
      await client.query(`INSERT INTO threshold_requests (threshold_id, target_id, letter_id, created_at) VALUES ($1, $2, $3, $4)`, [threshold.rows[0]!.id, t.id, id, reachedAt]);
    }
    await client.query(
      `INSERT INTO member_notices (kind, subject_id, event, supporter_id, locale, requested_at, sent_at)
       SELECT 'threshold', $1, 'reached', s.supporter_id, s.locale, $2, $2 FROM signatures s JOIN consents c ON c.signature_id = s.id AND c.contact
       WHERE s.action_id = $3 AND s.status = 'CONFIRMED' ON CONFLICT DO NOTHING`,
      [threshold.rows[0]!.id, sentAt, action.id],
    );
    await client.query('COMMIT');
    return 2 + targetRows.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL must be set');
    process.exit(1);
  }
  seed(url).then(
    (r) => console.log(`seed: ${r.created} new rows (campaign, targets, actions, demo delivery and answers, demo admin)`),
    (err) => {
      console.error('seed failed:', err);
      process.exit(1);
    },
  );
}

// Seeds the demo campaign. Safe to run again: rows that exist (by slug) are left as they
// are, so staff edits to the demo survive a restart.
import { createDb } from '../server/src/db/db.ts';
import { createStaff } from '../server/src/staff/staff.service.ts';
import { actions, campaign, targets } from './seed-data.ts';

/** The demo admin (no two-step sign-in). Change its password on any shared machine. */
export const DEMO_ADMIN = { email: 'admin@chorus.example.org', name: 'Demo Admin', password: 'chorus-demo-admin' } as const;

export async function seed(databaseUrl: string): Promise<{ created: number }> {
  const db = createDb(databaseUrl, { max: 2, applicationName: 'chorus-seed' });
  const { prisma } = db;
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
          // demo deliveries go out as soon as the batcher sees a confirmation
          deliveryPolicy: 'IMMEDIATE',
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
              letterBody: t.letterBody ?? '',
              shareText: t.shareText ?? '',
            })),
          },
          targets: { create: a.targetSlugs.map((slug, position) => ({ targetId: targetIds.get(slug)!, position })) },
          stats: { create: { confirmedCount: 0 } },
        },
      });
    }

    if (!(await prisma.staffUser.findUnique({ where: { email: DEMO_ADMIN.email } }))) {
      // a seed running at the same time may have made it first (email_taken): that is fine
      const made = await createStaff({ pool: db.pool, clock: () => new Date() }, null, { ...DEMO_ADMIN, role: 'ADMIN' }).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'email_taken') return null;
        throw err;
      });
      if (made) created++;
    }
  } finally {
    await db.close();
  }
  return { created };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL must be set');
    process.exit(1);
  }
  seed(url).then(
    (r) => console.log(`seed: ${r.created} new rows (campaign, targets, actions, demo admin)`),
    (err) => {
      console.error('seed failed:', err);
      process.exit(1);
    },
  );
}

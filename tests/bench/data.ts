// Bench fixtures: actions with targets, and confirmed signatures in bulk, written with plain
// SQL (generate_series) because the point is to have them, not to measure writing them.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Db } from '../../server/src/db/db.ts';
import { prismaOn } from '../../server/src/db/prisma.ts';
import { ActionKind, ActionStatus, TargetMode, type DeliveryPolicy } from '../../server/src/generated/kysely/enums.ts';

const COUNTRIES = ['MX', 'PH', 'UZ', 'KZ', 'FR', 'ES', 'GB', 'DE', 'BR', 'KE', 'IN', 'US', 'RU', 'NG', 'AR', 'CA', 'IT', 'PL', 'ZA', 'JP'];

export interface BenchAction {
  id: string;
  slug: string;
}

/** One published action of the bench campaign, with `targets` officials each on their own mail domain. */
export async function createBenchAction(
  db: Db,
  opts: { name: string; targets?: number; policy?: DeliveryPolicy; everyN?: number; status?: ActionStatus },
): Promise<BenchAction> {
  const slug = `bench-${opts.name}-${randomUUID().slice(0, 6)}`;
  const campaign = await prismaOn(db.pool).campaign.upsert({
    where: { slug: 'bench' },
    update: {},
    create: { slug: 'bench', texts: { create: { locale: 'en', name: 'Benchmark campaign' } } },
  });
  const targetIds: string[] = [];
  for (let k = 0; k < (opts.targets ?? 1); k++) {
    const t = await prismaOn(db.pool).target.create({
      data: {
        slug: `${slug}-t${k}`.slice(0, 80),
        name: `Minister ${k + 1}`,
        title: 'Minister of Justice',
        organisation: `Ministry ${k + 1}`,
        kind: 'MINISTRY',
        country: COUNTRIES[k % COUNTRIES.length]!,
        // each official on its own domain, as officials are; "gov.example" marks letters in the sink
        email: `minister-${k}@ministry${k}.${slug}.gov.example`,
        language: 'en',
        salutation: 'Dear Minister',
        timezone: 'UTC',
      },
    });
    targetIds.push(t.id);
  }
  const action = await prismaOn(db.pool).action.create({
    data: {
      slug,
      kind: ActionKind.PETITION,
      status: opts.status ?? ActionStatus.PUBLISHED,
      signingEnabled: true,
      // the bench drives batching itself; other actions stay out of the batcher's way
      deliveryPolicy: opts.policy ?? 'ON_CLOSE',
      deliveryEveryN: opts.everyN ?? 1,
      targetMode: TargetMode.FIXED,
      goal: 1_000_000,
      publishedAt: new Date(),
      campaignId: campaign.id,
      texts: {
        create: {
          locale: 'en',
          title: `Benchmark: ${opts.name}`,
          summary: 'Urge the government to let the UN Special Rapporteur on torture visit the country.',
          body: 'Independent monitoring of places of detention prevents torture. '.repeat(20),
          letterSubject: 'Independent forensic services',
          officialRequest: 'We ask you to guarantee the independence of the forensic services that examine victims of torture. '.repeat(10),
        },
      },
      targets: { create: targetIds.map((targetId, position) => ({ targetId, position })) },
    },
  });
  return { id: action.id, slug };
}

/**
 * `n` confirmed signatures of new supporters on `actionId`, in chunks so no single statement
 * runs for long; a third consent to being named, one in ten wrote their own letter.
 * Marked as counted, as they would be by then (their confirmation emails are long gone: none is owed).
 */
export async function insertConfirmed(pool: pg.Pool, actionId: string, n: number, onChunk?: (done: number) => void): Promise<void> {
  const chunk = 50_000;
  const tag = randomUUID().slice(0, 8);
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(n, from + chunk);
    await pool.query(
      `WITH p AS (
         INSERT INTO supporters (canonical_email, email, first_name, last_name, country, locale)
         SELECT e, e, 'Signer' || g, 'Benchmark', ($4::text[])[1 + g % array_length($4::text[], 1)], 'en'
         FROM generate_series($1::int + 1, $2::int) g, LATERAL (SELECT 'bulk-' || $5 || '-' || g || '@signers.example.org' AS e) x
         RETURNING id, country
       )
       INSERT INTO signatures (action_id, supporter_id, country, locale, status, named_disclosure, public_wall,
                               letter_body, confirmed_at, counted_at)
       SELECT $3, p.id, p.country, 'en', 'CONFIRMED', random() < 0.33, false,
              CASE WHEN random() < 0.1 THEN 'I ask you to act on this: the families of victims deserve protection.' END,
              now() - interval '1 minute', now()
       FROM p`,
      [from, to, actionId, COUNTRIES, tag],
    );
    onChunk?.(to);
  }
  // the counts of these come from action_stats, as the counter would have folded them
  await pool.query(
    `INSERT INTO action_stats (action_id, confirmed_count, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (action_id) DO UPDATE SET confirmed_count = action_stats.confirmed_count + EXCLUDED.confirmed_count, updated_at = now()`,
    [actionId, n],
  );
}

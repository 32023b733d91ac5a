// Bench fixtures: actions with targets, and confirmed signatures in bulk, written with plain
// SQL (unnest of values sealed here) because the point is to have them, not to measure writing them.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Db } from '../../server/src/db/db.ts';
import { prismaOn } from '../../server/src/db/prisma.ts';
import { ActionKind, ActionStatus, TargetMode, type DeliveryPolicy } from '../../server/src/generated/kysely/enums.ts';
import { sealLetter } from '../../server/src/privacy/personal-data.ts';
import { newSealedReceipt, newSealedSupporter } from '../../server/src/privacy/sealed-rows.ts';

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

/** One chunk of bench signers, sealed as the signature writer seals them, as columns for unnest. */
function sealedSigners(tag: string, from: number, to: number) {
  const cols = {
    id: [] as string[],
    emailIndex: [] as string[],
    domainIndex: [] as string[],
    dataKey: [] as Buffer[],
    email: [] as Buffer[],
    name: [] as (Buffer | null)[],
    country: [] as string[],
    letter: [] as (Buffer | null)[],
    receiptLeaf: [] as Buffer[],
    receiptSealed: [] as Buffer[],
  };
  for (let g = from + 1; g <= to; g++) {
    // a data key of their own, the address and name sealed under it, the address's blind index
    const p = newSealedSupporter(`bulk-${tag}-${g}@signers.example.org`, `Signer${g}`, 'Benchmark');
    const receipt = newSealedReceipt(p.key, p.id);
    cols.id.push(p.id);
    cols.emailIndex.push(p.email_index);
    cols.domainIndex.push(p.email_domain_index);
    cols.dataKey.push(p.data_key);
    cols.email.push(p.email);
    cols.name.push(p.name);
    cols.country.push(COUNTRIES[g % COUNTRIES.length]!);
    // one in ten wrote their own letter (a body, the action's subject), sealed under their key
    cols.letter.push(Math.random() < 0.1 ? sealLetter(p.key, p.id, null, MEMBER_LETTER) : null);
    cols.receiptLeaf.push(receipt.receipt_leaf);
    cols.receiptSealed.push(receipt.receipt_sealed);
  }
  return cols;
}

const MEMBER_LETTER = 'I ask you to act on this: the families of victims deserve protection.';

/**
 * `n` confirmed signatures of new supporters on `actionId`, in chunks so no single statement
 * runs for long; a third consent to being named, one in ten wrote their own letter.
 * Marked as counted, as they would be by then (their confirmation emails are long gone: none is owed).
 *
 * Stored as the platform stores them: each supporter with a data key of their own, the address
 * and name sealed under it and found by its blind index; each signature with its letter and
 * receipt sealed (a confirmed sign-up's name has moved to the supporter). The sealing is done
 * here, in bulk (about 90 µs a signer); the next chunk is sealed while PostgreSQL writes the last.
 */
export async function insertConfirmed(pool: pg.Pool, actionId: string, n: number, onChunk?: (done: number) => void): Promise<void> {
  const chunk = 10_000;
  const tag = randomUUID().slice(0, 8);
  let writing: Promise<unknown> | null = null;
  let written = 0;
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(n, from + chunk);
    const c = sealedSigners(tag, from, to);
    if (writing) {
      await writing;
      onChunk?.(written);
    }
    writing = pool.query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::bytea[], $5::bytea[], $6::bytea[], $7::text[], $8::bytea[], $9::bytea[], $10::bytea[])
           AS t(id, email_index, domain_index, data_key, email, name, country, letter, receipt_leaf, receipt_sealed)
       ),
       p AS (
         INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, name, country, locale)
         SELECT id, email_index, domain_index, data_key, email, name, country, 'en' FROM input
         RETURNING id
       )
       INSERT INTO signatures (action_id, supporter_id, country, locale, status, named_disclosure, public_wall,
                               letter, receipt_leaf, receipt_sealed, confirmed_at, counted_at)
       SELECT $11, i.id, i.country, 'en', 'CONFIRMED', random() < 0.33, false,
              i.letter, i.receipt_leaf, i.receipt_sealed, now() - interval '1 minute', now()
       FROM p JOIN input i ON i.id = p.id`,
      [c.id, c.emailIndex, c.domainIndex, c.dataKey, c.email, c.name, c.country, c.letter, c.receiptLeaf, c.receiptSealed, actionId],
    );
    written = to;
  }
  if (writing) {
    await writing;
    onChunk?.(written);
  }
  // the counts of these come from action_stats, as the counter would have folded them
  await pool.query(
    `INSERT INTO action_stats (action_id, confirmed_count, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (action_id) DO UPDATE SET confirmed_count = action_stats.confirmed_count + EXCLUDED.confirmed_count, updated_at = now()`,
    [actionId, n],
  );
}

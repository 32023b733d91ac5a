// Durable writes of new signatures, batched: requests arriving within a few milliseconds
// share one transaction of multi-row statements, and each caller is answered after COMMIT.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';

export interface NewSignature {
  actionId: string;
  email: string;
  canonicalEmail: string;
  firstName: string;
  lastName: string;
  country: string;
  locale: string;
  namedDisclosure: boolean;
  namedToOwnCountry: boolean;
  publicWall: boolean;
  contact: boolean;
  letterSubject: string | null;
  letterBody: string | null;
  ipHash: string | null;
  /** the same keyed hash of the address's /24 or /64 network (shared/tokens.ts hashNetwork) */
  netHash: string | null;
  source: string | null;
  /** honeypot filled or over a rate limit: stored, but invalidated at once so it never counts */
  suspicious: boolean;
  /** why (honeypot, rate_limit_ip, rate_limit_email); defaults to honeypot */
  invalidReason?: string | null;
}

export interface WrittenSignature {
  signatureId: string;
  requestedAt: Date;
  created: boolean;
}

export const CONSENT_WORDING_VERSION = 'sign-2026-11';

/** Writes one batch; results are in the order of `items`. */
export async function writeSignatures(pool: pg.Pool, items: NewSignature[]): Promise<WrittenSignature[]> {
  return inTransaction(pool, async (client) => {
    // 1. supporters, one row per canonical email, in a fixed order so concurrent batches
    //    lock rows in the same order and cannot deadlock.
    const byEmail = new Map<string, NewSignature>();
    for (const it of items) if (!byEmail.has(it.canonicalEmail)) byEmail.set(it.canonicalEmail, it);
    const supporters = [...byEmail.values()].sort((a, b) => (a.canonicalEmail < b.canonicalEmail ? -1 : 1));
    const sup = await client.query<{ id: string; canonical_email: string }>(
      `INSERT INTO supporters (canonical_email, email, first_name, last_name, country, locale)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::char(2)[], $6::varchar[])
       ON CONFLICT (canonical_email) DO UPDATE
         SET email = COALESCE(supporters.email, EXCLUDED.email),
             first_name = COALESCE(supporters.first_name, EXCLUDED.first_name),
             last_name = COALESCE(supporters.last_name, EXCLUDED.last_name),
             country = COALESCE(supporters.country, EXCLUDED.country),
             erased_at = NULL
       RETURNING id, canonical_email`,
      [
        supporters.map((s) => s.canonicalEmail),
        supporters.map((s) => s.email),
        supporters.map((s) => s.firstName),
        supporters.map((s) => s.lastName),
        supporters.map((s) => s.country),
        supporters.map((s) => s.locale),
      ],
    );
    const supporterId = new Map(sup.rows.map((r) => [r.canonical_email, r.id]));

    // 2. signatures, one per (action, supporter). A repeat sign keeps the first signature
    //    and only asks for a fresh confirmation email.
    const key = (it: NewSignature) => `${it.actionId}|${supporterId.get(it.canonicalEmail)}`;
    // a clean submission wins over a flagged one of the same person in the same batch
    const firstByKey = new Map<string, NewSignature>();
    for (const it of items) {
      const seen = firstByKey.get(key(it));
      if (!seen || (seen.suspicious && !it.suspicious)) firstByKey.set(key(it), it);
    }
    const sigs = [...firstByKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, it]) => it);
    const res = await client.query<{ id: string; action_id: string; supporter_id: string; requested_at: Date; created: boolean }>(
      `INSERT INTO signatures (action_id, supporter_id, country, locale, named_disclosure, public_wall,
                               letter_subject, letter_body, ip_hash, source, named_to_own_country,
                               status, invalidated_at, invalid_reason, net_hash)
       SELECT a, s, c, l, n, w, ls, lb, ip, src, own,
              CASE WHEN sus THEN 'INVALIDATED'::"SignatureStatus" ELSE 'PENDING'::"SignatureStatus" END,
              CASE WHEN sus THEN now() END,
              CASE WHEN sus THEN COALESCE(why, 'honeypot') END,
              net
       FROM unnest($1::uuid[], $2::uuid[], $3::char(2)[], $4::varchar[], $5::bool[], $6::bool[],
                   $7::varchar[], $8::text[], $9::varchar[], $10::varchar[], $11::bool[], $12::bool[], $13::varchar[],
                   $14::varchar[])
            AS t(a, s, c, l, n, w, ls, lb, ip, src, sus, own, why, net)
       -- a repeat asks for a fresh confirmation email, unless the repeat itself was flagged
       ON CONFLICT (action_id, supporter_id) DO UPDATE
         SET confirmation_requested_at = CASE WHEN EXCLUDED.status = 'INVALIDATED' THEN signatures.confirmation_requested_at ELSE now() END
       RETURNING id, action_id, supporter_id, confirmation_requested_at AS requested_at, (xmax = 0) AS created`,
      [
        sigs.map((s) => s.actionId),
        sigs.map((s) => supporterId.get(s.canonicalEmail)),
        sigs.map((s) => s.country),
        sigs.map((s) => s.locale),
        sigs.map((s) => s.namedDisclosure),
        sigs.map((s) => s.publicWall),
        sigs.map((s) => s.letterSubject),
        sigs.map((s) => s.letterBody),
        sigs.map((s) => s.ipHash),
        sigs.map((s) => s.source),
        sigs.map((s) => s.suspicious),
        sigs.map((s) => s.namedToOwnCountry),
        sigs.map((s) => (s.suspicious ? (s.invalidReason ?? 'honeypot') : null)),
        sigs.map((s) => s.netHash),
      ],
    );
    const written = new Map(res.rows.map((r) => [`${r.action_id}|${r.supporter_id}`, r]));

    // 3. consent records for new signatures: one row per purpose, given or not, with the wording.
    const consentRows: { supporter: string; signature: string; purpose: string; granted: boolean }[] = [];
    for (const it of sigs) {
      const row = written.get(key(it))!;
      if (!row.created) continue;
      const supporter = supporterId.get(it.canonicalEmail)!;
      consentRows.push(
        { supporter, signature: row.id, purpose: 'COUNT', granted: true },
        { supporter, signature: row.id, purpose: 'NAMED_DISCLOSURE', granted: it.namedDisclosure },
        { supporter, signature: row.id, purpose: 'NAMED_TO_OWN_COUNTRY', granted: it.namedToOwnCountry },
        { supporter, signature: row.id, purpose: 'PUBLIC_WALL', granted: it.publicWall },
        { supporter, signature: row.id, purpose: 'CONTACT', granted: it.contact },
      );
    }
    if (consentRows.length > 0) {
      await client.query(
        `INSERT INTO consents (supporter_id, signature_id, purpose, granted, wording_version)
         SELECT s, g, p::"ConsentPurpose", ok, $5 FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[]) AS t(s, g, p, ok)`,
        [
          consentRows.map((c) => c.supporter),
          consentRows.map((c) => c.signature),
          consentRows.map((c) => c.purpose),
          consentRows.map((c) => c.granted),
          CONSENT_WORDING_VERSION,
        ],
      );
    }

    return items.map((it) => {
      const row = written.get(key(it))!;
      // a second copy inside the same batch is a repeat, like one arriving later
      const created = row.created && firstByKey.get(key(it)) === it;
      return { signatureId: row.id, requestedAt: row.requested_at, created };
    });
  });
}

/**
 * Gathers concurrent writes for up to `maxWaitMs` (or `maxBatch` items) and commits them
 * together. If a batch fails (say, one row breaks a constraint), each item is retried alone
 * so one bad row cannot fail the others.
 */
export class SignatureWriter {
  private queue: { item: NewSignature; at: number; resolve: (r: WrittenSignature) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  /** when the oldest item of each batch being committed arrived */
  private inFlightSince = new Set<{ at: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: { maxBatch: number; maxWaitMs: number; maxQueued: number } = { maxBatch: 256, maxWaitMs: 4, maxQueued: 20_000 },
  ) {}

  /** How many signatures are waiting or being written: the server sheds load above maxQueued. */
  get backlog(): number {
    return this.queue.length + this.inFlight;
  }

  get full(): boolean {
    return this.backlog >= this.opts.maxQueued;
  }

  /**
   * How long the oldest signature not yet answered has been waiting, in ms (0 when none).
   * A new signature would wait at least this long: the load shedder's signal that
   * PostgreSQL is not keeping up.
   */
  oldestWaitMs(now = performance.now()): number {
    let oldest = this.queue[0]?.at ?? Infinity;
    for (const b of this.inFlightSince) oldest = Math.min(oldest, b.at);
    return oldest === Infinity ? 0 : now - oldest;
  }

  write(item: NewSignature): Promise<WrittenSignature> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      const since = { at: batch[0]!.at };
      this.inFlight += batch.length;
      this.inFlightSince.add(since);
      // the batch stops counting as waiting before its callers are answered
      void this.commit(batch, () => this.inFlightSince.delete(since)).finally(() => {
        this.inFlight -= batch.length;
        this.inFlightSince.delete(since);
      });
    }
  }

  private async commit(batch: typeof this.queue, settled: () => void = () => {}): Promise<void> {
    try {
      const results = await writeSignatures(this.pool, batch.map((b) => b.item));
      settled();
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) {
        settled();
        batch[0]!.reject(err);
        return;
      }
      await Promise.all(batch.map((b) => this.commit([b])));
    }
  }
}

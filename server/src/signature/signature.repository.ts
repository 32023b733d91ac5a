// Durable writes of new signatures, batched: requests arriving within a few milliseconds
// share one statement (its own transaction), and each caller is answered after it commits.
import type pg from 'pg';

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

/**
 * Writes one batch in a single statement (its own transaction: no BEGIN or COMMIT round trips).
 * Results are in the order of `items`.
 * - supporters: one row per canonical email, inserted in a fixed order so that concurrent
 *   batches lock rows in the same order and cannot deadlock;
 * - signatures: one per (action, supporter). A repeat sign keeps the first signature and only
 *   asks for a fresh confirmation email (unless the repeat itself was flagged);
 * - consents: for new signatures, one row per purpose, given or not, with the wording.
 */
export async function writeSignatures(pool: pg.Pool | pg.PoolClient, items: NewSignature[]): Promise<WrittenSignature[]> {
  // One row per (action, person) goes to PostgreSQL: ON CONFLICT cannot touch a row twice in
  // one statement. A clean submission wins over a flagged one of the same person in the batch.
  const key = (it: NewSignature) => `${it.actionId}|${it.canonicalEmail}`;
  const firstByKey = new Map<string, NewSignature>();
  for (const it of items) {
    const seen = firstByKey.get(key(it));
    if (!seen || (seen.suspicious && !it.suspicious)) firstByKey.set(key(it), it);
  }
  const rows = [...firstByKey.values()].sort((a, b) =>
    a.canonicalEmail < b.canonicalEmail ? -1 : a.canonicalEmail > b.canonicalEmail ? 1 : a.actionId < b.actionId ? -1 : a.actionId > b.actionId ? 1 : 0,
  );
  const res = await pool.query<{ id: string; action_id: string; canonical_email: string; requested_at: Date; created: boolean }>({
    // named: prepared once per connection (the plan of this statement costs more than a small batch's rows)
    name: 'signatures-write',
    text: `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::char(2)[], $7::varchar[],
                            $8::bool[], $9::bool[], $10::bool[], $11::bool[], $12::varchar[], $13::text[], $14::varchar[],
                            $15::varchar[], $16::varchar[], $17::bool[], $18::varchar[])
              WITH ORDINALITY AS t(a, ce, em, fn, ln, c, l, n, own, w, ct, ls, lb, ip, net, src, sus, why, ord)
     ),
     sup AS (
       INSERT INTO supporters (canonical_email, email, first_name, last_name, country, locale)
       SELECT DISTINCT ON (ce) ce, em, fn, ln, c, l FROM input ORDER BY ce, ord
       ON CONFLICT (canonical_email) DO UPDATE
         SET email = COALESCE(supporters.email, EXCLUDED.email),
             first_name = COALESCE(supporters.first_name, EXCLUDED.first_name),
             last_name = COALESCE(supporters.last_name, EXCLUDED.last_name),
             country = COALESCE(supporters.country, EXCLUDED.country),
             erased_at = NULL
       RETURNING id, canonical_email
     ),
     sig AS (
       INSERT INTO signatures (action_id, supporter_id, country, locale, named_disclosure, public_wall,
                               letter_subject, letter_body, ip_hash, source, named_to_own_country,
                               status, invalidated_at, invalid_reason, net_hash)
       SELECT i.a, sup.id, i.c, i.l, i.n, i.w, i.ls, i.lb, i.ip, i.src, i.own,
              CASE WHEN i.sus THEN 'INVALIDATED'::"SignatureStatus" ELSE 'PENDING'::"SignatureStatus" END,
              CASE WHEN i.sus THEN now() END,
              CASE WHEN i.sus THEN COALESCE(i.why, 'honeypot') END,
              i.net
       FROM input i JOIN sup ON sup.canonical_email = i.ce
       ORDER BY i.ord
       ON CONFLICT (action_id, supporter_id) DO UPDATE
         SET confirmation_requested_at = CASE WHEN EXCLUDED.status = 'INVALIDATED' THEN signatures.confirmation_requested_at ELSE now() END
       RETURNING id, action_id, supporter_id, confirmation_requested_at AS requested_at, (xmax = 0) AS created
     ),
     written AS (
       SELECT sig.*, sup.canonical_email FROM sig JOIN sup ON sup.id = sig.supporter_id
     ),
     consented AS (
       INSERT INTO consents (supporter_id, signature_id, purpose, granted, wording_version)
       SELECT w.supporter_id, w.id, p.purpose::"ConsentPurpose", p.granted, $19
       FROM written w
       JOIN input i ON i.a = w.action_id AND i.ce = w.canonical_email
       CROSS JOIN LATERAL (VALUES ('COUNT', true), ('NAMED_DISCLOSURE', i.n), ('NAMED_TO_OWN_COUNTRY', i.own),
                                  ('PUBLIC_WALL', i.w), ('CONTACT', i.ct)) AS p(purpose, granted)
       WHERE w.created
     )
     SELECT id, action_id, canonical_email, requested_at, created FROM written`,
    values: [
      rows.map((r) => r.actionId),
      rows.map((r) => r.canonicalEmail),
      rows.map((r) => r.email),
      rows.map((r) => r.firstName),
      rows.map((r) => r.lastName),
      rows.map((r) => r.country),
      rows.map((r) => r.locale),
      rows.map((r) => r.namedDisclosure),
      rows.map((r) => r.namedToOwnCountry),
      rows.map((r) => r.publicWall),
      rows.map((r) => r.contact),
      rows.map((r) => r.letterSubject),
      rows.map((r) => r.letterBody),
      rows.map((r) => r.ipHash),
      rows.map((r) => r.netHash),
      rows.map((r) => r.source),
      rows.map((r) => r.suspicious),
      rows.map((r) => (r.suspicious ? (r.invalidReason ?? 'honeypot') : null)),
      CONSENT_WORDING_VERSION,
    ],
  });
  const written = new Map(res.rows.map((r) => [`${r.action_id}|${r.canonical_email}`, r]));
  return items.map((it) => {
    const row = written.get(key(it));
    if (!row) throw new Error('a signature of the batch was not written');
    // a second copy inside the same batch is a repeat, like one arriving later
    const created = row.created && firstByKey.get(key(it)) === it;
    return { signatureId: row.id, requestedAt: row.requested_at, created };
  });
}

/**
 * Gathers concurrent writes and commits them together, as a database's group commit does:
 * while fewer than `maxInFlight` batches are being committed, what arrived in the current turn
 * of the event loop is written at once (or after `maxWaitMs`, when set); while they are busy,
 * new signatures gather into the next batch, which goes as soon as one finishes. So a lone
 * signer waits for no timer, and a spike makes batches as large as the database's pace needs
 * (up to `maxBatch`). If a batch fails (say, one row breaks a constraint), each item is retried
 * alone so one bad row cannot fail the others.
 */
export class SignatureWriter {
  private queue: { item: NewSignature; at: number; resolve: (r: WrittenSignature) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private inFlight = 0;
  private batchesInFlight = 0;
  /** statements written so far (each a batch): for tests and the bench's notes */
  batchesWritten = 0;
  /** when the oldest item of each batch being committed arrived */
  private inFlightSince = new Set<{ at: number }>();
  private readonly opts: WriterOptions;

  constructor(
    private readonly pool: pg.Pool,
    opts: Partial<WriterOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WRITER, ...opts };
  }

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
      this.schedule();
    });
  }

  private schedule(): void {
    // every committing slot is busy: the first batch to finish takes what has gathered
    if (this.batchesInFlight >= this.opts.maxInFlight) return;
    if (this.queue.length >= this.opts.maxBatch) return this.flush();
    if (this.timer || this.immediate) return;
    if (this.opts.maxWaitMs > 0) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    while (this.queue.length > 0 && this.batchesInFlight < this.opts.maxInFlight) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      const since = { at: batch[0]!.at };
      this.inFlight += batch.length;
      this.batchesInFlight++;
      this.inFlightSince.add(since);
      // the batch stops counting as waiting before its callers are answered
      void this.commit(batch, () => this.inFlightSince.delete(since)).finally(() => {
        this.inFlight -= batch.length;
        this.batchesInFlight--;
        this.inFlightSince.delete(since);
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async commit(batch: typeof this.queue, settled: () => void = () => {}): Promise<void> {
    try {
      const results = await writeSignatures(this.pool, batch.map((b) => b.item));
      this.batchesWritten++;
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

export interface WriterOptions {
  /** most signatures in one statement */
  maxBatch: number;
  /** 0: write what arrived in the current turn of the event loop; more: wait this long for company */
  maxWaitMs: number;
  /** batches being committed at once; further signatures gather into the next */
  maxInFlight: number;
  /** signatures waiting or being written above which `full` is true */
  maxQueued: number;
}

export const DEFAULT_WRITER: WriterOptions = { maxBatch: 256, maxWaitMs: 0, maxInFlight: 2, maxQueued: 20_000 };
